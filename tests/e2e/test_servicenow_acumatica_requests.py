"""The return path on a real broker: a procurement request approved in ServiceNow becomes
one Acumatica purchase order, and resetting the sink group to earliest creates nothing new."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.offsets import group_stopped, reset_group
from tests.e2e.test_reconcile import reconcile

pytestmark = pytest.mark.kafka

MASTERS = ["vendor", "gl_account", "cost_center", "purchase_order"]
SMALL = {"vendor_count": 6, "purchase_order_count": 2, "bill_count": 0, "check_count": 0}
BACK = {"servicenow-acumatica": {"source": "sn", "target": "acu", "entities": ["purchase_order"]}}


def _sn(p: Any, table: str, **values: str) -> dict[str, str]:
    r = p.sn.post(f"/_sim/tables/{table}", json=values)
    assert r.status_code in (200, 201), r.text
    return dict(r.json()["result"])


def _acu(p: Any, path: str) -> Any:
    with httpx.Client(base_url=p.box.acu_url, timeout=30) as acu:
        return acu.get(path).json()


def _orders_for(p: Any, number: str) -> list[dict[str, Any]]:
    return [o for o in _acu(p, "/_sim/entities/PurchaseOrder")["value"] if o["VendorRef"] == number]


def _writes(p: Any) -> int:
    return sum(c["count"] for c in _acu(p, "/_sim/calls")["calls"] if c["method"] == "PUT")


def _request(p: Any, number: str, approval: str) -> None:
    """A request for one line of gypsum board, as a buyer leaves it in ServiceNow."""
    supplier = next(
        s for s in p.sn_rows("sn_fin_supplier") if s["u_erp_vendor_number"] == "V000003"
    )
    account = next(a for a in p.sn_rows("sn_fin_gl_account") if a["account_number"] == "61000")
    center = next(c for c in p.sn_rows("cmn_cost_center") if c["code"] == "200000")
    order = _sn(p, "sn_shop_purchase_order", number=number, supplier=supplier["sys_id"],
                approval=approval, state="approved", currency="USD", total_amount="25.00",
                order_date="2026-11-02", cost_center=center["sys_id"])  # fmt: skip
    _sn(p, "sn_shop_purchase_order_line", purchase_order=order["sys_id"], line_number="1",
        quantity="2", unit_price="12.50", total_amount="25.00", gl_account=account["sys_id"],
        cost_center=center["sys_id"], description="Gypsum board")  # fmt: skip


def _lag(p: Any) -> int:
    from ml_connector.kafka.admin import group_lag

    t = p.topics
    return group_lag(p.box.bootstrap, t.sink_group("acu"), [t.sink("acu", "purchase_order")]) + (
        group_lag(p.box.bootstrap, t.processor_app(), [t.change("sn", "purchase_order")])
    )


def test_an_approved_request_becomes_one_order_even_after_a_reset_to_earliest(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(bc_flow=False, poll_interval=1.0, acumatica_entities=MASTERS,
                         acu_options=SMALL, sn_purchase_orders=0, sn_invoices=0,
                         extra_flows=BACK)  # fmt: skip
    p.wait("the masters in ServiceNow", lambda: any(
        s["u_erp_vendor_number"] == "V000003" for s in p.sn_rows("sn_fin_supplier")) and any(
        c["code"] == "200000" for c in p.sn_rows("cmn_cost_center")) and any(
        a["account_number"] == "61000" for a in p.sn_rows("sn_fin_gl_account")))  # fmt: skip
    _request(p, "PO0090001", "approved")
    _request(p, "PO0090002", "requested")  # not approved: stays in ServiceNow
    p.wait("the request created in Acumatica", lambda: len(_orders_for(p, "PO0090001")) == 1)
    [order] = _orders_for(p, "PO0090001")
    assert order["VendorID"] == "V000003" and order["OrderTotal"] == 25.0
    assert [(d["Account"], d["Subaccount"]) for d in order["Details"]] == [("61000", "200000")]
    # The order Acumatica now holds goes to ServiceNow like every Acumatica order; the
    # request it came from is not read again as a new one.
    p.wait(
        "the Acumatica order in ServiceNow",
        lambda: any(
            o.get("u_erp_number") == order["OrderNbr"] for o in p.sn_rows("sn_shop_purchase_order")
        ),
    )
    p.wait("the pipeline idle", lambda: _lag(p) == 0)
    writes = _writes(p)

    group = p.topics.sink_group("acu")
    p.supervisor.hold("sinks")
    p.wait("the Acumatica sink group to empty", lambda: group_stopped(p.box.bootstrap, group))
    moved = reset_group(p.box.bootstrap, group, to_earliest=True)
    assert sum(m.replayed for m in moved if m.topic == p.topics.sink("acu", "purchase_order")) >= 1
    p.supervisor.release("sinks")
    p.wait("the replay consumed", lambda: _lag(p) == 0)

    assert len(_orders_for(p, "PO0090001")) == 1 and not _orders_for(p, "PO0090002")
    assert _writes(p) == writes  # looked up, found, nothing written
    assert p.dlq_size("acu") == 0
    # Both directions reconcile: the approved request against the order it became.
    for flow in ("servicenow-acumatica", "acumatica-servicenow"):
        clean = reconcile(p, flow)
        assert clean.exit_code == 0 and "no differences" in clean.output, clean.output
