"""ServiceNow documents mapped to the canonical model, and which tables a connection reads."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import fastavro
import pytest

import schemas
from ml_connector.connections.servicenow import ServiceNowConnection, SourceTable
from producers.events import SourceInfo, envelope, parse_timestamp
from producers.servicenow import LINES, PROC_PO, SN_SHOP_INVOICE, SN_SHOP_ORDER, Plan

SN: dict[str, Any] = {
    "system": "servicenow",
    "instance_url": "https://dev.service-now.com",
    "auth": {"kind": "servicenow", "username": "u", "password": {"secret": "sn"}},
}


def _line(n: str, account: str, cost_center: str = "CC200", **extra: str) -> dict[str, str]:
    return {"sys_id": f"l{n}", "line_number": n, "gl_account.account_number": account,
            "description": f"line {n}", "quantity": "3", "unit_price": "204.84",
            "total_amount": "614.52", "cost_center.code": cost_center, **extra}  # fmt: skip


INVOICE = {
    "sys_id": "a" * 32, "sys_updated_on": "2024-01-02 16:20:00", "sys_mod_count": "2",
    "number": "APINV0000002", "invoice_number": "INV-74586",
    "supplier.u_erp_vendor_number": "V00090", "supplier": "f" * 32,
    "purchase_order.number": "SPO0000001",
    "invoice_date": "2024-02-01", "due_date": "2024-03-02 00:00:00", "currency": "USD",
    "state": "approved", "cost_center.code": "CC200", "total_amount": "1229.04",
    "tax_amount": "", LINES: [_line("2", "60200", cost_center=""), _line("1", "60100")],
}  # fmt: skip


def _canonical(plan: Plan, entity: str, row: dict[str, Any]) -> dict[str, Any]:
    return plan.stream(entity).to_canonical(row)


def test_an_invoice_keeps_the_servicenow_number_and_maps_every_reference() -> None:
    plan = Plan.of("purchase_invoice", SourceTable(table="sn_shop_invoice"))
    doc = _canonical(plan, "purchase_invoice", INVOICE)
    lines = doc.pop("lines")
    assert doc == {
        "number": "APINV0000002",  # the ServiceNow number; the sys_id is the event's native id
        "vendor_invoice_number": "INV-74586",
        "vendor_number": "V00090",  # the supplier's ERP vendor number, through the reference
        "vendor_ref": "f" * 32,  # the supplier itself, for the learned cross-reference
        "order_number": "SPO0000001",
        "invoice_date": date(2024, 2, 1),
        "posting_date": None,
        "due_date": date(2024, 3, 2),
        "currency": "USD",
        "status": "approved",
        "cost_center": "CC200",
        "total_excluding_tax": Decimal("1229.0400"),  # no tax stated: the total is net
        "total_including_tax": Decimal("1229.0400"),
    }
    assert [line["line_number"] for line in lines] == [1, 2]  # in line order
    assert lines[0] == {
        "line_number": 1, "line_type": "account", "item_number": None,
        "account_number": "60100", "description": "line 1", "quantity": Decimal("3.0000"),
        "unit_cost": Decimal("204.8400"), "cost_center": "CC200", "amount": Decimal("614.5200"),
    }  # fmt: skip
    assert lines[1]["cost_center"] == "CC200"  # a line without one is charged to the invoice's


def test_a_stated_tax_is_taken_out_of_the_net_total() -> None:
    plan = Plan.of("purchase_invoice", SourceTable(table="sn_shop_invoice"))
    doc = _canonical(plan, "purchase_invoice", {**INVOICE, "tax_amount": "29.04"})
    assert doc["total_excluding_tax"] == Decimal("1200.0000")
    assert doc["total_including_tax"] == Decimal("1229.0400")


def test_the_canonical_documents_fit_their_avro_schemas() -> None:
    invoice = Plan.of("purchase_invoice", SourceTable(table="sn_shop_invoice"))
    order = Plan.of("purchase_order", SourceTable(table="sn_shop_purchase_order"))
    po = {"sys_id": "b" * 32, "number": "SPO0000001", "supplier.u_erp_vendor_number": "V00020",
          "order_date": "2024-01-08", LINES: [_line("1", "60100")]}  # fmt: skip
    for entity, plan, row in (("purchase_invoice", invoice, INVOICE),
                              ("purchase_order", order, po)):  # fmt: skip
        info = SourceInfo("servicenow", "sn", "dev.service-now.com", entity)
        after = _canonical(plan, entity, row)
        event = envelope(info, native_id=row["sys_id"], after=after, op="r", native=row,
                         version="2", modified_at=None, seen_via="poll")  # fmt: skip
        assert fastavro.validate(event, fastavro.parse_schema(schemas.value_schema(entity)))


def test_missing_keys_map_to_empty_strings_for_the_sink_to_refuse() -> None:
    plan = Plan.of("purchase_order", SourceTable(table="sn_shop_purchase_order"))
    doc = _canonical(plan, "purchase_order", {"sys_id": "c" * 32, LINES: [{"sys_id": "x"}]})
    assert (doc["number"], doc["vendor_number"]) == ("", "")
    assert doc["lines"][0]["line_type"] is None and doc["lines"][0]["line_number"] == 1


def test_procurement_tables_bring_their_own_columns() -> None:
    plan = Plan.of("purchase_order", SourceTable(table="proc_po"))
    assert (plan.line_table, plan.line_parent) == ("proc_po_item", "purchase_order")
    row = {"sys_id": "d" * 32, "number": "PO0000001", "vendor.u_vendor_number": "V00010",
           "po_date": "2024-01-08", "cost_center.code": "CC100", "total_cost": "10",
           LINES: [{"u_line_number": "1", "u_gl_account.account_number": "60100",
                    "ordered_quantity": "2", "cost": "5"}]}  # fmt: skip
    doc = _canonical(plan, "purchase_order", row)
    assert (doc["vendor_number"], doc["order_date"]) == ("V00010", date(2024, 1, 8))
    line = doc["lines"][0]
    assert (line["account_number"], line["quantity"], line["unit_cost"]) == (
        "60100", Decimal("2.0000"), Decimal("5.0000"))  # fmt: skip
    assert line["cost_center"] == "CC100"


def test_the_connection_reads_approved_documents_only_unless_told_otherwise() -> None:
    default = ServiceNowConnection.model_validate(SN).source_tables
    assert default["purchase_invoice"].table == "sn_shop_invoice"
    assert default["purchase_invoice"].query == "approval=approved"
    assert default["purchase_order"].query == "approval=approved"
    # An override naming another table keeps the approval filter; query "" lifts it.
    apo = ServiceNowConnection.model_validate(
        {**SN, "source_tables": {"purchase_invoice": {"table": "sn_apo_invoice"}}}
    ).source_tables["purchase_invoice"]
    assert apo.query == "approval=approved"
    assert Plan.of("purchase_invoice", apo).line_table == SN_SHOP_INVOICE.line_table
    every = ServiceNowConnection.model_validate(
        {**SN, "source_tables": {"purchase_invoice": {"table": "sn_shop_invoice", "query": ""}}}
    ).source_tables["purchase_invoice"]
    assert every.query == ""


def test_column_overrides_replace_single_columns_and_unknown_tables_need_their_lines() -> None:
    conf = SourceTable(table="sn_shop_purchase_order", columns={"vendor_number": "u_vendor"})
    plan = Plan.of("purchase_order", conf)
    assert plan.header["vendor_number"] == "u_vendor"
    assert plan.header["number"] == SN_SHOP_ORDER.header["number"]
    assert "u_vendor" in plan.header_fields and "sys_updated_on" in plan.header_fields
    with pytest.raises(ValueError, match="give its line_table and line_parent"):
        Plan.of("purchase_order", SourceTable(table="u_my_orders"))
    custom = Plan.of("purchase_order", SourceTable(table="u_my_orders", line_table="u_my_lines",
                                                   line_parent="u_order"))  # fmt: skip
    assert custom.line == SN_SHOP_ORDER.line and PROC_PO.line != custom.line


def test_servicenow_timestamps_are_utc() -> None:
    assert parse_timestamp("2024-01-02 16:20:00") == datetime(2024, 1, 2, 16, 20, tzinfo=UTC)
    assert parse_timestamp("2024-01-02T16:20:00.123Z").tzinfo is not None
