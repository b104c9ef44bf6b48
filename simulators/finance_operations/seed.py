"""Deterministic seed data of the F&O simulator: accounts and vendors per legal entity, and
purchase orders and invoices of the integration user's own one.

Each kind draws from its own random stream (``seed.rng_for``), and documents only reference
vendors seeded before them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from simulators import seed as sd
from simulators.finance_operations.entities import (
    INVOICE_HEADERS,
    INVOICE_LINES,
    MAIN_ACCOUNTS,
    PO_HEADERS,
    PO_LINES,
    VENDORS,
    EntityDef,
)
from simulators.records import seed_stamps

if TYPE_CHECKING:
    from simulators.finance_operations.options import FinanceOperationsOptions

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
