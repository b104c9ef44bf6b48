"""Business Central API v2.0 entity sets as data: fields, keys, enums, parents, actions.

The HTTP layer, the store, ``$metadata`` and webhooks all read these definitions, so adding an
entity set is one ``EntitySetDef`` plus its seed rows. Field lists follow apis.md section 1;
document lines belong to a parent (``parent``/``parent_field``) and are served both under
their header and as a company-level set, as BC does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simulators.odata import Kind

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
STAMP = "lastModifiedDateTime"
BASE_READ_ONLY = frozenset({"id", STAMP})


@dataclass(frozen=True)
class EntitySetDef:
    name: str  # entity set in the URL, e.g. "vendors"
    type_name: str  # OData type, e.g. "vendor" (Microsoft.NAV.vendor)
    label: str  # table caption used in BC messages, e.g. "Vendor"
    fields: Mapping[str, Kind]  # in the order BC renders them
    key_field: str  # the user-facing unique key ("number"; "sequence" within a document)
    number_prefix: str = ""  # prefix of numbers BC assigns when a POST omits the key
    read_only: frozenset[str] = BASE_READ_ONLY
    enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    writable: bool = True  # False: POST/PATCH/DELETE refused (chart of accounts)
    parent: str | None = None  # header entity set of a line set
    parent_field: str | None = None  # the line's reference to its header ("documentId")
    actions: tuple[str, ...] = ()  # bound actions, e.g. ("post",) -> Microsoft.NAV.post
    webhooks: bool = True  # eligible as a webhook subscription resource
    # Single-valued navigation properties: name -> (target entity set, referencing field).
    lookups: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # Edm.Stream properties: rendered as media links, read and written at their own URL.
    streams: tuple[str, ...] = ()
    # Code[n] / Text[n] fields: a longer value is refused, as BC refuses it.
    lengths: Mapping[str, int] = field(default_factory=dict)

    @property
    def has_stamp(self) -> bool:
        return STAMP in self.fields


def _fields(*pairs: tuple[str, Kind]) -> dict[str, Kind]:
    return dict(pairs)


G, S, E, DT, D, N, INT, B = (
    Kind.GUID,
    Kind.STRING,
    Kind.ENUM,
    Kind.DATETIME,
    Kind.DATE,
    Kind.DECIMAL,
    Kind.INTEGER,
    Kind.BOOLEAN,
)
LINE_TYPES = ("Comment", "Account", "Item", "Resource", "Fixed Asset", "Charge")
TOTALS = ("totalAmountExcludingTax", "totalTaxAmount", "totalAmountIncludingTax")
INVOICE_STATUSES = ("Draft", "In Review", "Open", "Paid", "Canceled", "Corrective")
# The documented navigation properties whose targets this simulator serves.
VENDOR_LOOKUP = {"vendor": ("vendors", "vendorId")}
CUSTOMER_LOOKUP = {"customer": ("customers", "customerId")}
LINE_LOOKUPS = {"item": ("items", "itemId"), "account": ("accounts", "accountId")}


def _document_lines(
    name: str,
    label: str,
    parent: str,
    *extra: tuple[str, Kind],
    read_only: frozenset[str] | set[str] = frozenset(),
) -> EntitySetDef:
    """A line set: BC's common line fields, then the document-specific ones (price etc.)."""
    return EntitySetDef(
        name=name,
        type_name=name[:-1],
        label=label,
        fields=_fields(
            ("id", Kind.GUID),
            ("documentId", Kind.GUID),
            ("sequence", Kind.INTEGER),
            ("lineType", Kind.ENUM),
            ("itemId", Kind.GUID),
            ("accountId", Kind.GUID),
            ("lineObjectNumber", Kind.STRING),
            ("description", Kind.STRING),
            ("quantity", Kind.DECIMAL),
            *extra,
        ),
        key_field="sequence",
        read_only=BASE_READ_ONLY | read_only,
        enums={"lineType": LINE_TYPES},
        parent=parent,
        parent_field="documentId",
        webhooks=False,
        lookups=LINE_LOOKUPS,
    )


