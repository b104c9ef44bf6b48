"""Reference data first: documents wait for the masters they name, then post exactly once.

Both flows run on a real broker against the simulators: masters Business Central ->
ServiceNow (vendors, G/L accounts, cost centers) and documents ServiceNow -> Business Central.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.kafka

MASTERS = ["vendor", "gl_account", "cost_center"]
DOCUMENTS = ["purchase_order", "purchase_invoice"]


def _flows(**options: Any) -> dict[str, dict[str, Any]]:
    return {"servicenow-bc": {"source": "sn", "target": "bc", "entities": DOCUMENTS, **options}}


def _sn(p: Any, table: str, **values: str) -> dict[str, str]:
    r = p.sn.post(f"/_sim/tables/{table}", json=values)
    assert r.status_code in (200, 201), r.text
    return dict(r.json()["result"])


def _invoice(p: Any, number: str, supplier: str, center: str, account: str) -> dict[str, str]:
    """An approved AP invoice with one line, as a buyer would leave it in ServiceNow."""
    invoice = _sn(p, "sn_shop_invoice", number=number, invoice_number=f"INV-{number}",
                  supplier=supplier, cost_center=center, state="approved", approval="approved",
                  currency="USD", total_amount="120.00")  # fmt: skip
    _sn(p, "sn_shop_invoice_line", invoice=invoice["sys_id"], line_number="1", quantity="2",
        unit_price="60.00", total_amount="120.00", gl_account=account, cost_center=center,
        description=f"{number} line 1")  # fmt: skip
    return invoice


def _stages(p: Any, sys_id: str, entity: str = "purchase_invoice") -> list[str]:
    return [r.stage for r in p.audit_trail(sys_id, entity, source="sn")]


def test_documents_wait_for_their_masters_and_post_once_they_arrive(
    pipeline_factory: Callable[..., Any],
) -> None:
    # proc_po names its vendor by core_company sys_id only (no ERP number column here), so
    # an order can reach BC only through what the vendor sync learned about that supplier.
    p = pipeline_factory(
        run=False, vendors=100, poll_interval=1.0, entities=MASTERS, sn_purchase_orders=0,
        sn_invoices=6, sn_connection={"source_tables": {"purchase_order": {
            "table": "proc_po", "columns": {"vendor_number": ""}, "query": "approval=approved"}}},
        extra_flows=_flows(mappings={"cost_centers": {"FAC-NORTH": "CC300"}}),
    )  # fmt: skip
    account = next(a for a in p.sn_rows("sn_fin_gl_account") if a["account_number"] == "60100")
    center = next(c for c in p.sn_rows("cmn_cost_center") if c["code"] == "CC200")
    # 1. A supplier onboarded in ServiceNow before finance created its vendor in BC.
    late = _sn(p, "sn_fin_supplier", name="Late Supplies", u_erp_vendor_number="V99990")
    waits = _invoice(p, "APINV0090001", late["sys_id"], center["sys_id"], account["sys_id"])
    # 2. A cost center ServiceNow calls FAC-NORTH; the flow maps it to BC's CC300.
    north = _sn(p, "cmn_cost_center", code="FAC-NORTH", name="Facilities North")
    known = next(s for s in p.sn_rows("sn_fin_supplier") if s["u_erp_vendor_number"] == "V00010")
    mapped = _invoice(p, "APINV0090002", known["sys_id"], north["sys_id"], account["sys_id"])
    p.supervisor.start()

    seeded = p.sn_approved("sn_shop_invoice")
    seeded -= {waits["number"], mapped["number"]}
    p.wait("the seeded approved invoices and the mapped one posted",
           lambda: set(p.posted_invoices()) >= seeded | {mapped["number"]})  # fmt: skip
    bc_mapped = next(i for i in p.bc_rows("purchaseInvoices")
                     if i["vendorInvoiceNumber"] == mapped["number"])  # fmt: skip
    assert bc_mapped["shortcutDimension2Code"] == "CC300"
    assert bc_mapped["vendorNumber"] == "V00010"

    # The invoice for the vendor BC lacks waits: not written, not dead, parked on the vendor.
    p.wait("the late vendor's invoice parked", lambda: "parked" in _stages(p, waits["sys_id"]))
    assert waits["number"] not in Counter(
        i["vendorInvoiceNumber"] for i in p.bc_rows("purchaseInvoices")
    )
    assert p.dlq_size("bc") == 0
    # At first it waited for everything (no master had arrived); now for its vendor alone.
    parked = [r for r in p.audit_trail(waits["sys_id"], "purchase_invoice", source="sn")
              if r.stage == "parked"]  # fmt: skip
    p.wait("the invoice parked on its vendor alone", lambda: [
        r.detail["awaits"] for r in p.audit_trail(waits["sys_id"], "purchase_invoice", source="sn")
        if r.stage == "parked"][-1] == ["vendor 'V99990' (not yet seen in bc)"])  # fmt: skip
    assert parked

    # 3. Finance creates the vendor in BC: the master arrives, the invoice follows it.
    r = p.bc.post("/_sim/entities/vendors", json={"number": "V99990",
                                                   "displayName": "Late Supplies"})  # fmt: skip
    assert r.status_code in (200, 201), r.text
    p.wait("the late vendor's invoice posted", lambda: p.posted_invoices()[waits["number"]] == 1)
    assert "released" in _stages(p, waits["sys_id"])

    # 4. A purchase order naming a core_company supplier by sys_id alone: resolved through
    # the cross-reference the vendor sync learned when it wrote that supplier.
    p.wait("vendor V00020 synced to ServiceNow", lambda: "V00020" in p.sn_vendors())
    supplier = p.sn_vendors()["V00020"]
    order = _sn(p, "proc_po", number="PO0090001", vendor=supplier["sys_id"], status="ordered",
                approval="approved", po_date="2026-11-02", currency="USD", total_cost="90.00",
                cost_center=center["sys_id"])  # fmt: skip
    gl = next(a for a in p.sn_rows("itfm_gl_accounts") if a["account_number"] == "60200")
    _sn(p, "proc_po_item", purchase_order=order["sys_id"], u_line_number="1",
        ordered_quantity="3", cost="30.00", total_cost="90.00", u_gl_account=gl["sys_id"],
        short_description="learned vendor line")  # fmt: skip
    p.wait(
        "the order created in BC",
        lambda: any(o["number"] == "PO0090001" for o in p.bc_rows("purchaseOrders")),
    )
    bc_order = next(o for o in p.bc_rows("purchaseOrders") if o["number"] == "PO0090001")
    assert bc_order["vendorNumber"] == "V00020"

    p.settle()
    posted = p.posted_invoices()
    assert all(posted[n] == 1 for n in seeded | {waits["number"], mapped["number"]})
    assert p.dlq_size("bc") == 0


def test_a_cost_center_bc_never_gets_goes_to_the_dlq_naming_it_and_replays_after_the_fix(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(
        run=False, vendors=100, poll_interval=1.0, entities=MASTERS, sn_purchase_orders=0,
        sn_invoices=0, extra_flows=_flows(park_timeout=3.0),
    )  # fmt: skip
    account = next(a for a in p.sn_rows("sn_fin_gl_account") if a["account_number"] == "60100")
    supplier = next(s for s in p.sn_rows("sn_fin_supplier") if s["u_erp_vendor_number"])
    nowhere = _sn(p, "cmn_cost_center", code="CC999", name="Typo in ServiceNow")
    invoice = _invoice(p, "APINV0090003", supplier["sys_id"], nowhere["sys_id"], account["sys_id"])
    p.supervisor.start()

    p.wait("the invoice in the BC dead-letter topic", lambda: p.dlq_size("bc") == 1)
    listed = p.cli("dlq", "list", "bc")
    assert listed.exit_code == 0, listed.output
    assert "dimension value 'CC999'" in listed.output, listed.output
    assert p.posted_invoices()[invoice["number"]] == 0
    stages = _stages(p, invoice["sys_id"])
    assert stages.index("parked") < stages.index("released") < stages.index("dead")

    # The fix: BC gets the dimension value; the redriven invoice posts, once.
    dimension = next(d for d in p.bc_rows("dimensions") if d["code"] == "COSTCENTER")
    r = p.bc.post(
        "/_sim/entities/dimensionValues",
        json={"dimensionId": dimension["id"], "code": "CC999", "displayName": "Added by finance"},
    )
    assert r.status_code in (200, 201), r.text
    replayed = p.cli("dlq", "replay", "bc")
    assert replayed.exit_code == 0 and "redriven: 1" in replayed.output, replayed.output
    p.wait("the redriven invoice posted", lambda: p.posted_invoices()[invoice["number"]] == 1)
    assert "0 record(s)" in p.cli("dlq", "list", "bc").output
