"""Documents: records that name masters (and, a payment, the invoice it applies to).

What each one names is declared here, header and lines apart; resolution, parking, the
cross-reference and reconciliation all read these declarations, so a new document kind
needs no code of its own there.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from ml_connector.canonical.base import Canonical, Money, Reference


class _Line(Canonical):
    """What every document line holds up to its quantity, and what it names."""

    references: ClassVar[tuple[Reference, ...]] = (
        Reference("cost_center", "cost_center"),
        Reference("account_number", "gl_account"),
        Reference("item_number", "item"),
    )

    line_number: int
    line_type: str | None = None
    item_number: str | None = None
    account_number: str | None = None
    description: str | None = None
    quantity: Money | None = None


class _PurchaseLine(_Line):
    unit_cost: Money | None = None
    cost_center: str | None = None
    amount: Money | None = None


class PurchaseOrderLine(_PurchaseLine):
    pass


class PurchaseInvoiceLine(_PurchaseLine):
    pass


class SalesInvoiceLine(_Line):
    unit_price: Money | None = None
    cost_center: str | None = None
    amount: Money | None = None


# A purchase document's vendor: by its number in the target, or through the source's own id
# of it (a ServiceNow supplier's sys_id) once the vendor sync has learned which number that is.
_VENDOR = Reference("vendor_number", "vendor", source_id="vendor_ref")
_COST_CENTER = Reference("cost_center", "cost_center")


class PurchaseOrder(Canonical):
    entity: ClassVar[str] = "purchase_order"
    references: ClassVar[tuple[Reference, ...]] = (_VENDOR, _COST_CENTER)

    number: str
    vendor_number: str
    vendor_ref: str | None = None
    order_date: date | None = None
    currency: str | None = None
    status: str | None = None
    cost_center: str | None = None
    total_excluding_tax: Money | None = None
    total_including_tax: Money | None = None
    lines: list[PurchaseOrderLine] = Field(default_factory=list)


class PurchaseInvoice(Canonical):
    entity: ClassVar[str] = "purchase_invoice"
    references: ClassVar[tuple[Reference, ...]] = (_VENDOR, _COST_CENTER)

    number: str
    vendor_invoice_number: str | None = None
    vendor_number: str
    vendor_ref: str | None = None
    order_number: str | None = None
    invoice_date: date | None = None
    posting_date: date | None = None
    due_date: date | None = None
    currency: str | None = None
    status: str | None = None
    cost_center: str | None = None
    total_excluding_tax: Money | None = None
    total_including_tax: Money | None = None
    lines: list[PurchaseInvoiceLine] = Field(default_factory=list)


class SalesInvoice(Canonical):
    entity: ClassVar[str] = "sales_invoice"
    references: ClassVar[tuple[Reference, ...]] = (Reference("customer_number", "customer"),)

    number: str
    external_document_number: str | None = None
    customer_number: str
    invoice_date: date | None = None
    due_date: date | None = None
    currency: str | None = None
    status: str | None = None
    remaining_amount: Money | None = None
    total_excluding_tax: Money | None = None
    total_including_tax: Money | None = None
    lines: list[SalesInvoiceLine] = Field(default_factory=list)


class Payment(Canonical):
    """A payment names what it applies to by the kind of invoice it pays: a customer receipt
    (Business Central customerPayments, ServiceTitan accounting payments) the sales invoice,
    a vendor payment (an Acumatica Check) the purchase invoice, each in a field of its own
    rather than one field meaning either kind depending on which party is set.
    """

    entity: ClassVar[str] = "payment"
    references: ClassVar[tuple[Reference, ...]] = (
        Reference("customer_number", "customer"),
        Reference("vendor_number", "vendor"),
        Reference("applies_to_invoice_number", "sales_invoice"),
        Reference("applies_to_bill_number", "purchase_invoice"),
    )

    number: str
    customer_number: str | None = None
    vendor_number: str | None = None
    posting_date: date | None = None
    amount: Money | None = None
    currency: str | None = None
    applies_to_invoice_number: str | None = None
    external_document_number: str | None = None
    applies_to_bill_number: str | None = None
