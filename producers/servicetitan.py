"""ServiceTitan as a source: tenant resources read by ``modifiedOnOrAfter``, oldest first.

Page numbers shift when a record changes mid-read; the poll's overlap covers that (export
feeds, where a resource has one, are the gap-free alternative).

Business units are ServiceTitan's cost-center dimension: each becomes a canonical cost center
whose code is what the flow maps it to (``mappings.cost_centers``, keyed by the business
unit's id or name), or else a code learned from its name (``business_unit_code``). Invoices
carry that same code on every line, so the revenue they post is coded to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from ml_connector.clients.servicetitan import ServiceTitanClient
from ml_connector.config import FlowConfig
from ml_connector.connections.servicetitan import ServiceTitanConnection
from ml_connector.secrets import SecretStore
from ml_connector.streams import CursorField, read
from ml_connector.streams.dialects import SERVICETITAN_QUERY
from ml_connector.streams.literals import iso_utc
from ml_connector.streams.styles import PAGE_NUMBERS
from ml_connector.xref import fold
from producers.events import day, money, text
from producers.hint import Hint
from producers.source import StreamSource
from producers.stream import Mapper, Stream

SYSTEM = "servicetitan"
CURSOR = CursorField("modifiedOn", iso_utc)
# The dimension business units are values of, for subscribers of the cost center topic.
BUSINESS_UNIT = "BUSINESSUNIT"
# What an invoice's sales tax is charged to: ServiceTitan computes the tax and names no
# account for it, so the flow maps this code to the ERP's tax liability account
# (``mappings.accounts``); without a mapping the target refuses the invoice, naming it.
SALES_TAX = "SALES-TAX"
# Invoices in a posted batch are final: what accounting takes (Pending ones may still change).
FINALIZED = "Posted,Exported"
CODE_LENGTH = 20  # BC Code[20]: dimension value codes
BusinessUnitCode = Callable[[Mapping[str, Any]], str]


def business_unit_code(unit: Mapping[str, Any], mapped: Mapping[str, str]) -> str:
    """The cost center code of a business unit (``{id, name}``): the one configured for its
    id, name or learned code, else the learned code: its name upper-cased with every run of
    other characters as one ``-``, cut to 20 ("HVAC - Service" -> HVAC-SERVICE)."""
    name = str(unit.get("name") or unit.get("id") or "")
    learned = re.sub(r"[^A-Z0-9]+", "-", name.upper()).strip("-")[:CODE_LENGTH].rstrip("-")
    learned = learned or f"BU{unit.get('id')}"
    for key in (str(unit.get("id") or ""), name, learned):
        if key and (found := mapped.get(fold(key))):
            return found
    return learned


def vendor(r: dict[str, Any]) -> dict[str, Any]:
    address = r.get("address") or {}
    return {
        "number": str(r["id"]),  # inventory vendors have no number of their own
        "name": r.get("name") or str(r["id"]),
        "address_line1": text(address.get("street")),
        "address_line2": text(address.get("unit")),
        "city": text(address.get("city")),
        "state": text(address.get("state")),
        "postal_code": text(address.get("zip")),
        "country": text(address.get("country")),
        "phone": None,
        "email": None,
        "tax_id": None,
        "currency": None,
        "payment_terms": None,
        "blocked": not r.get("active", True),
        "balance": None,
    }


def customer(r: dict[str, Any]) -> dict[str, Any]:
    address = r.get("address") or {}
    return {
        "number": str(r["id"]),  # ServiceTitan customers are known by id alone
        "name": r.get("name") or str(r["id"]),
        "email": None,  # kept on the customer's contacts, not the customer
        "phone": None,
        "address_line1": text(address.get("street")),
        "city": text(address.get("city")),
        "state": text(address.get("state")),
        "postal_code": text(address.get("zip")),
        "country": text(address.get("country")),
        "currency": None,
        "blocked": not r.get("active", True),
        "balance": money(r.get("balance")),
        "credit_limit": None,
    }


def cost_center(r: dict[str, Any], *, code_of: BusinessUnitCode) -> dict[str, Any]:
    return {
        "code": code_of(r),
        "name": r.get("name") or str(r["id"]),
        "dimension": BUSINESS_UNIT,
        "blocked": not r.get("active", True),
    }


def _invoice_line(n: int, item: dict[str, Any], center: str) -> dict[str, Any]:
    """An invoice item as a G/L account line: SKUs are ServiceTitan's pricebook, while the
    revenue account its pricebook names is what accounting books (mapped to the ERP's)."""
    account = item.get("generalLedgerAccount") or {}
    return {
        "line_number": n,
        "line_type": "account",
        "item_number": None,
        "account_number": text(account.get("number") or account.get("name")),
        "description": text(item.get("description") or item.get("skuName")),
        "quantity": money(item.get("quantity")),
        "unit_price": money(item.get("price")),
        "cost_center": center,
        "amount": money(item.get("total")),
    }


def sales_invoice(r: dict[str, Any], *, code_of: BusinessUnitCode) -> dict[str, Any]:
    center = code_of(r.get("businessUnit") or {})
    lines = [_invoice_line(n, item, center) for n, item in enumerate(r.get("items") or [], 1)]
    tax = money(r.get("salesTax"))
    if tax:
        lines.append({"line_number": len(lines) + 1, "line_type": "account",
                      "item_number": None, "account_number": SALES_TAX,
                      "description": "Sales tax", "quantity": money(1), "unit_price": tax,
                      "cost_center": center, "amount": tax})  # fmt: skip
    return {
        "number": str(r["id"]),  # the id payments name it by, and what dedupes it
        "external_document_number": text(r.get("referenceNumber")),
        "customer_number": str((r.get("customer") or {}).get("id") or ""),
        "invoice_date": day(r.get("invoiceDate")),
        "due_date": day(r.get("dueDate")),
        "currency": None,
        "status": text(r.get("syncStatus")),
        "remaining_amount": money(r.get("balance")),
        "total_excluding_tax": money(r.get("subTotal")),
        "total_including_tax": money(r.get("total")),
        "lines": lines,
    }


def payment(r: dict[str, Any]) -> dict[str, Any]:
    """A customer payment and the invoice it applies to (its first split: the ERP applies a
    journal line to one invoice)."""
    applied = [a for a in r.get("appliedTo") or [] if a.get("appliedTo")]
    return {
        "number": str(r["id"]),
        "customer_number": text((r.get("customer") or {}).get("id")),
        "vendor_number": None,
        "posting_date": day(r.get("date")),
        "amount": money(r.get("total")),
        "currency": None,
        "applies_to_invoice_number": str(applied[0]["appliedTo"]) if applied else None,
        "external_document_number": text(r.get("referenceNumber")),
        "applies_to_bill_number": None,
    }


def purchase_invoice(r: dict[str, Any], *, code_of: BusinessUnitCode) -> dict[str, Any]:
    """An AP bill: read only (ServiceTitan makes them from received purchase orders)."""
    center = code_of(r.get("businessUnit") or {})
    lines = [
        {"line_number": n, "line_type": "item", "item_number": text(i.get("skuCode")),
         "account_number": None, "description": text(i.get("description")),
         "quantity": money(i.get("quantity")), "unit_cost": money(i.get("cost")),
         "cost_center": center, "amount": money(i.get("total"))}
        for n, i in enumerate(r.get("items") or [], 1)
    ]  # fmt: skip
    return {
        "number": str(r["id"]),
        "vendor_invoice_number": text(r.get("referenceNumber")),
        "vendor_number": str((r.get("vendor") or {}).get("id") or ""),
        "vendor_ref": None,
        "order_number": text(r.get("purchaseOrderId")),
        "invoice_date": day(r.get("billDate")),
        "posting_date": day(r.get("billDate")),
        "due_date": day(r.get("dueDate")),
        "currency": None,
        "status": text(r.get("syncStatus")),
        "cost_center": center,
        "total_excluding_tax": money(r.get("billAmount")),
        "total_including_tax": money(r.get("billAmount")),
        "lines": lines,
    }


def st_stream(entity: str, path: str, to_canonical: Mapper, **params: str) -> Stream:
    """A tenant resource read by modifiedOn; ``active=any``: a record made inactive is a
    change to read, not one to lose sight of."""
    return Stream(entity=entity, path=path, to_canonical=to_canonical,
                  dialect=SERVICETITAN_QUERY, paging=PAGE_NUMBERS, cursor=CURSOR,
                  params={"active": "any", **params})  # fmt: skip


def streams(code_of: BusinessUnitCode) -> dict[str, Stream]:
    return {
        "vendor": st_stream("vendor", "vendors", vendor),
        "customer": st_stream("customer", "customers", customer),
        "cost_center": st_stream("cost_center", "business-units",
                                 partial(cost_center, code_of=code_of)),
        "sales_invoice": st_stream("sales_invoice", "invoices",
                                   partial(sales_invoice, code_of=code_of), statuses=FINALIZED),
        "payment": st_stream("payment", "payments", payment),
        "purchase_invoice": st_stream("purchase_invoice", "bills",
                                      partial(purchase_invoice, code_of=code_of)),
    }  # fmt: skip


# Webhook event prefixes (``invoice.updated``) -> the resource they name.
NOTIFIED = {"invoices": "sales_invoice", "payments": "payment", "customers": "customer",
            "business-units": "cost_center"}  # fmt: skip
ENTITIES = tuple(streams(lambda unit: ""))


class ServiceTitanSource(StreamSource):
    def __init__(self, client: ServiceTitanClient, code_of: BusinessUnitCode) -> None:
        super().__init__(SYSTEM, client, streams(code_of), self._tenant)
        self.st = client

    async def _tenant(self) -> str:
        return str(self.st.connection.tenant_id)

    def entity_for(self, hint: Hint) -> str | None:
        return NOTIFIED.get(hint.entity_set)

    async def records_for(self, hint: Hint) -> tuple[str | None, list[dict[str, Any]]]:
        """A webhook names a record: read it back by id, with the stream's own narrowing (an
        invoice not finalized yet reads as nothing), so what moves is what ServiceTitan
        holds now, not what the delivery carried."""
        entity = self.entity_for(hint)
        if entity is None or not (hint.record_id or "").isdigit():
            return entity, []
        found = read(self.st, self.streams[entity], where=f"ids={hint.record_id}")
        return entity, [r async for page in found for r in page]


def source(
    connection: ServiceTitanConnection, flow: FlowConfig, secrets: SecretStore
) -> ServiceTitanSource:
    mapped = {fold(k): v for k, v in flow.mappings.cost_centers.items()}
    return ServiceTitanSource(
        ServiceTitanClient(connection, secrets), partial(business_unit_code, mapped=mapped)
    )
