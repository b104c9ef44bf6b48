"""Acumatica -> ServiceNow Source-to-Pay on a real broker, against both simulators: vendors,
GL accounts, subaccounts, purchase orders and bills with lines, and payments land in the
staging tables, masters before the documents naming them, each record once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.test_reconcile import differences, reconcile

pytestmark = pytest.mark.kafka

ENTITIES = ["vendor", "gl_account", "cost_center", "purchase_order", "purchase_invoice",
            "payment"]  # fmt: skip
SMALL = {"vendor_count": 12, "purchase_order_count": 6, "bill_count": 8, "check_count": 4}


def _acu(p: Any) -> httpx.Client:
    return httpx.Client(base_url=p.box.acu_url, timeout=30)


def _acu_rows(p: Any, entity: str) -> list[dict[str, Any]]:
    with _acu(p) as acu:
        return list(acu.get(f"/_sim/entities/{entity}").json()["value"])


def _by_erp_number(p: Any, table: str, column: str = "u_erp_number") -> Counter[str]:
    return Counter(r[column] for r in p.sn_rows(table) if r.get(column))


def _everything_landed(p: Any) -> bool:
    orders = {o["OrderNbr"] for o in _acu_rows(p, "PurchaseOrder")}
    bills = {b["ReferenceNbr"] for b in _acu_rows(p, "Bill")}
    paid = {c["ReferenceNbr"] for c in _acu_rows(p, "Check")}
    invoices = p.sn_rows("sn_shop_invoice")
    return (
        set(_by_erp_number(p, "sn_shop_purchase_order")) >= orders
        and set(_by_erp_number(p, "sn_shop_invoice")) >= bills
        and {i["payment_reference"] for i in invoices} >= paid
    )


def _stages(p: Any, entity: str, record_id: str) -> list[str]:
    return [r.stage for r in p.audit_trail(record_id, entity, source="acu")]


def test_masters_land_first_then_every_document_once(pipeline_factory: Callable[..., Any]) -> None:
    p = pipeline_factory(run=False, bc_flow=False, poll_interval=1.0, acumatica_entities=ENTITIES,
                         acu_options=SMALL, sn_purchase_orders=0, sn_invoices=0)  # fmt: skip
    # The sinks start late: until ServiceNow holds the masters, every document must wait.
    p.supervisor.hold("sinks")
    p.supervisor.start()
    bill = next(b for b in _acu_rows(p, "Bill") if b["ReferenceNbr"] == "000001")
    p.wait("a bill parked on its masters", lambda: "parked" in _stages(p, "purchase_invoice",
                                                                       bill["id"]))  # fmt: skip
    assert not _by_erp_number(p, "sn_shop_invoice")
    p.supervisor.release("sinks")
    p.wait("every Acumatica record in ServiceNow", lambda: _everything_landed(p))

    # Masters first: every document line resolved to an account and cost center ServiceNow
    # held (the transform refuses a line naming one it lacks), none dead-lettered.
    stages = _stages(p, "purchase_invoice", bill["id"])
    assert stages.index("parked") < stages.index("released") < stages.index("written")
    accounts = {a["account_number"]: a["sys_id"] for a in p.sn_rows("sn_fin_gl_account")}
    centers = {c["code"]: c["sys_id"] for c in p.sn_rows("cmn_cost_center")}
    invoice = next(i for i in p.sn_rows("sn_shop_invoice") if i["u_erp_number"] == "000001")
    lines = [r for r in p.sn_rows("sn_shop_invoice_line") if r["invoice"] == invoice["sys_id"]]
    assert len(lines) == len(bill["Details"])
    for line, detail in zip(sorted(lines, key=lambda r: int(r["line_number"])), bill["Details"],
                            strict=True):  # fmt: skip
        assert line["gl_account"] == accounts[detail["Account"]]
        assert line["cost_center"] == centers[detail["Subaccount"]]
    suppliers = {s["u_erp_vendor_number"] for s in p.sn_rows("sn_fin_supplier")}
    assert {v["VendorID"] for v in _acu_rows(p, "Vendor")} <= suppliers
    p.wait("the pipeline idle", lambda: _settled(p))
    assert p.dlq_size("sn") == 0
    # Each record once: coalescing on the Acumatica reference, overlap re-reads change nothing.
    for table in ("sn_shop_purchase_order", "sn_shop_invoice"):
        assert set(_by_erp_number(p, table).values()) == {1}
    assert set(Counter(v["u_vendor_number"] for v in p.sn_rows("core_company")
                       if v.get("u_vendor_number")).values()) == {1}  # fmt: skip
    # Payments land on the bill they pay.
    check = _acu_rows(p, "Check")[0]
    paid = next(i for i in p.sn_rows("sn_shop_invoice")
                if i["u_erp_number"] == check["Details"][0]["ReferenceNbr"])  # fmt: skip
    assert paid["payment_reference"] in {c["ReferenceNbr"] for c in _acu_rows(p, "Check")}


def _settled(p: Any) -> bool:
    from ml_connector.kafka.admin import group_lag

    t = p.topics
    change = [t.change("acu", e) for e in ENTITIES]
    sink = [t.sink("sn", e) for e in ENTITIES]
    return (group_lag(p.box.bootstrap, t.processor_app(), change)
            + group_lag(p.box.bootstrap, t.sink_group("sn"), sink)) == 0  # fmt: skip


def test_a_bill_edited_in_acumatica_updates_the_same_servicenow_row(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(bc_flow=False, poll_interval=1.0, acumatica_entities=ENTITIES,
                         acu_options=SMALL, sn_purchase_orders=0, sn_invoices=0)  # fmt: skip
    p.wait("every Acumatica record in ServiceNow", lambda: _everything_landed(p))
    bill = next(b for b in _acu_rows(p, "Bill") if b["ReferenceNbr"] == "000002")
    before = next(i for i in p.sn_rows("sn_shop_invoice") if i["u_erp_number"] == "000002")

    with _acu(p) as acu:
        r = acu.patch(f"/_sim/entities/Bill/{bill['id']}", json={"VendorRef": "INV-EDITED"})
        assert r.status_code == 200, r.text
    p.wait("the edit in ServiceNow", lambda: any(
        i["invoice_number"] == "INV-EDITED" for i in p.sn_rows("sn_shop_invoice")))  # fmt: skip
    rows = [i for i in p.sn_rows("sn_shop_invoice") if i["u_erp_number"] == "000002"]
    assert [r["sys_id"] for r in rows] == [before["sys_id"]]
    assert int(rows[0]["sys_mod_count"]) > int(before["sys_mod_count"])
    lines = [r for r in p.sn_rows("sn_shop_invoice_line") if r["invoice"] == before["sys_id"]]
    assert len(lines) == len(bill["Details"])
    assert p.dlq_size("sn") == 0

    # Reconciliation agrees on every entity, then names exactly a hand edit in ServiceNow.
    p.wait("the pipeline idle", lambda: _settled(p))
    clean = reconcile(p, "acumatica-servicenow")
    assert clean.exit_code == 0 and "no differences" in clean.output, clean.output
    p.supervisor.hold("producers")  # so the pipeline does not mend it while we look
    r = p.sn.patch(f"/_sim/tables/sn_shop_invoice/{before['sys_id']}",
                   json={"total_amount": "1.00"})  # fmt: skip
    assert r.status_code == 200, r.text
    found = reconcile(p, "acumatica-servicenow")
    assert found.exit_code == 1
    assert differences(found.output) == [
        f"different purchase_invoice 000002: total_including_tax: source "
        f"'{format(Decimal(str(bill['Amount'])).normalize(), 'f')}' target '1.00'"]  # fmt: skip