VENDORS = EntitySetDef(
    name="vendors",
    type_name="vendor",
    label="Vendor",
    fields=_fields(
        ("id", G),
        ("number", S),
        ("displayName", S),
        ("addressLine1", S),
        ("addressLine2", S),
        ("city", S),
        ("state", S),
        ("country", S),
        ("postalCode", S),
        ("phoneNumber", S),
        ("email", S),
        ("taxRegistrationNumber", S),
        ("currencyCode", S),
        ("paymentTermsId", G),
        ("blocked", E),
        ("balance", N),
        (STAMP, DT),
    ),
    key_field="number",
    number_prefix="V",
    # balance is a FlowField in BC: computed from ledger entries, never written by the API.
    read_only=BASE_READ_ONLY | {"balance"},
    enums={"blocked": (" ", "Payment", "All")},
    defaults={"paymentTermsId": ZERO_GUID, "blocked": " ", "balance": 0.0},
)
CUSTOMERS = EntitySetDef(
    name="customers",
    type_name="customer",
    label="Customer",
    fields=_fields(
        ("id", G),
        ("number", S),
        ("displayName", S),
        ("type", E),
        ("email", S),
        ("currencyCode", S),
        ("blocked", E),
        ("balanceDue", N),
        ("creditLimit", N),
        (STAMP, DT),
    ),
    key_field="number",
    number_prefix="C",
    read_only=BASE_READ_ONLY | {"balanceDue"},
    enums={"type": ("Company", "Person"), "blocked": (" ", "Ship", "Invoice", "All")},
    defaults={"type": "Company", "blocked": " ", "balanceDue": 0.0, "creditLimit": 0.0},
)
ITEMS = EntitySetDef(
    name="items",
    type_name="item",
    label="Item",
    fields=_fields(
        ("id", G),
        ("number", S),
        ("displayName", S),
        ("type", E),
        ("unitPrice", N),
        ("unitCost", N),
        ("baseUnitOfMeasureCode", S),
        ("inventory", N),
        ("blocked", B),
        (STAMP, DT),
    ),
    key_field="number",
    number_prefix="I",
    read_only=BASE_READ_ONLY | {"inventory"},
    enums={"type": ("Inventory", "Service", "Non-Inventory")},
    defaults={
        "type": "Inventory",
        "unitPrice": 0.0,
        "unitCost": 0.0,
        "baseUnitOfMeasureCode": "PCS",
        "inventory": 0.0,
        "blocked": False,
    },
)
ACCOUNTS = EntitySetDef(
    name="accounts",
    type_name="account",
    label="G/L Account",
    fields=_fields(
        ("id", G),
        ("number", S),
        ("displayName", S),
        ("category", E),
        ("subCategory", S),
        ("accountType", E),
        ("directPosting", B),
        ("blocked", B),
        (STAMP, DT),
    ),
    key_field="number",
    writable=False,
    enums={
        "category": (
            " ",
            "Assets",
            "Liabilities",
            "Equity",
            "Income",
            "CostOfGoodsSold",
            "Expense",
        ),
        "accountType": ("Posting", "Heading", "Total", "Begin-Total", "End-Total"),
    },
)
DIMENSIONS = EntitySetDef(
    name="dimensions",
    type_name="dimension",
    label="Dimension",
    fields=_fields(("id", G), ("code", S), ("displayName", S), (STAMP, DT)),
    key_field="code",
)
DIMENSION_VALUES = EntitySetDef(
    name="dimensionValues",
    type_name="dimensionValue",
    label="Dimension Value",
    fields=_fields(("id", G), ("code", S), ("dimensionId", G), ("displayName", S), (STAMP, DT)),
    key_field="code",
    parent="dimensions",
    parent_field="dimensionId",
    webhooks=False,
)
PURCHASE_ORDERS = EntitySetDef(
    name="purchaseOrders",
    type_name="purchaseOrder",
    label="Purchase Header",
    lookups=VENDOR_LOOKUP,
    fields=_fields(
        ("id", G),
        ("number", S),
        ("orderDate", D),
        ("postingDate", D),
        ("vendorId", G),
        ("vendorNumber", S),
        ("shortcutDimension1Code", S),
        ("shortcutDimension2Code", S),
        ("currencyCode", S),
        ("status", E),
        ("fullyReceived", B),
        *((name, N) for name in TOTALS),
        (STAMP, DT),
    ),
    key_field="number",
    number_prefix="PO",
    read_only=BASE_READ_ONLY | {"status", "fullyReceived", *TOTALS},
    enums={"status": ("Draft", "In Review", "Open", "Released")},
    defaults={"status": "Draft", "fullyReceived": False, **dict.fromkeys(TOTALS, 0.0)},
    lengths={"number": 20},
    actions=("receiveAndInvoice",),
    webhooks=False,  # BC cannot notify on purchase orders: poll them
)
PURCHASE_ORDER_LINES = _document_lines(
    "purchaseOrderLines",
    "Purchase Line",
    "purchaseOrders",
    ("directUnitCost", N),
    ("receiveQuantity", N),
    ("receivedQuantity", N),
    ("invoiceQuantity", N),
    ("invoicedQuantity", N),
    read_only={"receivedQuantity", "invoicedQuantity"},
)
PURCHASE_INVOICES = EntitySetDef(
    name="purchaseInvoices",
    type_name="purchaseInvoice",
    label="Purchase Header",
    lookups=VENDOR_LOOKUP,
    fields=_fields(
        ("id", G),
        ("number", S),
        ("invoiceDate", D),
        ("postingDate", D),
        ("dueDate", D),
        ("vendorInvoiceNumber", S),
        ("vendorId", G),
        ("vendorNumber", S),
        ("orderId", G),
        ("shortcutDimension1Code", S),
        ("shortcutDimension2Code", S),
        ("currencyCode", S),
        ("status", E),
        *((name, N) for name in TOTALS),
        (STAMP, DT),
    ),
    key_field="number",
    number_prefix="PI",
    read_only=BASE_READ_ONLY | {"status", "orderId", *TOTALS},
    enums={"status": INVOICE_STATUSES},
    defaults={"status": "Draft", "orderId": ZERO_GUID, **dict.fromkeys(TOTALS, 0.0)},
    actions=("post",),
    lengths={"number": 20, "vendorInvoiceNumber": 35},
)
PURCHASE_INVOICE_LINES = _document_lines(
    "purchaseInvoiceLines", "Purchase Line", "purchaseInvoices", ("unitCost", N)
)
SALES_INVOICES = EntitySetDef(
    name="salesInvoices",
    type_name="salesInvoice",
    label="Sales Header",
    lookups=CUSTOMER_LOOKUP,
    fields=_fields(
        ("id", G),
        ("number", S),
        ("externalDocumentNumber", S),
        ("invoiceDate", D),
        ("postingDate", D),
        ("dueDate", D),
        ("customerId", G),
        ("customerNumber", S),
        ("shortcutDimension1Code", S),
        ("shortcutDimension2Code", S),
        ("currencyCode", S),
        ("status", E),
        ("remainingAmount", N),
        *((name, N) for name in TOTALS),
        (STAMP, DT),
    ),
    key_field="number",
    number_prefix="SI",
    read_only=BASE_READ_ONLY | {"status", "remainingAmount", *TOTALS},
    enums={"status": INVOICE_STATUSES},
    defaults={"status": "Draft", "remainingAmount": 0.0, **dict.fromkeys(TOTALS, 0.0)},
    actions=("post",),
)
SALES_INVOICE_LINES = _document_lines(
    "salesInvoiceLines", "Sales Line", "salesInvoices", ("unitPrice", N)
)
CUSTOMER_PAYMENT_JOURNALS = EntitySetDef(
    name="customerPaymentJournals",
    type_name="customerPaymentJournal",
    label="Gen. Journal Batch",
    fields=_fields(
        ("id", G), ("code", S), ("displayName", S), ("balancingAccountId", G), (STAMP, DT)
    ),
    key_field="code",
    defaults={"balancingAccountId": ZERO_GUID},
    # Posts every line of the batch (UNCONFIRMED in apis.md: v2.0 documents the action on
    # journals); the lines leave the journal and remain as general ledger entries.
    actions=("post",),
)
CUSTOMER_PAYMENTS = EntitySetDef(
    name="customerPayments",
    type_name="customerPayment",
    label="Gen. Journal Line",
    lookups=CUSTOMER_LOOKUP,
    fields=_fields(
        ("id", G),
        ("journalId", G),
        ("lineNumber", INT),
        ("customerId", G),
        ("customerNumber", S),
        ("postingDate", D),
        ("documentNumber", S),
        ("externalDocumentNumber", S),
        ("amount", N),
        ("appliesToInvoiceId", G),
        ("appliesToInvoiceNumber", S),
        (STAMP, DT),
    ),
    key_field="lineNumber",
    defaults={"amount": 0.0, "appliesToInvoiceId": ZERO_GUID, "customerId": ZERO_GUID},
    parent="customerPaymentJournals",
    parent_field="journalId",
    webhooks=False,
)
GENERAL_LEDGER_ENTRIES = EntitySetDef(
    name="generalLedgerEntries",
    type_name="generalLedgerEntry",
    label="G/L Entry",
    fields=_fields(
        ("id", G),
        ("entryNumber", INT),
        ("postingDate", D),
        ("documentNumber", S),
        ("documentType", E),
        ("accountId", G),
        ("accountNumber", S),
        ("description", S),
        ("externalDocumentNumber", S),
        ("debitAmount", N),
        ("creditAmount", N),
        (STAMP, DT),
    ),
    key_field="entryNumber",
    writable=False,  # the ledger is read-only: entries come from posting only
    enums={"documentType": (" ", "Payment", "Invoice", "Credit Memo", "Refund")},
    defaults={"debitAmount": 0.0, "creditAmount": 0.0, "accountId": ZERO_GUID},
)

