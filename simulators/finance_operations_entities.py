"""Dynamics 365 F&O data entities served by the simulator: definitions and seed data.

Entities are data (``EntityDef``): the OData layer, ``$metadata`` and the write rules all read
them. Field names follow the public entities (VendorsV2, PurchaseOrderHeadersV2, ...) where
apis.md names them; the others are the plainest names F&O uses for the same idea.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from simulators import seed as sd
from simulators.odata import Kind
from simulators.records import seed_stamps

if TYPE_CHECKING:
    from simulators.finance_operations import FinanceOperationsOptions

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

_ACCOUNTS = (
    ("110110", "Bank account - USD", "Asset"),
    ("130100", "Accounts receivable - Domestic", "Asset"),
    ("140200", "Inventory", "Asset"),
    ("200110", "Accounts payable - Domestic", "Liability"),
    ("200120", "Accounts payable - Foreign", "Liability"),
    ("220100", "Sales tax payable", "Liability"),
    ("300100", "Retained earnings", "Equity"),
    ("401100", "Sales - Domestic", "Revenue"),
    ("600110", "Office supplies", "Expense"),
    ("600120", "Software subscriptions", "Expense"),
    ("600130", "Travel", "Expense"),
    ("600140", "Repairs and maintenance", "Expense"),
    ("600150", "Professional services", "Expense"),
    ("600160", "Freight", "Expense"),
)
EXPENSE_ACCOUNTS = tuple(a for a, _, kind in _ACCOUNTS if kind == "Expense")
_ITEMS = (("A0001", "Paper, 10 reams"), ("A0002", "Toner"), ("M0010", "Bearing kit"))
_CATEGORIES = ("Office supplies", "Services", "Maintenance", "IT")


def seed_rows(options: FinanceOperationsOptions) -> list[tuple[EntityDef, dict[str, Any]]]:
    """(entity, values) in write order: masters, then headers before their lines."""
    out: list[tuple[EntityDef, dict[str, Any]]] = []
    companies = [options.legal_entity, *options.other_legal_entities]
    for company in companies:
        own = company == options.legal_entity
        out += [
            (
                MAIN_ACCOUNTS,
                {"dataAreaId": company, "MainAccountId": a, "Name": n, "MainAccountType": k},
            )
            for a, n, k in _ACCOUNTS
        ]
        vendors = _vendors(options, company, options.vendor_count if own else 5)
        out += [(VENDORS, v) for v in vendors]
        numbers = [v["VendorAccountNumber"] for v in vendors]
        if own:
            out += _orders(options, company, numbers)
            out += _invoices(options, company, numbers)
    if options.modified_field:
        seed_stamps(
            ((e.name, values) for e, values in out),
            options.modified_field,
            options.seed_epoch,
            options.records_per_timestamp,
        )
    return out


def _vendors(options: FinanceOperationsOptions, company: str, count: int) -> list[dict[str, Any]]:
    rng = sd.rng_for(options.seed, f"fno.vendors.{company}")
    vendors = []
    for i in range(count):
        name = sd.company_name(rng)
        addr = sd.address(rng)
        vendors.append(
            {
                "dataAreaId": company,
                "VendorAccountNumber": f"V{i + 1:04d}",
                "VendorName": name,
                "VendorGroupId": rng.choice(("10", "20", "30", "40")),
                "VendorPartyType": "Organization",
                "CurrencyCode": rng.choice(("USD", "USD", "USD", "CAD", "EUR")),
                "DefaultPaymentTermsName": rng.choice(("Net30", "Net10", "Net45")),
                "OnHoldStatus": rng.choice(("No",) * 9 + ("All",)),
                "PrimaryEmailAddress": sd.email_for(name, i + 1),
                "PrimaryPhoneNumber": sd.phone_number(rng),
                "AddressStreet": addr.street,
                "AddressCity": addr.city,
                "AddressState": addr.state,
                "AddressZipCode": addr.postal_code,
                "AddressCountryRegionId": "USA",
                "TaxExemptNumber": sd.tax_id(rng),
            }
        )
    return vendors


def _day(options: FinanceOperationsOptions, offset: int) -> datetime:
    return options.seed_epoch.replace(hour=12, minute=0) + timedelta(days=offset)


def _orders(
    options: FinanceOperationsOptions, company: str, vendors: list[str]
) -> list[tuple[EntityDef, dict[str, Any]]]:
    rng = sd.rng_for(options.seed, f"fno.orders.{company}")
    out: list[tuple[EntityDef, dict[str, Any]]] = []
    for i in range(options.purchase_order_count):
        number = f"PO{i + 1:06d}"
        vendor = rng.choice(vendors)
        status = rng.choice(("Backorder",) * 5 + ("Received", "Invoiced"))
        approval = "Confirmed" if status != "Backorder" else rng.choice(("Draft", "Approved"))
        out.append(
            (
                PO_HEADERS,
                {
                    "dataAreaId": company,
                    "PurchaseOrderNumber": number,
                    "OrderVendorAccountNumber": vendor,
                    "InvoiceVendorAccountNumber": vendor,
                    "PurchaseOrderName": f"Order {i + 1}",
                    "PurchaseOrderStatus": status,
                    "DocumentApprovalStatus": approval,
                    "CurrencyCode": "USD",
                    "AccountingDate": _day(options, i),
                    "RequestedDeliveryDate": _day(options, i + 14),
                    "VendorOrderReference": f"SO-{rng.randint(10000, 99999)}",
                    "DefaultReceivingSiteId": "1",
                },
            )
        )
        for line in range(1, rng.randint(1, 4) + 1):
            item, text = rng.choice(_ITEMS)
            qty = float(rng.randint(1, 20))
            price = round(rng.uniform(5, 500), 2)
            out.append(
                (
                    PO_LINES,
                    {
                        "dataAreaId": company,
                        "PurchaseOrderNumber": number,
                        "LineNumber": line,
                        "ItemNumber": item,
                        "LineDescription": text,
                        "ProcurementCategoryName": rng.choice(_CATEGORIES),
                        "OrderedPurchaseQuantity": qty,
                        "PurchaseUnitSymbol": "ea",
                        "PurchasePrice": price,
                        "LineAmount": round(qty * price, 2),
                        "MainAccountIdDisplayValue": rng.choice(EXPENSE_ACCOUNTS),
                    },
                )
            )
    return out


def _invoices(
    options: FinanceOperationsOptions, company: str, vendors: list[str]
) -> list[tuple[EntityDef, dict[str, Any]]]:
    rng = sd.rng_for(options.seed, f"fno.invoices.{company}")
    out: list[tuple[EntityDef, dict[str, Any]]] = []
    for i in range(options.invoice_count):
        reference = f"VIH{i + 1:06d}"
        lines: list[dict[str, Any]] = []
        for line in range(1, rng.randint(1, 3) + 1):
            qty = float(rng.randint(1, 10))
            price = round(rng.uniform(10, 900), 2)
            lines.append(
                {
                    "dataAreaId": company,
                    "HeaderReference": reference,
                    "LineNumber": line,
                    "ItemNumber": "",
                    "ProcurementCategoryName": rng.choice(_CATEGORIES),
                    "Description": f"Service line {line}",
                    "ReceiveNow": qty,
                    "UnitPrice": price,
                    "LineAmount": round(qty * price, 2),
                    "MainAccountDisplayValue": rng.choice(EXPENSE_ACCOUNTS),
                }
            )
        order = (
            f"PO{rng.randint(1, options.purchase_order_count):06d}" if rng.random() < 0.5 else ""
        )
        header = {
            "dataAreaId": company,
            "HeaderReference": reference,
            "InvoiceNumber": f"INV-{rng.randint(100000, 999999)}",
            "InvoiceAccount": rng.choice(vendors),
            "InvoiceDate": _day(options, i),
            "DueDate": _day(options, i + 30),
            "InvoiceDescription": f"Invoice {i + 1}",
            "PurchaseOrderNumber": order if options.purchase_order_count else "",
            "Currency": "USD",
            "ImportedAmount": round(sum(float(line["LineAmount"]) for line in lines), 2),
            "IsPosted": rng.choice(("No", "No", "Yes")),
        }
        out.append((INVOICE_HEADERS, header))
        out += [(INVOICE_LINES, line) for line in lines]
    return out
