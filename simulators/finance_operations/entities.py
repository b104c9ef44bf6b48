"""Dynamics 365 F&O data entities served by the simulator (their seed data is in ``seed``).

Entities are data (``EntityDef``): the OData layer, ``$metadata`` and the write rules all read
them. Field names follow the public entities (VendorsV2, PurchaseOrderHeadersV2, ...) where
apis.md names them; the others are the plainest names F&O uses for the same idea.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulators.odata import Kind

NAMESPACE = "Microsoft.Dynamics.DataEntities"
FIRST_RECID = 5637144576  # F&O RecIds start here; only etags and ControlNumbers show it
NULL_DATE = datetime(1900, 1, 1, tzinfo=UTC)  # how F&O renders an empty date


@dataclass(frozen=True)
class Nav:
    """A relation: ``pairs`` match this entity's fields to the target's (both with company)."""

    target: str
    pairs: tuple[tuple[str, str], ...]
    many: bool


@dataclass(frozen=True)
class EntityDef:
    name: str  # entity set, e.g. VendorsV2
    type_name: str  # entity type, e.g. VendorV2
    label: str  # table caption F&O puts in infolog messages
    fields: Mapping[str, Kind]
    key: tuple[str, ...]  # natural key, dataAreaId first
    enums: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    navigation: Mapping[str, Nav] = field(default_factory=dict)
    parent: str | None = None  # navigation to the header that must exist before this line
    references: tuple[str, ...] = ()  # navigations that must resolve on write
    number_format: str | None = None  # server numbering when the last key field is blank
    posted: tuple[str, str] | None = None  # (field, value) that makes a row read-only
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def qualified_type(self) -> str:
        return f"{NAMESPACE}.{self.type_name}"


NO_YES = ("NoYes", ("No", "Yes"))

VENDORS = EntityDef(
    name="VendorsV2",
    type_name="VendorV2",
    label="Vendors (VendTable)",
    fields={
        "dataAreaId": Kind.STRING,
        "VendorAccountNumber": Kind.STRING,
        "VendorName": Kind.STRING,
        "VendorGroupId": Kind.STRING,
        "VendorPartyType": Kind.ENUM,
        "CurrencyCode": Kind.STRING,
        "DefaultPaymentTermsName": Kind.STRING,
        "OnHoldStatus": Kind.ENUM,
        "PrimaryEmailAddress": Kind.STRING,
        "PrimaryPhoneNumber": Kind.STRING,
        "AddressStreet": Kind.STRING,
        "AddressCity": Kind.STRING,
        "AddressState": Kind.STRING,
        "AddressZipCode": Kind.STRING,
        "AddressCountryRegionId": Kind.STRING,
        "TaxExemptNumber": Kind.STRING,
    },
    key=("dataAreaId", "VendorAccountNumber"),
    enums={
        "VendorPartyType": ("DirPartyBaseType", ("Organization", "Person")),
        "OnHoldStatus": ("CustVendorBlocked", ("No", "Invoice", "All", "Payment", "Never")),
    },
    navigation={},
    number_format="V{:04d}",
    defaults={"VendorPartyType": "Organization", "OnHoldStatus": "No", "CurrencyCode": "USD"},
)

PO_HEADERS = EntityDef(
    name="PurchaseOrderHeadersV2",
    type_name="PurchaseOrderHeaderV2",
    label="Purchase orders (PurchTable)",
    fields={
        "dataAreaId": Kind.STRING,
        "PurchaseOrderNumber": Kind.STRING,
        "OrderVendorAccountNumber": Kind.STRING,
        "InvoiceVendorAccountNumber": Kind.STRING,
        "PurchaseOrderName": Kind.STRING,
        "PurchaseOrderStatus": Kind.ENUM,
        "DocumentApprovalStatus": Kind.ENUM,
        "CurrencyCode": Kind.STRING,
        "AccountingDate": Kind.DATETIME,
        "RequestedDeliveryDate": Kind.DATETIME,
        "VendorOrderReference": Kind.STRING,
        "DefaultReceivingSiteId": Kind.STRING,
    },
    key=("dataAreaId", "PurchaseOrderNumber"),
    enums={
        "PurchaseOrderStatus": (
            "PurchStatus",
            ("None", "Backorder", "Received", "Invoiced", "Canceled"),
        ),
        "DocumentApprovalStatus": (
            "VersioningDocumentState",
            ("Draft", "InReview", "Rejected", "Approved", "InExternalReview", "Confirmed"),
        ),
    },
    navigation={
        "PurchaseOrderLinesV2": Nav(
            "PurchaseOrderLinesV2",
            (("dataAreaId", "dataAreaId"), ("PurchaseOrderNumber", "PurchaseOrderNumber")),
            many=True,
        ),
        "Vendor": Nav(
            "VendorsV2",
            (("dataAreaId", "dataAreaId"), ("OrderVendorAccountNumber", "VendorAccountNumber")),
            many=False,
        ),
    },
    references=("Vendor",),
    number_format="PO{:06d}",
    # An invoiced order has posted ledger entries behind it: F&O refuses to change it.
    posted=("PurchaseOrderStatus", "Invoiced"),
    defaults={
        "PurchaseOrderStatus": "Backorder",
        "DocumentApprovalStatus": "Draft",
        "CurrencyCode": "USD",
    },
)

PO_LINES = EntityDef(
    name="PurchaseOrderLinesV2",
    type_name="PurchaseOrderLineV2",
    label="Purchase order lines (PurchLine)",
    fields={
        "dataAreaId": Kind.STRING,
        "PurchaseOrderNumber": Kind.STRING,
        "LineNumber": Kind.INTEGER,
        "ItemNumber": Kind.STRING,
        "LineDescription": Kind.STRING,
        "ProcurementCategoryName": Kind.STRING,
        "OrderedPurchaseQuantity": Kind.DECIMAL,
        "PurchaseUnitSymbol": Kind.STRING,
        "PurchasePrice": Kind.DECIMAL,
        "LineAmount": Kind.DECIMAL,
        "MainAccountIdDisplayValue": Kind.STRING,
    },
    key=("dataAreaId", "PurchaseOrderNumber", "LineNumber"),
    navigation={
        "PurchaseOrderHeader": Nav(
            "PurchaseOrderHeadersV2",
            (("dataAreaId", "dataAreaId"), ("PurchaseOrderNumber", "PurchaseOrderNumber")),
            many=False,
        ),
    },
    parent="PurchaseOrderHeader",
    defaults={"PurchaseUnitSymbol": "ea", "OrderedPurchaseQuantity": 1.0},
)

INVOICE_HEADERS = EntityDef(
    name="VendorInvoiceHeaders",
    type_name="VendorInvoiceHeader",
    label="Pending vendor invoices (VendInvoiceInfoTable)",
    fields={
        "dataAreaId": Kind.STRING,
        "HeaderReference": Kind.STRING,
        "InvoiceNumber": Kind.STRING,
        "InvoiceAccount": Kind.STRING,
        "InvoiceDate": Kind.DATETIME,
        "DueDate": Kind.DATETIME,
        "InvoiceDescription": Kind.STRING,
        "PurchaseOrderNumber": Kind.STRING,
        "Currency": Kind.STRING,
        "ImportedAmount": Kind.DECIMAL,
        "IsPosted": Kind.ENUM,
    },
    key=("dataAreaId", "HeaderReference"),
    enums={"IsPosted": NO_YES},
    navigation={
        "VendorInvoiceLines": Nav(
            "VendorInvoiceLines",
            (("dataAreaId", "dataAreaId"), ("HeaderReference", "HeaderReference")),
            many=True,
        ),
        "Vendor": Nav(
            "VendorsV2",
            (("dataAreaId", "dataAreaId"), ("InvoiceAccount", "VendorAccountNumber")),
            many=False,
        ),
    },
    references=("Vendor",),
    number_format="VIH{:06d}",
    posted=("IsPosted", "Yes"),
    defaults={"IsPosted": "No", "Currency": "USD", "ImportedAmount": 0.0},
)

INVOICE_LINES = EntityDef(
    name="VendorInvoiceLines",
    type_name="VendorInvoiceLine",
    label="Pending vendor invoice lines (VendInvoiceInfoLine)",
    fields={
        "dataAreaId": Kind.STRING,
        "HeaderReference": Kind.STRING,
        "LineNumber": Kind.INTEGER,
        "ItemNumber": Kind.STRING,
        "ProcurementCategoryName": Kind.STRING,
        "Description": Kind.STRING,
        "ReceiveNow": Kind.DECIMAL,
        "UnitPrice": Kind.DECIMAL,
        "LineAmount": Kind.DECIMAL,
        "MainAccountDisplayValue": Kind.STRING,
    },
    key=("dataAreaId", "HeaderReference", "LineNumber"),
    navigation={
        "VendorInvoiceHeader": Nav(
            "VendorInvoiceHeaders",
            (("dataAreaId", "dataAreaId"), ("HeaderReference", "HeaderReference")),
            many=False,
        ),
    },
    parent="VendorInvoiceHeader",
    defaults={"ReceiveNow": 1.0},
)

MAIN_ACCOUNTS = EntityDef(
    name="MainAccounts",
    type_name="MainAccount",
    label="Main accounts (MainAccount)",
    fields={
        "dataAreaId": Kind.STRING,
        "MainAccountId": Kind.STRING,
        "Name": Kind.STRING,
        "MainAccountType": Kind.ENUM,
        "ChartOfAccounts": Kind.STRING,
        "IsSuspended": Kind.ENUM,
    },
    key=("dataAreaId", "MainAccountId"),
    enums={
        "MainAccountType": (
            "DimensionLedgerAccountType",
            ("Asset", "Liability", "Equity", "Revenue", "Expense", "Total"),
        ),
        "IsSuspended": NO_YES,
    },
    defaults={"ChartOfAccounts": "Shared", "IsSuspended": "No"},
)

ENTITIES: tuple[EntityDef, ...] = (
    VENDORS,
    PO_HEADERS,
    PO_LINES,
    INVOICE_HEADERS,
    INVOICE_LINES,
    MAIN_ACCOUNTS,
)
