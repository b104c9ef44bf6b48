"""Canonical documents rendered as Business Central API v2.0 bodies, and compared: purchase
documents (from ServiceNow) naming a vendor, sales invoices (from ServiceTitan) a customer.

Pure functions: the target resolves references first (vendor, G/L accounts, items) and hands
their ids in, so what a document turns into can be tested without a server. Comparing a
rendered body with what BC holds is what lets a re-sent document change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ml_connector.api.errors import FatalError

DESCRIPTION_LENGTH = 100  # BC's Description is Text[100]; longer text is refused


@dataclass(frozen=True)
class Party:
    """Who a document is with: the master it names, and where BC holds its id and number."""

    label: str
    entity_set: str
    id_field: str
    number_field: str
    canonical: str  # the canonical field naming it


VENDOR = Party("vendor", "vendors", "vendorId", "vendorNumber", "vendor_number")
CUSTOMER = Party("customer", "customers", "customerId", "customerNumber", "customer_number")


@dataclass(frozen=True)
class DocumentKind:
    entity: str  # canonical entity
    label: str
    entity_set: str
    line_set: str
    key_field: str  # where the ServiceNow number goes, and what the look-up filters on
    price_field: str
    dates: Mapping[str, str]  # BC field -> canonical field
    posts: bool  # posted after creation with Microsoft.NAV.post
    party: Party = VENDOR
    line_price: str = "unit_cost"  # the canonical line field the price_field takes


INVOICE = DocumentKind(
    "purchase_invoice", "purchase invoice", "purchaseInvoices", "purchaseInvoiceLines",
    "vendorInvoiceNumber", "unitCost",
    {"invoiceDate": "invoice_date", "postingDate": "posting_date", "dueDate": "due_date"},
    posts=True,
)  # fmt: skip
# API v2.0 purchase orders have no external document number, so the ServiceNow number becomes
# the BC number itself (the number series must allow manual numbers).
ORDER = DocumentKind(
    "purchase_order", "purchase order", "purchaseOrders", "purchaseOrderLines",
    "number", "directUnitCost", {"orderDate": "order_date"}, posts=False,
)  # fmt: skip
# A sales invoice is found again by the source's invoice id, kept as its external document
# number; BC numbers it from its own series.
SALES_INVOICE = DocumentKind(
    "sales_invoice", "sales invoice", "salesInvoices", "salesInvoiceLines",
    "externalDocumentNumber", "unitPrice", {"invoiceDate": "invoice_date", "dueDate": "due_date"},
    posts=True, party=CUSTOMER, line_price="unit_price",
)  # fmt: skip
KINDS = {k.entity: k for k in (INVOICE, ORDER, SALES_INVOICE)}


@dataclass(frozen=True)
class References:
    """BC ids of what a document names, by BC code."""

    party_id: str  # the vendor's or the customer's
    accounts: Mapping[str, str]
    items: Mapping[str, str]


def code(value: str) -> str:
    """BC Code fields (numbers, dimension values) are upper case; filters match exactly."""
    return value.strip().upper()


def cost_center(kind: DocumentKind, doc: Mapping[str, Any]) -> str | None:
    """The document's one cost center; lines charged to several are refused.

    The API v2.0 documents carry dimensions on the header's shortcut fields; spreading one
    document over cost centers per line would need dimensionSetLines.
    """
    named = [doc.get("cost_center"), *(line.get("cost_center") for line in doc["lines"])]
    found = {code(c) for c in named if c}
    if len(found) > 1:
        raise FatalError(
            f"{kind.label} {doc['number']}: its lines are charged to cost centers "
            f"{', '.join(sorted(found))}; Business Central takes one per document here"
        )
    return next(iter(found), None)


def line_target(line: Mapping[str, Any], refs: References) -> dict[str, Any]:
    if line.get("item_number"):
        number = code(line["item_number"])
        return {"lineType": "Item", "itemId": refs.items[number], "lineObjectNumber": number}
    if line.get("account_number"):
        number = code(line["account_number"])
        return {
            "lineType": "Account",
            "accountId": refs.accounts[number],
            "lineObjectNumber": number,
        }
    raise FatalError(f"line {line.get('line_number')} names neither a G/L account nor an item")


def render_line(kind: DocumentKind, line: Mapping[str, Any], refs: References) -> dict[str, Any]:
    body = line_target(line, refs)
    body["description"] = (line.get("description") or "")[:DESCRIPTION_LENGTH]
    # JSON numbers; decimal(19,4) amounts keep every digit up to 15 significant ones.
    if line.get("quantity") is not None:
        body["quantity"] = float(line["quantity"])
    if line.get(kind.line_price) is not None:
        body[kind.price_field] = float(line[kind.line_price])
    return body


def render(
    kind: DocumentKind, doc: Mapping[str, Any], refs: References, cost_center_field: str
) -> dict[str, Any]:
    """The header with its lines, for a deep insert."""
    body: dict[str, Any] = {
        kind.key_field: doc["number"],
        kind.party.id_field: refs.party_id,
        kind.party.number_field: code(doc[kind.party.canonical]),
    }
    for field, name in kind.dates.items():
        if doc.get(name) is not None:
            body[field] = doc[name].isoformat()
    if doc.get("currency"):
        body["currencyCode"] = code(doc["currency"])
    center = cost_center(kind, doc)
    if center:
        body[cost_center_field] = center
    body[kind.line_set] = [render_line(kind, line, refs) for line in doc["lines"]]
    return body


def same(held: Any, wanted: Any) -> bool:
    """BC's value equals ours: numbers by value, text and GUIDs case-insensitively."""
    if isinstance(wanted, int | float):
        try:
            return held is not None and Decimal(str(held)) == Decimal(str(wanted))
        except InvalidOperation:
            return False
    return str(held or "").casefold() == str(wanted).casefold()


@dataclass(frozen=True)
class Differences:
    header: dict[str, Any]  # fields to PATCH
    lines: bool  # the lines must be replaced

    def __bool__(self) -> bool:
        return bool(self.header) or self.lines


def differences(
    kind: DocumentKind, held: Mapping[str, Any], body: Mapping[str, Any]
) -> Differences:
    """What BC's document (read with its lines expanded) lacks of the rendered body."""
    header = {k: v for k, v in body.items() if k != kind.line_set and not same(held.get(k), v)}
    have = sorted(held.get(kind.line_set) or [], key=lambda x: int(x.get("sequence") or 0))
    want = body[kind.line_set]
    lines = len(have) != len(want) or any(
        not same(h.get(k), v) for h, w in zip(have, want, strict=True) for k, v in w.items()
    )
    return Differences(header, lines)
