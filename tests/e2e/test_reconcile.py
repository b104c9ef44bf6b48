"""reconcile compares both systems entity by entity and names exactly what differs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app

pytestmark = pytest.mark.kafka


def reconcile(p: Any, flow: str = "bc-servicenow") -> Any:
    return CliRunner().invoke(
        app, ["reconcile", "-c", str(p.box.config_path), flow], env={"COLUMNS": "200"}
    )


def differences(output: str) -> list[str]:
    return [line for line in output.splitlines()
            if line.startswith(("missing", "different", "extra"))]  # fmt: skip


def test_reconcile_reports_nothing_after_a_sync_and_exactly_a_manual_edit(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(vendors=40, poll_interval=1.0,
                         entities=["vendor", "gl_account", "cost_center"])  # fmt: skip
    p.wait("all vendors in ServiceNow", lambda: len(p.sn_vendor_counts()) >= 40)
    p.settle()
    clean = reconcile(p)
    assert clean.exit_code == 0, clean.output
    assert "no differences" in clean.output

    # A hand edit in ServiceNow to one vendor, and one cost center deleted there.
    p.supervisor.hold("producers")  # so the pipeline does not mend them while we look
    vendor = p.bc_vendors()[7]
    row = p.sn_vendors()[vendor["number"]]
    assert p.sn.patch(f"/_sim/tables/core_company/{row['sys_id']}",
                      json={"city": "Springfield"}).status_code == 200  # fmt: skip
    centers = p.sn.get("/_sim/tables/cmn_cost_center").json()["result"]
    gone = next(c for c in centers if c.get("code"))
    assert p.sn.delete(f"/_sim/tables/cmn_cost_center/{gone['sys_id']}").status_code in (200, 204)

    found = reconcile(p)
    assert found.exit_code == 1
    assert differences(found.output) == [  # entity by entity, in the flow's order
        f"different vendor {vendor['number'].casefold()}: city: source {vendor['city']!r} "
        "target 'Springfield'",
        f"missing   cost_center {gone['code'].casefold()}: in the source, not in the target",
    ]


def test_reconcile_compares_documents_in_business_central(
    pipeline_factory: Callable[..., Any],
) -> None:
    documents = ["purchase_order", "purchase_invoice"]
    p = pipeline_factory(
        vendors=100, poll_interval=1.0, entities=["vendor", "gl_account", "cost_center"],
        extra_flows={"servicenow-bc": {"source": "sn", "target": "bc", "entities": documents}},
        sn_purchase_orders=10, sn_invoices=12,
    )  # fmt: skip

    def arrived() -> bool:
        in_bc = {o["number"] for o in p.bc_rows("purchaseOrders")}
        return orders <= in_bc and invoices <= set(p.posted_invoices())

    orders = p.sn_approved("sn_shop_purchase_order")
    invoices = p.sn_approved("sn_shop_invoice")
    p.wait("approved orders and invoices in BC, invoices posted", arrived)
    p.settle()
    clean = reconcile(p, "servicenow-bc")
    assert clean.exit_code == 0, clean.output
    assert "no differences" in clean.output

    # By hand in BC: one order deleted, one posted invoice's vendor changed.
    p.supervisor.hold("producers")
    order = next(o for o in p.bc_rows("purchaseOrders") if o["number"] in orders)
    assert p.bc.delete(f"/_sim/entities/purchaseOrders/{order['id']}").status_code in (200, 204)
    invoice = next(i for i in p.bc_rows("purchaseInvoices") if i["vendorInvoiceNumber"] in invoices)
    r = p.bc.patch(f"/_sim/entities/purchaseInvoices/{invoice['id']}",
                   json={"vendorNumber": "V99999"})  # fmt: skip
    assert r.status_code == 200, r.text
    found = reconcile(p, "servicenow-bc")
    assert found.exit_code == 1, found.output
    assert differences(found.output) == [
        f"missing   purchase_order {order['number'].casefold()}: in the source, not in the target",
        f"different purchase_invoice {invoice['vendorInvoiceNumber'].casefold()}: vendor_number: "
        f"source {invoice['vendorNumber']!r} target 'V99999'",
    ]
