"""Acumatica entities of the ``Default`` contract-based endpoint (their seed data is in ``seed``).

Field names follow the Default endpoint (Vendor, PurchaseOrder, Bill, Check, Account,
Subaccount, Branch) as apis.md lists them. Definitions are data: the REST layer, the upsert
rules and push notifications all read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simulators.odata import Kind

S, D, B, T = Kind.STRING, Kind.DECIMAL, Kind.BOOLEAN, Kind.DATETIME


@dataclass(frozen=True)
class LinkedDef:
    """A linked entity (one object, not a list of detail lines), e.g. a vendor's MainContact."""

    type_name: str  # its type in the endpoint's schema ("Contact", "Address")
    fields: Mapping[str, Kind]
    linked: Mapping[str, LinkedDef] = field(default_factory=dict)


# The Default endpoint's Address and Contact (Acumatica's REST client for C#,
# Acumatica.Default_20.200.001/Model/Address.cs and Contact.cs), the fields a vendor's
# contacts carry; the CRM-only ones (activities, campaigns, marketing) are left out.
ADDRESS = LinkedDef(
    "Address",
    {
        "AddressLine1": S,
        "AddressLine2": S,
        "City": S,
        "State": S,
        "PostalCode": S,
        "Country": S,
        "Validated": B,
    },
)
CONTACT = LinkedDef(
    "Contact",
    {
        "DisplayName": S,
        "CompanyName": S,
        "Attention": S,
        "FirstName": S,
        "LastName": S,
        "JobTitle": S,
        "Email": S,
        "Phone1": S,
        "Phone1Type": S,
        "Phone2": S,
        "Fax": S,
        "WebSite": S,
    },
    {"Address": ADDRESS},
)


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
    linked: Mapping[str, LinkedDef] = field(default_factory=dict)  # expanded by $expand only

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
    # The Default endpoint's Vendor (Model/Vendor.cs): four contacts, each with its address.
    linked={
        "MainContact": CONTACT,
        "PrimaryContact": CONTACT,
        "RemittanceContact": CONTACT,
        "ShippingContact": CONTACT,
    },
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
        "CurrencyID": S,
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
    defaults={
        "Type": "Payment",
        "Hold": False,
        "PaymentMethod": "CHECK",
        "CashAccount": "10200",
        "CurrencyID": "USD",
    },
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
