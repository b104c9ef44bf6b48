"""Deterministic seed data of the ServiceNow simulator, referentially consistent.

Source-to-Pay rows carry the ERP keys the Business Central simulator seeds with the same
defaults (vendor numbers V00010..., G/L accounts 60100..., cost centers CC100...), so a demo
can join both systems; each kind draws from its own random stream (``seed.rng_for``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from simulators import seed as sd

if TYPE_CHECKING:
    from simulators.servicenow.store import ServiceNowStore

GL_ACCOUNTS = (
    ("20100", "Accounts Payable", "Liability"),
    ("50100", "Cost of Materials", "Expense"),
    ("60100", "Rent Expense", "Expense"),
    ("60200", "Office Supplies", "Expense"),
    ("60300", "Travel Expense", "Expense"),
    ("60400", "Utilities", "Expense"),
    ("61000", "Software Subscriptions", "Expense"),
)
COST_CENTERS = (
    ("CC100", "Headquarters"),
    ("CC200", "Plant Atlanta"),
    ("CC300", "Plant Denver"),
    ("CC400", "Field Service"),
)
APPROVALS = ("requested", "approved", "rejected")

Adder = Callable[[str, dict[str, Any], int], dict[str, str]]


def seed_instance(store: ServiceNowStore) -> None:
    """Users, roles, companies, then the Source-to-Pay data; no core_company vendors unless
    ``preexisting_vendor_numbers`` asks (connector tests count those)."""
    options = store.options
    rng = sd.rng_for(options.seed, "sn.seed")
    epoch = options.seed_epoch
    tables = store.tables

    def at(minutes: int) -> Any:
        return epoch + timedelta(minutes=minutes)

    def add(table: str, values: dict[str, Any], minutes: int) -> dict[str, str]:
        values = {"sys_id": sd.random_sys_id(rng), **values}
        return tables[table].insert(values, user="admin", now=at(minutes))

    user = add(
        "sys_user",
        {
            "user_name": options.username,
            "name": "ML Connector Integration",
            "first_name": "ML Connector",
            "last_name": "Integration",
            "email": f"{options.username}@{options.instance}.example.com",
            "active": "true",
        },
        0,
    )
    for i, role_name in enumerate(options.user_roles):
        role = add("sys_user_role", {"name": role_name}, i)
        add("sys_user_has_role", {"user": user["sys_id"], "role": role["sys_id"]}, i)
    for i in range(options.company_count):
        addr = sd.address(rng)
        add(
            "core_company",
            {
                "name": sd.company_name(rng),
                "street": addr.street,
                "city": addr.city,
                "state": addr.state,
                "zip": addr.postal_code,
                "country": addr.country,
                "phone": sd.phone_number(rng),
                "customer": "true" if i % 2 == 0 else "false",
                "manufacturer": "true" if i % 3 == 0 else "false",
            },
            10 + i,
        )
    for i, number in enumerate(options.preexisting_vendor_numbers):
        add(
            "core_company",
            {
                "name": f"{sd.company_name(rng)} (legacy)",
                "u_vendor_number": number,
                "vendor": "true",
                "u_active": "true",
            },
            100 + i,
        )
    # Last, so earlier rows keep the sys_ids they had before these tables existed.
    _seed_source_to_pay(store, add)
    _seed_currencies(store)


CURRENCIES = {"USD": ("US Dollar", "$"), "CAD": ("Canadian Dollar", "$"),
              "EUR": ("Euro", "€"), "GBP": ("Pound Sterling", "£")}  # fmt: skip


def _seed_currencies(store: ServiceNowStore) -> None:
    """Its own random stream, so the rows seeded before keep their sys_ids."""
    rng = sd.rng_for(store.options.seed, "sn.currencies")
    for code in store.options.currencies:
        name, symbol = CURRENCIES.get(code, (code, ""))
        values = {"sys_id": sd.random_sys_id(rng), "code": code, "name": name,
                  "symbol": symbol, "active": "true"}  # fmt: skip
        store.tables["fx_currency"].insert(values, user="admin", now=store.options.seed_epoch)


def _seed_source_to_pay(store: ServiceNowStore, add: Adder) -> None:
    options = store.options
    rng = sd.rng_for(options.seed, "sn.s2p")
    suppliers = []
    for i in range(options.supplier_count):
        name = sd.company_name(rng)
        addr = sd.address(rng)
        suppliers.append(
            add(
                "sn_fin_supplier",
                {
                    "name": name,
                    "legal_name": name,
                    "number": f"SUP{i + 1:05d}",
                    "u_erp_vendor_number": f"V{(i + 1) * 10:05d}",
                    "tax_id": sd.tax_id(rng),
                    "email": sd.email_for(name, i + 1),
                    "phone": sd.phone_number(rng),
                    "currency": "USD",
                    "street": addr.street,
                    "city": addr.city,
                    "state": addr.state,
                    "zip": addr.postal_code,
                    "country": addr.country,
                    "active": "true",
                },
                200 + i,
            )
        )
    accounts = []
    chart = GL_ACCOUNTS if options.gl_accounts is None else options.gl_accounts
    for i, (number, name, kind) in enumerate(chart):
        values = {"account_number": number, "name": name, "account_type": kind, "active": "true"}
        add("itfm_gl_accounts", dict(values), 300 + i)
        accounts.append(add("sn_fin_gl_account", {**values, "category": kind}, 300 + i))
    centers = [
        add("cmn_cost_center", {"code": code, "name": name, "u_active": "true"}, 320 + i)
        for i, (code, name) in enumerate(
            COST_CENTERS if options.cost_centers is None else options.cost_centers
        )
    ]
    companies = [r for r in store.tables["core_company"].records.values()]
    if not suppliers:
        return
    refs = _Refs(suppliers, accounts, centers, companies)
    for i in range(options.purchase_order_count):
        _seed_order(store, add, rng, i, refs)
    for i in range(options.invoice_count):
        _seed_invoice(add, rng, i, refs)


def _lines(rng: random.Random) -> list[tuple[int, float]]:
    return [(rng.randint(1, 10), round(rng.uniform(20, 900), 2)) for _ in range(rng.randint(1, 3))]


@dataclass(frozen=True)
class _Refs:
    """Seeded rows documents point at."""

    suppliers: list[dict[str, str]]
    accounts: list[dict[str, str]]
    centers: list[dict[str, str]]
    companies: list[dict[str, str]]


def _line(n: int, quantity: int, price: float, account: dict[str, str], center: str) -> dict:
    return {
        "line_number": str(n),
        "quantity": str(quantity),
        "unit_price": f"{price:.2f}",
        "total_amount": f"{quantity * price:.2f}",
        "gl_account": account["sys_id"],
        "cost_center": center,
        "description": f"{account['name']} line {n}",
    }


def _seed_order(
    store: ServiceNowStore, add: Adder, rng: random.Random, i: int, refs: _Refs
) -> None:
    supplier, center = rng.choice(refs.suppliers), rng.choice(refs.centers)
    companies = refs.companies
    lines = _lines(rng)
    total = f"{sum(q * p for q, p in lines):.2f}"
    approval = rng.choice(APPROVALS)
    day = (store.options.seed_epoch + timedelta(days=rng.randint(0, 60))).date().isoformat()
    order = add(
        "sn_shop_purchase_order",
        {
            "number": f"SPO{i + 1:07d}", "u_erp_number": f"PO{(i + 1) * 10:05d}",
            "supplier": supplier["sys_id"], "cost_center": center["sys_id"],
            "state": "ordered" if approval == "approved" else "draft", "approval": approval,
            "order_date": day, "currency": "USD", "total_amount": total,
        },
        400 + i,
    )  # fmt: skip
    proc = add(
        "proc_po",
        {
            "number": f"PO{i + 1:07d}", "u_erp_number": f"PO{(i + 1) * 10:05d}",
            "vendor": rng.choice(companies)["sys_id"] if companies else "",
            "cost_center": center["sys_id"], "status": "ordered", "approval": approval,
            "po_date": day, "currency": "USD", "total_cost": total,
        },
        400 + i,
    )  # fmt: skip
    for n, (quantity, price) in enumerate(lines, start=1):
        account = rng.choice(refs.accounts)
        amount = f"{quantity * price:.2f}"
        line = _line(n, quantity, price, account, center["sys_id"])
        add("sn_shop_purchase_order_line", {"purchase_order": order["sys_id"], **line}, 400 + i)
        add(
            "proc_po_item",
            {
                "purchase_order": proc["sys_id"], "u_line_number": str(n),
                "ordered_quantity": str(quantity), "cost": f"{price:.2f}", "total_cost": amount,
                "status": "ordered", "short_description": f"{account['name']} line {n}",
            },
            400 + i,
        )  # fmt: skip


def _seed_invoice(add: Adder, rng: random.Random, i: int, refs: _Refs) -> None:
    supplier, center = rng.choice(refs.suppliers), rng.choice(refs.centers)
    lines = _lines(rng)
    approval = rng.choice(APPROVALS)
    invoice = add(
        "sn_shop_invoice",
        {
            "number": f"APINV{i + 1:07d}", "u_erp_number": f"PI{(i + 1) * 10:05d}",
            "invoice_number": f"INV-{rng.randint(10000, 99999)}",
            "supplier": supplier["sys_id"], "cost_center": center["sys_id"],
            "state": "approved" if approval == "approved" else "pending", "approval": approval,
            "currency": "USD", "total_amount": f"{sum(q * p for q, p in lines):.2f}",
        },
        500 + i,
    )  # fmt: skip
    for n, (quantity, price) in enumerate(lines, start=1):
        line = _line(n, quantity, price, rng.choice(refs.accounts), center["sys_id"])
        add("sn_shop_invoice_line", {"invoice": invoice["sys_id"], **line}, 500 + i)