# parentType values of the documentAttachment resource (v2.0), and the entity sets this
# simulator serves for those that name one; the others are refused rather than accepted blind.
ATTACHMENT_PARENT_TYPES = (
    " ",
    "Journal",
    "Sales Order",
    "Sales Quote",
    "Sales Credit Memo",
    "Sales Invoice",
    "Purchase Invoice",
    "Purchase Order",
    "Vendor",
    "Customer",
    "Item",
)
ATTACHMENT_PARENTS = {
    "Purchase Invoice": "purchaseInvoices",
    "Sales Invoice": "salesInvoices",
    "Purchase Order": "purchaseOrders",
    "Vendor": "vendors",
    "Customer": "customers",
    "Item": "items",
}
# Keyed by line number within the record it is attached to (parent_field without a parent
# set: the record may be in any of ATTACHMENT_PARENTS).
DOCUMENT_ATTACHMENTS = EntitySetDef(
    name="documentAttachments",
    type_name="documentAttachment",
    label="Document Attachment",
    fields=_fields(
        ("id", G),
        ("fileName", S),
        ("byteSize", INT),
        ("parentType", E),
        ("parentId", G),
        ("lineNumber", INT),
        ("documentFlowSales", B),
        ("documentFlowPurchase", B),
        (STAMP, DT),
    ),
    key_field="lineNumber",
    read_only=BASE_READ_ONLY | {"byteSize", "parentType", "parentId", "lineNumber"},
    enums={"parentType": ATTACHMENT_PARENT_TYPES},
    defaults={"byteSize": 0, "documentFlowSales": False, "documentFlowPurchase": False},
    parent_field="parentId",
    webhooks=False,
    streams=("attachmentContent",),
)

ENTITY_SETS: tuple[EntitySetDef, ...] = (
    VENDORS,
    CUSTOMERS,
    ITEMS,
    ACCOUNTS,
    DIMENSIONS,
    DIMENSION_VALUES,
    PURCHASE_ORDERS,
    PURCHASE_ORDER_LINES,
    PURCHASE_INVOICES,
    PURCHASE_INVOICE_LINES,
    SALES_INVOICES,
    SALES_INVOICE_LINES,
    CUSTOMER_PAYMENT_JOURNALS,
    CUSTOMER_PAYMENTS,
    GENERAL_LEDGER_ENTRIES,
    DOCUMENT_ATTACHMENTS,
)
BY_NAME: Mapping[str, EntitySetDef] = {d.name: d for d in ENTITY_SETS}


def children_of(name: str) -> list[EntitySetDef]:
    """Line sets whose header is ``name`` (navigation properties, $expand, deep insert)."""
    return [d for d in ENTITY_SETS if d.parent == name]


# Where a line's amount and its header's totals come from.
LINE_PRICE_FIELD = {
    "purchaseOrderLines": "directUnitCost",
    "purchaseInvoiceLines": "unitCost",
    "salesInvoiceLines": "unitPrice",
}
