"""Business Central purchase invoice notifications: what BC did with an invoice goes back to
the ServiceNow invoice it came from.

Three flows run on a real broker against the simulators: vendors and purchase invoices BC ->
ServiceNow, with BC's change notifications on and polling every 10 minutes (so within the
test only a notification can carry a BC change), and approved invoices ServiceNow -> BC,
polled every second.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from ml_connector.kafka.admin import group_lag
from ml_connector.state import StateStore

pytestmark = pytest.mark.kafka

INVOICES = 6
FLOWS = {"servicenow-bc": {"source": "sn", "target": "bc", "entities": ["purchase_invoice"],
                           "poll_interval": 1.0}}  # fmt: skip


def _subscribed(p: Any) -> list[str]:
    subs = p.bc.get("/_sim/subscriptions").json()["subscriptions"]
    return sorted(s["resource"].rsplit("/", 1)[-1] for s in subs)


def _statuses(p: Any) -> dict[str, tuple[str, str, str]]:
    """Approved ServiceNow invoices: (BC number, BC status, payment status) as ServiceNow
    shows them."""
    return {r["number"]: (r["u_erp_number"], r["u_erp_status"], r["payment_status"])
            for r in p.sn_rows("sn_shop_invoice") if r["approval"] == "approved"}  # fmt: skip


def _from_servicenow(p: Any) -> dict[str, dict[str, Any]]:
    """BC invoices by the ServiceNow number they were filed under."""
    approved = p.sn_approved("sn_shop_invoice")
    return {d["vendorInvoiceNumber"]: d for d in p.bc_rows("purchaseInvoices")
            if d["vendorInvoiceNumber"] in approved}  # fmt: skip


def _bc_writes(p: Any) -> int:
    calls = p.bc.get("/_sim/calls").json()["calls"]
    return sum(c["count"] for c in calls if c["method"] != "GET" and "oauth2" not in c["route"])


def _posted(p: Any) -> Counter[str]:
    """BC invoices past Draft, by the ServiceNow number they carry."""
    return Counter(d["vendorInvoiceNumber"] for d in p.bc_rows("purchaseInvoices")
                   if d["status"] in ("Open", "Paid"))  # fmt: skip


def _sn_polls(p: Any) -> int:
    state = StateStore(p.box.bootstrap, p.topics.state).load("cursor|sn|purchase_invoice") or {}
    return int(state.get("totals", {}).get("polls", 0))


def _sn_settled(p: Any, polls: int) -> None:
    """``polls`` more ServiceNow polls, and every group caught up on the invoices."""
    t, bootstrap, target = p.topics, p.box.bootstrap, _sn_polls(p) + polls

    def lag() -> int:
        return group_lag(bootstrap, t.processor_app(), [t.change("sn", "purchase_invoice")]) + (
            group_lag(bootstrap, t.sink_group("bc"), [t.sink("bc", "purchase_invoice")])
        )

    p.wait(f"{polls} more ServiceNow polls", lambda: _sn_polls(p) >= target and lag() == 0)


def test_posted_and_paid_in_bc_shows_on_the_servicenow_invoice(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(vendors=100, poll_interval=600.0, webhooks=True,
                         entities=["vendor", "purchase_invoice"], extra_flows=FLOWS,
                         sn_purchase_orders=0, sn_invoices=INVOICES,
                         bc_options={"notification_delay_seconds": 0.2})  # fmt: skip
    p.wait("subscriptions for vendors and purchase invoices",
           lambda: _subscribed(p) == ["purchaseInvoices", "vendors"])  # fmt: skip
    approved = p.sn_approved("sn_shop_invoice")
    assert approved, "the seed approves some invoices"
    native = {d["number"] for d in p.bc_rows("purchaseInvoices")}  # BC's own, from its seed

    # Created and posted in BC from ServiceNow; BC notifies; ServiceNow shows the posting.
    def posted_everywhere() -> bool:
        docs, shown = _from_servicenow(p), _statuses(p)
        return len(docs) == len(approved) and all(
            shown[n] == (d["number"], "Open", "unpaid") for n, d in docs.items()
        )

    p.wait("every approved invoice shown as posted in ServiceNow", posted_everywhere, 120)
    docs = _from_servicenow(p)
    assert _posted(p) & Counter(approved) == Counter(dict.fromkeys(approved, 1))
    some = next(iter(docs.values()))
    stages = [r.stage for r in p.audit_trail(some["id"], "purchase_invoice")]
    assert "received" in stages and "written" in stages  # it came by notification

    # A BC user records the payment: the notification carries it to ServiceNow.
    sn_number = next(iter(docs))
    r = p.bc.patch(f"/_sim/entities/purchaseInvoices/{docs[sn_number]['id']}",
                   json={"status": "Paid"})  # fmt: skip
    assert r.status_code == 200, r.text
    p.wait("the payment in ServiceNow", lambda: _statuses(p)[sn_number][1:] == ("Paid", "paid"))
    [held] = [r for r in p.sn_rows("sn_shop_invoice") if r["number"] == sn_number]
    assert held["paid_amount"] == f"{docs[sn_number]['totalAmountIncludingTax']:g}"

    # The status updates touched the ServiceNow invoices, which are read again: as nothing
    # ServiceNow sends to BC changed, they stop there, and BC is not written to.
    writes = _bc_writes(p)
    _sn_settled(p, polls=3)
    assert _bc_writes(p) == writes
    assert _posted(p) & Counter(approved) == Counter(dict.fromkeys(approved, 1))
    [sn_invoice] = [r for r in p.sn_rows("sn_shop_invoice") if r["number"] == sn_number]
    sn_stages = [r.stage for r in p.audit_trail(sn_invoice["sys_id"], "purchase_invoice", "sn")]
    assert sn_stages.count("routed") == 1 and "deduplicated" in sn_stages

    # BC's own invoices were read too, and left alone: nothing staged for them, none dead.
    own = next(d for d in p.bc_rows("purchaseInvoices") if d["number"] in native)
    written = [r for r in p.audit_trail(own["id"], "purchase_invoice") if r.stage == "written"]
    assert written and all(r.detail["status"] == "ignored" for r in written)
    assert "not sent by ServiceNow" in written[-1].detail["note"]
    staged = p.sn_rows("sn_spend_intg_imp_invoice_payment_detail")
    assert {s["u_number"] for s in staged} == set(docs)
    assert p.dlq_size("sn") == 0 and p.dlq_size("bc") == 0
