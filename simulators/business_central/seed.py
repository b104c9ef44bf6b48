"""Deterministic seed data for one Business Central company, referentially consistent.

Each entity set draws from its own random stream (``seed.rng_for``), so adding a set never
shifts another's values, and documents only reference rows seeded before them: purchase orders
and invoices name real vendors, their lines real items or G/L accounts, and their shortcut
dimensions real DEPARTMENT / COSTCENTER values.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from simulators import seed as sd
from simulators.business_central.entities import STAMP

if TYPE_CHECKING:
    from simulators.business_central.options import BusinessCentralOptions
    from simulators.business_central.store import BusinessCentralStore, Row

# A small chart of accounts in CRONUS style: (number, name, category, subCategory, type).
CHART = (
    ("10000", "BALANCE SHEET", "Assets", "", "Heading"),
    ("10100", "Checking account", "Assets", "Cash", "Posting"),
    ("10400", "Accounts Receivable", "Assets", "Accounts Receivable", "Posting"),
    ("12200", "Inventory", "Assets", "Inventory", "Posting"),
    ("20100", "Accounts Payable", "Liabilities", "Current Liabilities", "Posting"),
    ("20500", "Sales Tax Payable", "Liabilities", "Current Liabilities", "Posting"),
    ("30100", "Owner's Capital", "Equity", "Common Stock", "Posting"),
    ("40100", "Sales, Goods", "Income", "Income, Product Sales", "Posting"),
    ("40200", "Sales, Services", "Income", "Income, Services", "Posting"),
    ("50100", "Cost of Materials", "CostOfGoodsSold", "COGS, Materials", "Posting"),
    ("60100", "Rent Expense", "Expense", "Rent Expense", "Posting"),
    ("60200", "Office Supplies", "Expense", "Other Expenses", "Posting"),
    ("60300", "Travel Expense", "Expense", "Travel Expense", "Posting"),
    ("60400", "Utilities", "Expense", "Utilities Expense", "Posting"),
    ("61000", "Software Subscriptions", "Expense", "Other Expenses", "Posting"),
    ("69999", "TOTAL EXPENSES", "Expense", "", "Total"),
)
DIMENSIONS = (
    ("DEPARTMENT", "Department", (("ADM", "Administration"), ("PROD", "Production"),
                                  ("SALES", "Sales"), ("IT", "IT"), ("FIN", "Finance"))),
    ("COSTCENTER", "Cost Center", (("CC100", "Headquarters"), ("CC200", "Plant Atlanta"),
                                   ("CC300", "Plant Denver"), ("CC400", "Field Service"))),
    ("PROJECT", "Project", (("TOYOTA", "Toyota Fleet Upgrade"), ("VW", "VW Service Contract"))),
)  # fmt: skip
_ITEM_WORDS = ("Bicycle", "Desk", "Chair", "Lamp", "Filter", "Valve", "Pump", "Sensor", "Cable")
_ITEM_KINDS = ("Standard", "Deluxe", "Compact", "Pro", "Mini")


def _stamp(options: BusinessCentralOptions, minutes: int) -> Any:
    return options.seed_epoch + timedelta(minutes=minutes)


def _day(options: BusinessCentralOptions, days: int) -> date:
    return (options.seed_epoch + timedelta(days=days)).date()


def seed_vendors(options: BusinessCentralOptions) -> list[dict[str, Any]]:
    """Deterministic vendors; ``records_per_timestamp`` of them share each timestamp.

    Shared timestamps are deliberate: a delta cursor on lastModifiedDateTime alone skips or
    repeats records at page and poll boundaries, and the connector must prove it does not.
    """
    rng = sd.rng_for(options.seed, "bc.vendors")
    terms = [sd.stable_guid("bc-payment-terms", code) for code in ("1M(8D)", "14 DAYS", "CM")]
    group = max(1, options.records_per_timestamp)
    vendors: list[dict[str, Any]] = []
    for i in range(options.vendor_count):
        name = sd.company_name(rng)
        addr = sd.address(rng)
        slot = i // group
        stamp = options.seed_epoch + timedelta(minutes=7 * slot, milliseconds=(slot * 137) % 1000)
        vendors.append(
            {
                "id": sd.random_guid(rng),
                "number": f"V{(i + 1) * 10:05d}",
                "displayName": name,
                "addressLine1": addr.street,
                "addressLine2": "",
                "city": addr.city,
                "state": addr.state,
                "country": addr.country,
                "postalCode": addr.postal_code,
                "phoneNumber": sd.phone_number(rng),
                "email": sd.email_for(name, i + 1),
                "taxRegistrationNumber": sd.tax_id(rng),
                "currencyCode": rng.choice(("", "", "", "CAD", "EUR")),
                "paymentTermsId": rng.choice(terms),
                "blocked": rng.choice((" ",) * 8 + ("Payment", "All")),
                "balance": round(rng.uniform(0, 25000), 2),
                STAMP: stamp,
            }
        )
    return vendors


def seed_company(store: BusinessCentralStore, company_id: str) -> None:
    options = store.options

    def add(entity_set: str, values: dict[str, Any], minutes: int | None = None) -> Row:
        stamp = values.pop(STAMP, None) or _stamp(options, minutes or 0)
        return store.insert(company_id, entity_set, values, stamp=stamp)

    for values in seed_vendors(options):
        add("vendors", values)
    vendors = store.rows(company_id, "vendors")

    rng = sd.rng_for(options.seed, "bc.customers")
    for i in range(options.customer_count):
        name = sd.company_name(rng)
        add(
            "customers",
            {
                "id": sd.random_guid(rng),
                "number": f"C{(i + 1) * 10:05d}",
                "displayName": name,
                "type": rng.choice(("Company",) * 4 + ("Person",)),
                "email": sd.email_for(name, i + 1).replace("ap", "ar", 1),
                "currencyCode": rng.choice(("", "", "CAD")),
                "blocked": rng.choice((" ",) * 9 + ("Invoice",)),
                "balanceDue": round(rng.uniform(0, 15000), 2),
                "creditLimit": float(rng.choice((0, 5000, 10000, 25000))),
            },
            5 * i + 1,
        )
    customers = store.rows(company_id, "customers")

    rng = sd.rng_for(options.seed, "bc.items")
    for i in range(options.item_count):
        cost = round(rng.uniform(5, 500), 2)
        add(
            "items",
            {
                "id": sd.random_guid(rng),
                "number": f"{1000 + i * 10}",
                "displayName": f"{rng.choice(_ITEM_KINDS)} {rng.choice(_ITEM_WORDS)}",
                "type": rng.choice(("Inventory",) * 3 + ("Service", "Non-Inventory")),
                "unitCost": cost,
                "unitPrice": round(cost * rng.uniform(1.2, 1.8), 2),
                "baseUnitOfMeasureCode": rng.choice(("PCS", "PCS", "BOX", "HOUR")),
                "inventory": float(rng.randint(0, 400)),
                "blocked": rng.random() < 0.05,
            },
            5 * i + 2,
        )
    items = store.rows(company_id, "items")

    for i, (number, name, category, sub, kind) in enumerate(CHART):
        add(
            "accounts",
            {
                "id": sd.stable_guid("bc-account", options.seed, number),
                "number": number,
                "displayName": name,
                "category": category,
                "subCategory": sub,
                "accountType": kind,
                "directPosting": kind == "Posting" and category in ("Expense", "Income"),
                "blocked": False,
            },
            i,
        )
    expense_accounts = [r for r in store.rows(company_id, "accounts") if r.values["directPosting"]]

    dimension_values: dict[str, list[str]] = {}
    for i, (code, name, members) in enumerate(DIMENSIONS):
        if code == "COSTCENTER" and options.cost_centers is not None:
            members = options.cost_centers
        dimension = add(
            "dimensions",
            {"id": sd.stable_guid("bc-dimension", options.seed, code), "code": code,
             "displayName": name},
            i,
        )  # fmt: skip
        for j, (value_code, value_name) in enumerate(members):
            add(
                "dimensionValues",
                {
                    "id": sd.stable_guid("bc-dimension-value", options.seed, code, value_code),
                    "dimensionId": dimension.values["id"],
                    "code": value_code,
                    "displayName": value_name,
                },
                10 * i + j,
            )
        dimension_values[code] = [v for v, _ in members]

    _seed_documents(store, company_id, vendors, items, expense_accounts, dimension_values)
    _seed_sales(store, company_id, customers, items)
    _seed_attachments(store, company_id)


def _seed_attachments(store: BusinessCentralStore, company_id: str) -> None:
    """The vendor's scan on the first purchase invoice, so attachments are there to read."""
    invoices = store.rows(company_id, "purchaseInvoices")
    if not invoices:
        return
    invoice = invoices[0]
    content = f"Scan of vendor invoice {invoice.values['vendorInvoiceNumber']}\n".encode()
    store.insert(
        company_id,
        "documentAttachments",
        {
            "id": sd.stable_guid("bc-attachment", store.options.seed, invoice.values["id"]),
            "fileName": f"{invoice.values['vendorInvoiceNumber']}.txt",
            "parentType": "Purchase Invoice",
            "parentId": invoice.values["id"],
            "attachmentContent": content,
            "byteSize": len(content),
        },
        stamp=invoice.values[STAMP],
    )


