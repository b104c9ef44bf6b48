"""Acumatica entities of the ``Default`` contract-based endpoint: definitions and seed data.

Field names follow the Default endpoint (Vendor, PurchaseOrder, Bill, Check, Account,
Subaccount, Branch) as apis.md lists them. Definitions are data: the REST layer, the upsert
rules and push notifications all read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from simulators import seed as sd
from simulators.odata import Kind
from simulators.records import seed_stamps

if TYPE_CHECKING:
    from simulators.acumatica import AcumaticaOptions

S, D, B, T = Kind.STRING, Kind.DECIMAL, Kind.BOOLEAN, Kind.DATETIME


@dataclass(frozen=True)
class EntityDef:
    name: str
    fields: Mapping[str, Kind]
    key: tuple[str, ...]
    details: Mapping[str, Mapping[str, Kind]] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    references: Mapping[str, str] = field(default_factory=dict)  # field -> entity it names
    detail_references: Mapping[str, str] = field(default_factory=dict)
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    computed: tuple[str, ...] = ("LastModifiedDateTime",)  # ignored on write
    number_format: str | None = None  # server numbering for the last key field
    released_statuses: tuple[str, ...] = ()  # statuses in which the record is read-only
    defaults: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)  # UI captions for messages

    def label(self, name: str) -> str:
        return self.labels.get(name) or "".join(
            f" {c}" if c.isupper() and i else c for i, c in enumerate(name)
        ).replace(" I D", " ID")


BRANCH = EntityDef(
    name="Branch",
    fields={"BranchID": S, "BranchName": S, "Active": B, "LastModifiedDateTime": T},
    key=("BranchID",),
    required=("BranchID", "BranchName"),
    defaults={"Active": True},
)

ACCOUNT = EntityDef(
    name="Account",
    fields={
        "AccountCD": S,
        "Description": S,
        "Type": S,
        "Active": B,
        "CurrencyID": S,
        "LastModifiedDateTime": T,
    },
    key=("AccountCD",),
    required=("AccountCD", "Type"),
    choices={"Type": ("Asset", "Liability", "Income", "Expense")},
    defaults={"Active": True, "CurrencyID": "USD"},
    labels={"AccountCD": "Account"},
)

SUBACCOUNT = EntityDef(
    name="Subaccount",
    fields={"SubaccountCD": S, "Description": S, "Active": B, "LastModifiedDateTime": T},
    key=("SubaccountCD",),
    required=("SubaccountCD",),
    defaults={"Active": True},
    labels={"SubaccountCD": "Subaccount"},
)

VENDOR = EntityDef(
    name="Vendor",
    fields={
        "VendorID": S,
        "VendorName": S,
        "VendorClass": S,
        "Status": S,
        "CurrencyID": S,
        "Terms": S,
        "PaymentMethod": S,
        "TaxRegistrationID": S,
        "Email": S,
        "CreatedDateTime": T,
        "LastModifiedDateTime": T,
    },
    key=("VendorID",),
    required=("VendorID", "VendorName"),
    choices={
        "Status": ("Active", "On Hold", "Hold Payments", "Inactive", "One-Time"),
        "VendorClass": ("DEFAULT", "SERVICES", "SUPPLIES", "UTILITIES"),
    },
    computed=("CreatedDateTime", "LastModifiedDateTime"),
    defaults={"Status": "Active", "VendorClass": "DEFAULT", "CurrencyID": "USD", "Terms": "30D"},
)

_LINE = {"InventoryID": S, "Account": S, "Subaccount": S, "BranchID": S}
_LINE_REFS = {"Account": "Account", "Subaccount": "Subaccount", "BranchID": "Branch"}

PURCHASE_ORDER = EntityDef(
    name="PurchaseOrder",
    fields={
        "Type": S,
        "OrderNbr": S,
        "VendorID": S,
        "Date": T,
        "PromisedOn": T,
        "Status": S,
        "Hold": B,
        "CurrencyID": S,
        "Description": S,
        "VendorRef": S,
        "BranchID": S,
        "OrderTotal": D,
        "LastModifiedDateTime": T,
    },
    key=("Type", "OrderNbr"),
    details={
        "Details": {
            "LineNbr": Kind.INTEGER,
            **_LINE,
            "LineDescription": S,
            "OrderQty": D,
            "UnitCost": D,
            "ExtendedCost": D,
        }
    },
    required=("VendorID",),
    references={"VendorID": "Vendor", "BranchID": "Branch"},
    detail_references=_LINE_REFS,
    choices={
        "Type": ("Normal", "Drop Ship", "Blanket", "Standard"),
        "Status": ("On Hold", "Pending Approval", "Open", "Closed", "Canceled"),
    },
    computed=("Status", "OrderTotal", "LastModifiedDateTime"),
    number_format="PO{:06d}",
    released_statuses=("Closed", "Canceled"),
    defaults={"Type": "Normal", "Hold": False, "CurrencyID": "USD"},
    labels={"VendorID": "Vendor", "OrderNbr": "Order Nbr."},
)

BILL = EntityDef(
    name="Bill",
    fields={
        "Type": S,
        "ReferenceNbr": S,
        "Vendor": S,
        "VendorRef": S,
        "Date": T,
        "DueDate": T,
        "BranchID": S,
        "CurrencyID": S,
        "Description": S,
        "Amount": D,
        "Balance": D,
        "Status": S,
        "Hold": B,
        "LastModifiedDateTime": T,
    },
    key=("Type", "ReferenceNbr"),
    details={
        "Details": {
            "LineNbr": Kind.INTEGER,
            **_LINE,
            "TransactionDescription": S,
            "Qty": D,
            "UnitCost": D,
            "Amount": D,
            "POOrderNbr": S,
        }
    },
    required=("Vendor",),
    references={"Vendor": "Vendor", "BranchID": "Branch"},
    detail_references=_LINE_REFS,
    choices={
        "Type": ("Bill", "Credit Adj.", "Debit Adj.", "Prepayment"),
        "Status": ("On Hold", "Balanced", "Open", "Closed", "Voided"),
    },
    computed=("Amount", "Balance", "Status", "LastModifiedDateTime"),
    number_format="{:06d}",
    released_statuses=("Open", "Closed", "Voided"),
    defaults={"Type": "Bill", "Hold": False, "CurrencyID": "USD"},
    labels={"ReferenceNbr": "Reference Nbr.", "VendorRef": "Vendor Ref."},
)

CHECK = EntityDef(
    name="Check",
    fields={
        "Type": S,
        "ReferenceNbr": S,
        "Vendor": S,
        "PaymentMethod": S,
        "CashAccount": S,
        "PaymentRef": S,
        "ApplicationDate": T,
        "PaymentAmount": D,
        "Status": S,
        "Hold": B,
        "Description": S,
        "LastModifiedDateTime": T,
    },
    key=("Type", "ReferenceNbr"),
    details={"Details": {"DocType": S, "ReferenceNbr": S, "AmountPaid": D}},
    required=("Vendor", "PaymentAmount"),
    references={"Vendor": "Vendor"},
    choices={
        "Type": ("Payment", "Prepayment", "Refund", "Voided Payment"),
        "Status": ("On Hold", "Balanced", "Printed", "Closed", "Voided"),
    },
    computed=("Status", "LastModifiedDateTime"),
    number_format="{:06d}",
    released_statuses=("Closed", "Voided"),
    defaults={"Type": "Payment", "Hold": False, "PaymentMethod": "CHECK", "CashAccount": "10200"},
)

ENTITIES: tuple[EntityDef, ...] = (
    BRANCH,
    ACCOUNT,
    SUBACCOUNT,
    VENDOR,
    PURCHASE_ORDER,
    BILL,
    CHECK,
)

_BRANCHES = (("HEADOFFICE", "Head Office"), ("EAST", "East Branch"), ("WEST", "West Branch"))
_ACCOUNTS = (
    ("10200", "Company checking account", "Asset"),
    ("12000", "Inventory", "Asset"),
    ("20000", "Accounts payable", "Liability"),
    ("40000", "Sales", "Income"),
    ("61000", "Office supplies", "Expense"),
    ("62000", "Software", "Expense"),
    ("63000", "Travel", "Expense"),
    ("64000", "Repairs", "Expense"),
    ("65000", "Professional fees", "Expense"),
)
EXPENSES = tuple(a for a, _, t in _ACCOUNTS if t == "Expense")
_SUBACCOUNTS = (
    ("000000", "Default"),
    ("100000", "Sales department"),
    ("200000", "Operations"),
    ("300000", "Administration"),
    ("400000", "IT"),
)
_ITEMS = ("CONSULTING", "PAPER", "TONER", "SERVICE")


def seed_rows(options: AcumaticaOptions) -> list[tuple[EntityDef, dict[str, Any]]]:
    """(entity, plain values) in write order: masters before the documents naming them."""
    out: list[tuple[EntityDef, dict[str, Any]]] = []
    out += [(BRANCH, {"BranchID": b, "BranchName": n}) for b, n in _BRANCHES]
    out += [(ACCOUNT, {"AccountCD": a, "Description": d, "Type": t}) for a, d, t in _ACCOUNTS]
    out += [(SUBACCOUNT, {"SubaccountCD": s, "Description": d}) for s, d in _SUBACCOUNTS]
    rng = sd.rng_for(options.seed, "acumatica.vendors")
    vendors = []
    for i in range(options.vendor_count):
        name = sd.company_name(rng)
        vendors.append(f"V{i + 1:06d}")
        out.append(
            (
                VENDOR,
                {
                    "VendorID": vendors[-1],
                    "VendorName": name,
                    "VendorClass": rng.choice(("DEFAULT", "SERVICES", "SUPPLIES")),
                    "Status": rng.choice(("Active",) * 8 + ("On Hold", "Inactive")),
                    "CurrencyID": "USD",
                    "Terms": rng.choice(("30D", "15D", "COD")),
                    "PaymentMethod": "CHECK",
                    "TaxRegistrationID": sd.tax_id(rng),
                    "Email": sd.email_for(name, i + 1),
                },
            )
        )
    out += _documents(options, vendors)
    seed_stamps(
        ((e.name, values) for e, values in out),
        "LastModifiedDateTime",
        options.seed_epoch,
        options.records_per_timestamp,
    )
    return out


def _line(rng: Any, description_field: str, qty_field: str) -> dict[str, Any]:
    return {
        "InventoryID": rng.choice(_ITEMS),
        description_field: "Seeded line",
        qty_field: float(rng.randint(1, 10)),
        "UnitCost": round(rng.uniform(5, 400), 2),
        "Account": rng.choice(EXPENSES),
        "Subaccount": rng.choice(_SUBACCOUNTS)[0],
        "BranchID": rng.choice(_BRANCHES)[0],
    }


def _documents(options: AcumaticaOptions, vendors: list[str]) -> list[tuple[EntityDef, dict]]:
    if not vendors:
        return []
    rng = sd.rng_for(options.seed, "acumatica.documents")
    out: list[tuple[EntityDef, dict[str, Any]]] = []
    day = options.seed_epoch.replace(hour=0, minute=0, second=0, microsecond=0)
    for i in range(options.purchase_order_count):
        out.append(
            (
                PURCHASE_ORDER,
                {
                    "OrderNbr": f"PO{i + 1:06d}",
                    "VendorID": rng.choice(vendors),
                    "Date": day + timedelta(days=i),
                    "PromisedOn": day + timedelta(days=i + 10),
                    "Hold": rng.random() < 0.2,
                    "Description": f"Purchase order {i + 1}",
                    "BranchID": rng.choice(_BRANCHES)[0],
                    "Details": [
                        _line(rng, "LineDescription", "OrderQty") for _ in range(rng.randint(1, 3))
                    ],
                },
            )
        )
    for i in range(options.bill_count):
        out.append(
            (
                BILL,
                {
                    "ReferenceNbr": f"{i + 1:06d}",
                    "Vendor": rng.choice(vendors),
                    "VendorRef": f"INV-{rng.randint(10000, 99999)}",
                    "Date": day + timedelta(days=i),
                    "DueDate": day + timedelta(days=i + 30),
                    "BranchID": rng.choice(_BRANCHES)[0],
                    "Description": f"Bill {i + 1}",
                    "Hold": rng.random() < 0.2,
                    "Details": [
                        _line(rng, "TransactionDescription", "Qty")
                        for _ in range(rng.randint(1, 3))
                    ],
                    # Some bills come seeded as released, the way a live company has them.
                    "_released": rng.random() < 0.3,
                },
            )
        )
    for i in range(options.check_count):
        out.append(
            (
                CHECK,
                {
                    "ReferenceNbr": f"{i + 1:06d}",
                    "Vendor": rng.choice(vendors),
                    "PaymentRef": f"{1000 + i}",
                    "ApplicationDate": day + timedelta(days=i),
                    "PaymentAmount": round(rng.uniform(50, 5000), 2),
                    "Description": f"Payment {i + 1}",
                },
            )
        )
    return out
