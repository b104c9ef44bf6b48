"""ServiceNow purchase orders and approved AP invoices into Business Central, end to end.

Both flows run (vendors BC -> ServiceNow beside documents ServiceNow -> BC), as worker
processes on a real broker against the simulators. Documents are counted in BC by the
ServiceNow number they carry: ``vendorInvoiceNumber`` of invoices, ``number`` of orders.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from app.dlq import DeadFilter, DeadLetters
from app.offsets import group_stopped, reset_group
from ml_connector.kafka.admin import group_lag
from ml_connector.state import StateStore

pytestmark = pytest.mark.kafka

ENTITIES = ["purchase_order", "purchase_invoice"]
FLOWS = {"servicenow-bc": {"source": "sn", "target": "bc", "entities": ENTITIES}}
ORDERS, INVOICES = 12, 24


def _start(pipeline_factory: Callable[..., Any], **options: Any) -> Any:
    # 100 vendors cover the ERP numbers the ServiceNow suppliers carry (V00010 ... V00100).
    return pipeline_factory(vendors=100, poll_interval=1.0, extra_flows=FLOWS,
                            sn_purchase_orders=ORDERS, sn_invoices=INVOICES, **options)  # fmt: skip


def _bc_writes(p: Any) -> int:
    """Writes the BC sink made (the BC producer only reads), alone or inside ``$batch``
    requests (which carry look-ups too: the operations inside are counted, not the batch)."""
    calls = p.bc.get("/_sim/calls").json()["calls"]
    operations = p.bc.get("/_sim/batch-operations").json()["operations"]
    return sum(c["count"] for c in [*calls, *operations] if c["method"] != "GET"
               and not any(s in (c["route"] or "") for s in ("oauth2", "$batch")))  # fmt: skip


def _polls(p: Any) -> int:
    state = StateStore(p.box.bootstrap, p.topics.state)
    return min(int((state.load(f"cursor|sn|{e}") or {}).get("totals", {}).get("polls", 0))
               for e in ENTITIES)  # fmt: skip


def _lag(p: Any) -> int:
    t, bootstrap = p.topics, p.box.bootstrap
    change = [t.change("sn", e) for e in ENTITIES]
    sink = [t.sink("bc", e) for e in ENTITIES]
    return group_lag(bootstrap, t.processor_app(), change) + group_lag(
        bootstrap, t.sink_group("bc"), sink
    )


def _settle(p: Any, polls: int = 2) -> None:
    target = _polls(p) + polls
    p.wait(f"{polls} more ServiceNow polls and no lag",
           lambda: _polls(p) >= target and _lag(p) == 0)  # fmt: skip


def _dead(p: Any) -> list[Any]:
    t = p.topics
    dlq = DeadLetters(p.box.bootstrap, t.dlq("bc"), t.state, "bc")
    return list(dlq.records(DeadFilter(include_replayed=True)))


def _add_invoice_on_unknown_account(p: Any) -> dict[str, str]:
    """An approved invoice whose line is charged to G/L account 99999, which BC lacks."""
    supplier = p.sn_rows("sn_fin_supplier")[0]
    account = p.sn.post(
        "/_sim/tables/sn_fin_gl_account", json={"account_number": "99999", "name": "Not in BC"}
    ).json()["result"]
    invoice = p.sn.post("/_sim/tables/sn_shop_invoice", json={
        "number": "APINV0099999", "invoice_number": "INV-BAD", "supplier": supplier["sys_id"],
        "state": "approved", "approval": "approved", "currency": "USD", "total_amount": "10.00",
    }).json()["result"]  # fmt: skip
    p.sn.post("/_sim/tables/sn_shop_invoice_line", json={
        "invoice": invoice["sys_id"], "line_number": "1", "quantity": "1", "unit_price": "10.00",
        "total_amount": "10.00", "gl_account": account["sys_id"], "description": "bad line",
    })  # fmt: skip
    return dict(invoice)


def test_approved_invoices_post_once_orders_arrive_once_unknown_accounts_dead_letter(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = _start(pipeline_factory, run=False)
    poison = _add_invoice_on_unknown_account(p)
    p.supervisor.start()
    invoices = [i for i in p.sn_rows("sn_shop_invoice") if i["sys_id"] != poison["sys_id"]]
    approved = {i["number"] for i in invoices if i["approval"] == "approved"}
    waiting = [i for i in invoices if i["approval"] != "approved"]
    assert approved and waiting, "the seed should hold both approved and unapproved invoices"
    orders = p.sn_approved("sn_shop_purchase_order")
    drafts = {o["number"] for o in p.sn_rows("sn_shop_purchase_order")} - orders
    assert orders and drafts, "the seed should hold both approved and unapproved orders"

    # 1. Every approved invoice is posted once; every order arrives once.
    p.wait("approved invoices posted and orders created",
           lambda: set(p.posted_invoices()) >= approved
           and orders <= {o["number"] for o in p.bc_rows("purchaseOrders")})  # fmt: skip
    _settle(p)
    posted = p.posted_invoices()
    assert {n: posted[n] for n in approved} == dict.fromkeys(approved, 1)
    bc_invoices = Counter(i["vendorInvoiceNumber"] for i in p.bc_rows("purchaseInvoices"))
    assert not {i["number"] for i in waiting} & set(bc_invoices)  # unapproved: never sent
    assert bc_invoices[poison["number"]] == 0
    bc_orders = Counter(o["number"] for o in p.bc_rows("purchaseOrders"))
    assert {n: bc_orders[n] for n in orders} == dict.fromkeys(orders, 1)
    assert not drafts & set(bc_orders)  # unapproved: never sent
    _check_mapping(p)

    # 2. The invoice on an unknown account is dead, with the reason, and nothing else is.
    dead = _dead(p)
    assert [(d.key, d.error_class) for d in dead] == [(poison["sys_id"], "NotFound")]
    assert "G/L account '99999'" in dead[0].error

    # 3. Approving an invoice in ServiceNow posts it in BC, once.
    late = waiting[0]
    r = p.sn.patch(f"/_sim/tables/sn_shop_invoice/{late['sys_id']}", json={"approval": "approved"})
    assert r.status_code == 200, r.text
    p.wait("the newly approved invoice posted", lambda: p.posted_invoices()[late["number"]] == 1)
    _settle(p)
    assert p.posted_invoices()[late["number"]] == 1
    assert len(_dead(p)) == 1


def _check_mapping(p: Any) -> None:
    """One order and one invoice field by field: vendor, cost center, lines, amounts."""
    suppliers = {s["sys_id"]: s["u_erp_vendor_number"] for s in p.sn_rows("sn_fin_supplier")}
    centers = {c["sys_id"]: c["code"] for c in p.sn_rows("cmn_cost_center")}
    accounts = {a["sys_id"]: a["account_number"] for a in p.sn_rows("sn_fin_gl_account")}
    for table, line_table, parent, entity_set, key, price in (
        ("sn_shop_purchase_order", "sn_shop_purchase_order_line", "purchase_order",
         "purchaseOrders", "number", "directUnitCost"),
        ("sn_shop_invoice", "sn_shop_invoice_line", "invoice", "purchaseInvoices",
         "vendorInvoiceNumber", "unitCost"),
    ):  # fmt: skip
        held = {d[key]: d for d in p.bc_rows(entity_set)}
        sn_doc = next(d for d in p.sn_rows(table) if d["number"] in held)
        bc_doc = held[sn_doc["number"]]
        assert bc_doc["vendorNumber"] == suppliers[sn_doc["supplier"]]
        assert bc_doc["shortcutDimension2Code"] == centers[sn_doc["cost_center"]]
        assert bc_doc["totalAmountExcludingTax"] == pytest.approx(float(sn_doc["total_amount"]))
        sn_lines = sorted((x for x in p.sn_rows(line_table) if x[parent] == sn_doc["sys_id"]),
                          key=lambda x: int(x["line_number"]))  # fmt: skip
        bc_lines = sorted(
            (x for x in p.bc_rows(f"{entity_set[:-1]}Lines") if x["documentId"] == bc_doc["id"]),
            key=lambda x: x["sequence"],
        )
        got = [(x["lineType"], x["lineObjectNumber"], x["quantity"], x[price]) for x in bc_lines]
        assert got == [
            ("Account", accounts[x["gl_account"]], float(x["quantity"]), float(x["unit_price"]))
            for x in sn_lines
        ]


def test_resetting_the_bc_sink_group_replays_without_creating_or_posting_anything(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = _start(pipeline_factory)
    approved = p.sn_approved("sn_shop_invoice")
    p.wait("approved invoices posted", lambda: set(p.posted_invoices()) >= approved)
    orders = p.sn_approved("sn_shop_purchase_order")
    p.wait("orders created", lambda: orders <= {o["number"] for o in p.bc_rows("purchaseOrders")})
    _settle(p)
    before = {s: p.bc_rows(s) for s in ("purchaseInvoices", "purchaseOrders",
                                     "purchaseInvoiceLines", "purchaseOrderLines")}  # fmt: skip
    writes = _bc_writes(p)
    group = p.topics.sink_group("bc")

    p.supervisor.hold("sinks")
    p.wait("the BC sink group to empty", lambda: group_stopped(p.box.bootstrap, group))
    moved = reset_group(p.box.bootstrap, group, to_earliest=True)
    sink_topics = {p.topics.sink("bc", e) for e in ENTITIES}
    replayed = sum(m.replayed for m in moved if m.topic in sink_topics)
    assert replayed >= len(orders) + len(approved)
    p.supervisor.release("sinks")
    p.wait("the replay to be consumed", lambda: _lag(p) == 0)
    _settle(p)

    assert _bc_writes(p) == writes  # no create, no patch, no post
    after = {s: p.bc_rows(s) for s in before}
    assert after == before  # same documents, same etags and timestamps
    assert _dead(p) == []
