"""ERP documents written whole into ServiceNow: purchase orders and AP invoices with their
lines, and payment details onto the invoice they pay, through the Import Set API.

Generic over the ERP: any source whose documents are canonical lands here. Every staging row
carries the ERP number in the column its transform map coalesces on (header) or in the
header reference of a line (with its line number), so re-reading a document updates the rows
it wrote before instead of adding new ones, the only upsert ServiceNow has. The header goes
first: its lines find it by that number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ml_connector.api.errors import RetryableError
from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.connections.servicenow import DocumentTable
from sinks.servicenow_imports import Plan
from sinks.servicenow_values import quoted
from sinks.servicenow_values import servicenow_string as _string

Row = dict[str, str]


def _order(doc: Mapping[str, Any]) -> Row:
    return {
        "u_po_number": _string(doc["number"]),
        "u_vendor_number": _string(doc.get("vendor_number")),
        "u_order_date": _string(doc.get("order_date")),
        "u_currency": _string(doc.get("currency")),
        "u_total": _string(doc.get("total_excluding_tax")),
        "u_status": _string(doc.get("status")),
        "u_cost_center": _string(doc.get("cost_center")),
        "u_description": "",
    }


def _invoice(doc: Mapping[str, Any]) -> Row:
    total, net = doc.get("total_including_tax"), doc.get("total_excluding_tax")
    tax = total - net if total is not None and net is not None else None
    return {
        "u_erp_number": _string(doc["number"]),
        # The invoice number is mandatory in ServiceNow; a bill without the vendor's own
        # reference is known by the ERP's.
        "u_invoice_number": _string(doc.get("vendor_invoice_number") or doc["number"]),
        "u_vendor_number": _string(doc.get("vendor_number")),
        "u_invoice_date": _string(doc.get("invoice_date")),
        "u_due_date": _string(doc.get("due_date")),
        "u_currency": _string(doc.get("currency")),
        "u_total": _string(total if total is not None else net),
        "u_tax": _string(tax),
        "u_po_number": _string(doc.get("order_number")),
        "u_cost_center": _string(doc.get("cost_center")),
    }


def _line(parent_column: str) -> Callable[[Mapping[str, Any], Mapping[str, Any]], Row]:
    def render(doc: Mapping[str, Any], line: Mapping[str, Any]) -> Row:
        return {
            parent_column: _string(doc["number"]),
            "u_line_number": _string(line["line_number"]),
            "u_description": _string(line.get("description") or line.get("item_number")),
            "u_quantity": _string(line.get("quantity")),
            "u_unit_price": _string(line.get("unit_cost")),
            "u_total": _string(line.get("amount")),
            "u_gl_account": _string(line.get("account_number")),
            # A line without a cost center of its own is charged to the document's.
            "u_cost_center": _string(line.get("cost_center") or doc.get("cost_center")),
        }

    return render


def _payment(doc: Mapping[str, Any], invoice: Mapping[str, str]) -> Row:
    """What a payment says about the invoice it pays: its reference, date, amount, status."""
    amount = doc.get("amount") or Decimal(0)
    owed = invoice.get("total_amount") or ""
    paid = bool(owed) and amount >= Decimal(owed)
    return {
        "u_number": invoice["number"],
        "u_erp_number": _string(doc.get("applies_to_bill_number")),
        "u_payment_status": "paid" if paid else "partially paid",
        "u_paid_amount": _string(amount),
        "u_payment_date": _string(doc.get("posting_date")),
        "u_payment_reference": _string(doc["number"]),
    }


@dataclass(frozen=True)
class Kind:
    header: Callable[[Mapping[str, Any]], Row]
    line: Callable[[Mapping[str, Any], Mapping[str, Any]], Row] | None = None


KINDS: Mapping[str, Kind] = {
    "purchase_order": Kind(_order, _line("u_po_number")),
    "purchase_invoice": Kind(_invoice, _line("u_erp_number")),
}
ENTITIES = (*KINDS, "payment")


# What reconciliation compares: target column (dot-walked where the value sits on a
# referenced record) -> canonical field, per document written whole.
TARGET_FIELDS: Mapping[str, Mapping[str, str]] = {
    "purchase_order": {"supplier.u_erp_vendor_number": "vendor_number",
                       "total_amount": "total_excluding_tax", "currency": "currency"},
    "purchase_invoice": {"supplier.u_erp_vendor_number": "vendor_number",
                         "total_amount": "total_including_tax", "currency": "currency"},
    "payment": {"u_erp_number": "applies_to_bill_number", "paid_amount": "amount"},
}  # fmt: skip


def renamed(row: Row, names: Mapping[str, str]) -> Row:
    """The row with the instance's column names where they differ from the defaults."""
    return {names.get(column, column): value for column, value in row.items()}


def header_columns(entity: str) -> frozenset[str]:
    """The header columns rendered for ``entity``: what a field override may rename or drop."""
    if entity == "payment":
        return frozenset(_payment({"number": ""}, {"number": ""}))
    return frozenset(KINDS[entity].header({"number": ""})) if entity in KINDS else frozenset()


class DocumentWriter:
    """Plans one document: header, then lines; an error in any row refuses the document
    (a re-send rewrites all of it, coalescing, so nothing is duplicated)."""

    def __init__(self, client: ServiceNowClient, tables: Mapping[str, DocumentTable]) -> None:
        self.client = client
        self.tables = tables

    def header(self, entity: str, doc: Mapping[str, Any]) -> Row:
        table = self.tables[entity]
        return renamed(KINDS[entity].header(doc), table.columns)

    async def payment_row(self, doc: Mapping[str, Any]) -> Row:
        """The payment detail row, naming the ServiceNow invoice of the ERP invoice it pays.

        Until that invoice has reached ServiceNow there is nothing to put the payment on:
        retried through the tiers, as the invoice is on its way through the same flow.
        """
        number = doc.get("applies_to_bill_number")
        if not number:
            return {}
        invoices = self.tables["purchase_invoice"]
        found = await self.client.table(
            invoices.target, query=f"{invoices.target_key}={quoted(str(number))}",
            fields=["number", "total_amount"], limit=1,
        )  # fmt: skip
        if not found:
            raise RetryableError(
                f"payment {doc['number']}: ServiceNow has no invoice {number} yet "
                f"({invoices.target}.{invoices.target_key})"
            )
        invoice = {k: str(v) for k, v in found[0].items()}
        return renamed(_payment(doc, invoice), self.tables["payment"].columns)

    def plan(self, entity: str, doc: Mapping[str, Any], header: Row) -> Plan:
        table = self.tables[entity]
        what = f"{entity} {doc['number']}"
        kind = KINDS.get(entity)
        if kind is None or kind.line is None or table.line_staging is None:
            return Plan(table.staging, header, what)
        render = kind.line
        lines = tuple(
            (str(line["line_number"]), renamed(render(doc, line), table.line_columns))
            for line in doc.get("lines") or []
        )
        return Plan(table.staging, header, what, table.line_staging, lines)