def _lines(
    rng: random.Random, items: Sequence[Row], accounts: Sequence[Row], price: str
) -> list[dict[str, Any]]:
    lines = []
    for _ in range(rng.randint(1, 4)):
        if items and (not accounts or rng.random() < 0.6):
            item = rng.choice(items)
            target = {
                "lineType": "Item",
                "itemId": item.values["id"],
                "lineObjectNumber": item.values["number"],
                "description": item.values["displayName"],
                price: item.values["unitCost" if price != "unitPrice" else "unitPrice"],
            }
        else:
            account = rng.choice(accounts)
            target = {"lineType": "Account", "accountId": account.values["id"],
                      "lineObjectNumber": account.values["number"],
                      "description": account.values["displayName"],
                      price: round(rng.uniform(50, 2000), 2)}  # fmt: skip
        lines.append({**target, "quantity": float(rng.randint(1, 20))})
    return lines


def _add_document(
    store: BusinessCentralStore,
    company_id: str,
    header_set: str,
    line_set: str,
    header: dict[str, Any],
    lines: list[dict[str, Any]],
    minutes: int,
) -> Row:
    """Header, then lines (which move the header), then the header's deterministic stamp."""
    row = store.insert(company_id, header_set, header)
    for line in lines:
        store.insert(company_id, line_set, {"documentId": row.values["id"], **line})
    stamp = store.options.seed_epoch + timedelta(minutes=minutes)
    return store.update(company_id, header_set, row.values["id"], {}, stamp=stamp)


