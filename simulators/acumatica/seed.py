"""Deterministic seed data of the Acumatica simulator: branches, accounts, vendors, documents.

Vendors and documents draw from random streams of their own (``seed.rng_for``), and documents
only reference vendors, accounts and branches seeded before them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from simulators import seed as sd
from simulators.acumatica.entities import (
    ACCOUNT,
    BILL,
    BRANCH,
    CHECK,
    PURCHASE_ORDER,
    SUBACCOUNT,
    VENDOR,
    EntityDef,
)
from simulators.records import seed_stamps

if TYPE_CHECKING:
    from simulators.acumatica.options import AcumaticaOptions

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
    _add_contacts(options, [values for entity, values in out if entity is VENDOR])
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
    bills = [values for entity, values in out if entity is BILL]
    # Each payment pays one bill of its vendor, the way AP pays them; a bill is paid once.
    paying = rng.sample(bills, min(len(bills), options.check_count))
    for i in range(options.check_count):
        amount = round(rng.uniform(50, 5000), 2)
        paid = paying[i] if i < len(paying) else None
        out.append(
            (
                CHECK,
                {
                    "ReferenceNbr": f"{i + 1:06d}",
                    "Vendor": paid["Vendor"] if paid else rng.choice(vendors),
                    "PaymentRef": f"{1000 + i}",
                    "ApplicationDate": day + timedelta(days=i),
                    "PaymentAmount": amount,
                    "Description": f"Payment {i + 1}",
                    "Details": [{"DocType": "Bill", "ReferenceNbr": paid["ReferenceNbr"],
                                 "AmountPaid": amount}] if paid else [],
                },
            )
        )  # fmt: skip
    return out


_CITIES = (("Seattle", "WA", "98101"), ("Portland", "OR", "97204"), ("Denver", "CO", "80202"))
_STREETS = ("Main St", "Market St", "Commerce Way", "Harbor Rd")
_PEOPLE = (("Ann", "Lee"), ("Raj", "Patel"), ("Maria", "Gomez"), ("Tom", "Berg"))


def _add_contacts(options: AcumaticaOptions, vendors: list[dict[str, Any]]) -> None:
    """Each vendor's contacts: the main one (the business account) with its address, a
    primary person, and remittance / shipping contacts that start as the main one, as the
    screen copies them until overridden. A stream of its own keeps the other seeds unchanged."""
    rng = sd.rng_for(options.seed, "acumatica.vendor-contacts")
    for values in vendors:
        city, state, postal = rng.choice(_CITIES)
        address = {
            "AddressLine1": f"{rng.randint(10, 9999)} {rng.choice(_STREETS)}",
            "City": city,
            "State": state,
            "PostalCode": postal,
            "Country": "US",
            "Validated": False,
        }
        main = {
            "DisplayName": values["VendorName"],
            "CompanyName": values["VendorName"],
            "Email": values["Email"],
            "Phone1": f"+1 206 555 {rng.randint(1000, 9999)}",
            "Phone1Type": "Business 1",
            "Address": address,
        }
        first, last = rng.choice(_PEOPLE)
        values["MainContact"] = main
        values["PrimaryContact"] = {
            "DisplayName": f"{first} {last}",
            "FirstName": first,
            "LastName": last,
            "CompanyName": values["VendorName"],
            "Email": f"{first.lower()}.{last.lower()}@{values['Email'].split('@')[-1]}",
            "Address": dict(address),
        }
        values["RemittanceContact"] = {**main, "Address": dict(address)}
        values["ShippingContact"] = {**main, "Address": dict(address)}