def _purchase_party(
    rng: random.Random, vendor: Row, dimensions: dict[str, list[str]]
) -> dict[str, Any]:
    """Vendor and cost assignment of a purchase document (DEPARTMENT, COSTCENTER)."""
    return {
        "vendorId": vendor.values["id"],
        "vendorNumber": vendor.values["number"],
        "shortcutDimension1Code": rng.choice(dimensions["DEPARTMENT"]),
        "shortcutDimension2Code": rng.choice(dimensions["COSTCENTER"]),
        "currencyCode": vendor.values["currencyCode"],
    }


def _seed_documents(
    store: BusinessCentralStore,
    company_id: str,
    vendors: Sequence[Row],
    items: Sequence[Row],
    accounts: Sequence[Row],
    dimensions: dict[str, list[str]],
) -> None:
    options = store.options
    if not vendors:
        return
    rng = sd.rng_for(options.seed, "bc.purchaseOrders")
    for i in range(options.purchase_order_count):
        vendor = rng.choice(vendors)
        order_date = _day(options, rng.randint(0, 60))
        header = {
            "id": sd.random_guid(rng),
            "number": f"PO{(i + 1) * 10:05d}",
            "orderDate": order_date,
            "postingDate": order_date,
            **_purchase_party(rng, vendor, dimensions),
            "status": rng.choice(("Draft", "Open", "Released")),
        }
        lines = _lines(rng, items, accounts, "directUnitCost")
        for line in lines:
            line.update(receiveQuantity=line["quantity"], invoiceQuantity=line["quantity"])
            line.update(receivedQuantity=0.0, invoicedQuantity=0.0)
        _add_document(
            store, company_id, "purchaseOrders", "purchaseOrderLines", header, lines, 30 * i + 7
        )

    rng = sd.rng_for(options.seed, "bc.purchaseInvoices")
    for i in range(options.purchase_invoice_count):
        vendor = rng.choice(vendors)
        invoice_date = _day(options, rng.randint(0, 60))
        header = {
            "id": sd.random_guid(rng),
            "number": f"PI{(i + 1) * 10:05d}",
            "invoiceDate": invoice_date,
            "postingDate": invoice_date,
            "dueDate": invoice_date + timedelta(days=30),
            "vendorInvoiceNumber": f"INV-{rng.randint(10000, 99999)}",
            **_purchase_party(rng, vendor, dimensions),
        }
        lines = _lines(rng, items, accounts, "unitCost")
        row = _add_document(
            store, company_id, "purchaseInvoices", "purchaseInvoiceLines", header, lines,
            30 * i + 11,
        )  # fmt: skip
        if rng.random() < 0.5:  # about half are posted; posted documents are read-only
            stamp = row.values[STAMP]
            store.update(company_id, "purchaseInvoices", row.values["id"], {"status": "Open"},
                         stamp=stamp)  # fmt: skip


def _seed_sales(
    store: BusinessCentralStore, company_id: str, customers: Sequence[Row], items: Sequence[Row]
) -> None:
    options = store.options
    if not customers or not items:
        return
    rng = sd.rng_for(options.seed, "bc.salesInvoices")
    for i in range(options.sales_invoice_count):
        customer = rng.choice(customers)
        invoice_date = _day(options, rng.randint(0, 60))
        header = {
            "id": sd.random_guid(rng),
            "number": f"SI{(i + 1) * 10:05d}",
            "externalDocumentNumber": f"CUST-PO-{rng.randint(1000, 9999)}",
            "invoiceDate": invoice_date,
            "postingDate": invoice_date,
            "dueDate": invoice_date + timedelta(days=14),
            "customerId": customer.values["id"],
            "customerNumber": customer.values["number"],
            "currencyCode": customer.values["currencyCode"],
        }
        lines = _lines(rng, items, [], "unitPrice")
        _add_document(
            store, company_id, "salesInvoices", "salesInvoiceLines", header, lines, 30 * i + 13
        )
    journal = store.insert(
        company_id,
        "customerPaymentJournals",
        {
            "id": sd.stable_guid("bc-journal", options.seed, "GENERAL"),
            "code": "GENERAL",
            "displayName": "General payments",
            "balancingAccountId": sd.stable_guid("bc-account", options.seed, "10100"),
        },
        stamp=options.seed_epoch,
    )
    invoices = store.rows(company_id, "salesInvoices")[:2]
    for n, invoice in enumerate(invoices):
        store.insert(
            company_id,
            "customerPayments",
            {
                "journalId": journal.values["id"],
                "customerId": invoice.values["customerId"],
                "customerNumber": invoice.values["customerNumber"],
                "postingDate": invoice.values["invoiceDate"],
                "documentNumber": f"PAY{n + 1:04d}",
                "amount": invoice.values["totalAmountIncludingTax"],
                "appliesToInvoiceId": invoice.values["id"],
                "appliesToInvoiceNumber": invoice.values["number"],
            },
            stamp=options.seed_epoch + timedelta(minutes=n),
        )
    # The ledger's opening entries, so it is there to read; postings add to it.
    for number, debit, credit in (("10100", 25000.0, 0.0), ("30100", 0.0, 25000.0)):
        account = next(a for a in store.rows(company_id, "accounts")
                       if a.values["number"] == number)  # fmt: skip
        store.insert(
            company_id,
            "generalLedgerEntries",
            {"postingDate": options.seed_epoch.date(), "documentNumber": "OPENING",
             "documentType": " ", "accountId": account.values["id"], "accountNumber": number,
             "description": "Opening balance", "debitAmount": debit, "creditAmount": credit},
            stamp=options.seed_epoch,
        )  # fmt: skip
