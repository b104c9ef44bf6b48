"""Deterministic seed data of the ServiceTitan simulator: masters, then documents that use them.

Each kind draws from the one seeded random stream in a fixed order, and documents only
reference customers, business units and SKUs seeded before them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from simulators import seed as sd
from simulators.records import seed_stamps
from simulators.servicetitan.entities import (
    BILLS,
    BUSINESS_UNITS,
    CUSTOMERS,
    GL_ACCOUNTS,
    INVOICES,
    MATERIALS,
    PAYMENT_TYPES,
    PAYMENTS,
    PURCHASE_ORDERS,
    SERVICES,
    VENDORS,
    ResourceDef,
    purchase_order_bill,
)

if TYPE_CHECKING:
    from simulators.servicetitan.options import ServiceTitanOptions

_UNITS = ("HVAC - Service", "HVAC - Install", "Plumbing - Service", "Plumbing - Install")
_GL = (
    ("4000", "Revenue - Service", "Revenue"),
    ("4100", "Revenue - Install", "Revenue"),
    ("4200", "Revenue - Maintenance agreements", "Revenue"),
    ("5000", "Materials cost", "CostOfGoodsSold"),
    ("1200", "Accounts receivable", "AccountsReceivable"),
    ("1000", "Undeposited funds", "Bank"),
    ("2000", "Accounts payable", "AccountsPayable"),
)
_SERVICES = ("AC tune-up", "Furnace repair", "Drain cleaning", "Water heater flush", "Diagnostic")
_MATERIALS = ("Capacitor", "Contactor", "Filter 16x25", "PEX 1/2in", "Ball valve", "Thermostat")
_VENDORS = ((801, "Ferguson"), (802, "Johnstone Supply"), (803, "Winsupply"))

Seeded = list[tuple[ResourceDef, dict[str, Any]]]


def seed_rows(options: ServiceTitanOptions) -> Seeded:
    """(resource, row) in write order: masters, then documents referencing them."""
    rng = sd.rng_for(options.seed, "servicetitan")
    out: Seeded = []
    units = [{"id": BUSINESS_UNITS.first_id + i, "name": n} for i, n in enumerate(_UNITS)]
    for unit in units:
        out.append(
            (
                BUSINESS_UNITS,
                {
                    **unit,
                    "officialName": f"{unit['name']} LLC",
                    "email": "office@example.com",
                    "currency": "USD",
                    "active": True,
                },
            )
        )
    for i, (number, name, kind) in enumerate(_GL):
        out.append(
            (
                GL_ACCOUNTS,
                {
                    "id": GL_ACCOUNTS.first_id + i,
                    "number": number,
                    "name": name,
                    "type": kind,
                    "description": name,
                    "active": True,
                },
            )
        )
    customers = []
    for i in range(options.customer_count):
        addr = sd.address(rng)
        customer = {
            "id": CUSTOMERS.first_id + i,
            "name": f"{rng.choice(('Alex', 'Sam', 'Pat', 'Chris', 'Jordan'))} "
            f"{rng.choice(('Smith', 'Garcia', 'Lee', 'Patel', 'Brown', 'Nguyen'))}",
            "type": rng.choice(("Residential", "Residential", "Commercial")),
            "address": {
                "street": addr.street,
                "unit": None,
                "city": addr.city,
                "state": addr.state,
                "zip": addr.postal_code,
                "country": "USA",
            },
            "balance": 0.0,
            "doNotMail": False,
            "doNotService": False,
            "active": True,
        }
        customers.append(customer)
        out.append((CUSTOMERS, customer))
    skus = []
    for i, name in enumerate(_SERVICES):
        price = float(rng.randint(89, 450))
        row = {
            "id": SERVICES.first_id + i,
            "code": f"SVC-{i + 1:03d}",
            "displayName": name,
            "description": name,
            "price": price,
            "memberPrice": round(price * 0.85, 2),
            "addOnPrice": price,
            "hours": 1.0,
            "taxable": False,
            "account": "4000",
            "active": True,
        }
        skus.append(("Service", row))
        out.append((SERVICES, row))
    for i, name in enumerate(_MATERIALS):
        cost = round(rng.uniform(4, 120), 2)
        row = {
            "id": MATERIALS.first_id + i,
            "code": f"MAT-{i + 1:03d}",
            "displayName": name,
            "description": name,
            "cost": cost,
            "price": round(cost * 1.8, 2),
            "memberPrice": round(cost * 1.6, 2),
            "addOnPrice": round(cost * 1.8, 2),
            "taxable": True,
            "account": "5000",
            "unitOfMeasure": "Each",
            "isInventory": True,
            "active": True,
        }
        skus.append(("Material", row))
        out.append((MATERIALS, row))
    invoices = _invoices(options, rng, customers, units, skus)
    out += [(INVOICES, inv) for inv in invoices]
    out += [(PAYMENTS, p) for p in _payments(options, rng, invoices)]
    out += _purchasing(options, rng, units, [row for kind, row in skus if kind == "Material"])
    # Last, so that adding them moved no other seed row's stamp.
    out += [(VENDORS, _vendor(vendor_id, name)) for vendor_id, name in _VENDORS]
    seed_stamps(
        ((r.path, row) for r, row in out),
        "modifiedOn",
        options.seed_epoch,
        options.records_per_timestamp,
    )
    for _, row in out:
        row["createdOn"] = row["modifiedOn"]
    return out


def _vendor(vendor_id: int, name: str) -> dict[str, Any]:
    """An inventory vendor as ``GET /inventory/v2/tenant/{t}/vendors`` lists it."""
    return {
        "id": vendor_id,
        "name": name,
        "active": True,
        "isTruckReplenishment": False,
        "address": {"street": "", "unit": "", "city": "", "state": "", "zip": "",
                    "country": "USA"},
    }  # fmt: skip


def _day(options: ServiceTitanOptions, offset: int) -> datetime:
    return options.seed_epoch.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=offset
    )


def _invoices(
    options: ServiceTitanOptions,
    rng: Any,
    customers: list[dict[str, Any]],
    units: list[dict[str, Any]],
    skus: list[tuple[str, dict[str, Any]]],
) -> list[dict[str, Any]]:
    invoices = []
    for i in range(options.invoice_count if customers else 0):
        customer = rng.choice(customers)
        unit = rng.choice(units)
        items = []
        for j in range(rng.randint(1, 3)):
            kind, sku = rng.choice(skus)
            qty = float(rng.randint(1, 3))
            items.append(
                {
                    "id": (i + 1) * 100 + j,
                    "skuId": sku["id"],
                    "skuName": sku["code"],
                    "type": kind,
                    "description": sku["displayName"],
                    "quantity": qty,
                    "price": sku["price"],
                    "total": round(qty * sku["price"], 2),
                    "generalLedgerAccount": {"name": sku["account"]},
                }
            )
        sub_total = round(sum(item["total"] for item in items), 2)
        tax = round(sub_total * 0.07, 2)
        invoices.append(
            {
                "id": INVOICES.first_id + i,
                "syncStatus": rng.choice(("Pending", "Pending", "Posted", "Exported")),
                "summary": f"Job {i + 1} completed",
                "referenceNumber": f"{100000 + i}",
                "invoiceDate": _day(options, i % 28),
                "dueDate": _day(options, i % 28 + 30),
                "subTotal": sub_total,
                "salesTax": tax,
                "total": round(sub_total + tax, 2),
                "balance": round(sub_total + tax, 2),
                "memo": "",
                "customer": {"id": customer["id"], "name": customer["name"]},
                "businessUnit": {"id": unit["id"], "name": unit["name"]},
                "job": {"id": 900_000 + i, "number": f"{900_000 + i}"},
                "items": items,
                "active": True,
            }
        )
    return invoices


def _payments(
    options: ServiceTitanOptions, rng: Any, invoices: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    payments = []
    # Taken against finalized job invoices (in a posted batch), as the office records them.
    final = [inv for inv in invoices if inv["syncStatus"] != "Pending"]
    for i, invoice in enumerate(rng.sample(final, min(options.payment_count, len(final)))):
        amount = invoice["total"] if rng.random() < 0.7 else round(invoice["total"] / 2, 2)
        invoice["balance"] = round(invoice["balance"] - amount, 2)
        type_id = rng.choice(list(PAYMENT_TYPES))
        payments.append(
            {
                "id": PAYMENTS.first_id + i,
                "syncStatus": "Pending",
                "referenceNumber": f"P{10000 + i}",
                "date": invoice["invoiceDate"],
                "type": PAYMENT_TYPES[type_id],
                "typeId": type_id,
                "total": amount,
                "unappliedAmount": 0.0,
                "memo": "",
                "customer": dict(invoice["customer"]),
                "businessUnit": dict(invoice["businessUnit"]),
                "appliedTo": [
                    {
                        "appliedTo": invoice["id"],
                        "appliedAmount": amount,
                        "appliedOn": invoice["invoiceDate"],
                        "appliedBy": "office",
                    }
                ],
                "active": True,
            }
        )
    return payments


def _purchasing(
    options: ServiceTitanOptions,
    rng: Any,
    units: list[dict[str, Any]],
    materials: list[dict[str, Any]],
) -> Seeded:
    out: Seeded = []
    bill_id = BILLS.first_id
    for i in range(options.purchase_order_count):
        vendor_id, vendor_name = rng.choice(_VENDORS)
        items = []
        for j in range(rng.randint(1, 3)):
            sku = rng.choice(materials)
            qty = float(rng.randint(1, 12))
            items.append(
                {
                    "id": (i + 1) * 10 + j,
                    "skuId": sku["id"],
                    "skuCode": sku["code"],
                    "description": sku["displayName"],
                    "quantity": qty,
                    "quantityReceived": 0.0,
                    "cost": sku["cost"],
                    "total": round(qty * sku["cost"], 2),
                }
            )
        total = round(sum(item["total"] for item in items), 2)
        order = {
            "id": PURCHASE_ORDERS.first_id + i,
            "number": f"PO-{1000 + i}",
            "status": "Sent",
            "vendor": {"id": vendor_id, "name": vendor_name},
            "businessUnit": dict(rng.choice(units)),
            "date": _day(options, i),
            "requiredOn": _day(options, i + 7),
            "total": total,
            "tax": round(total * 0.07, 2),
            "shipping": 0.0,
            "items": items,
            "active": True,
        }
        out.append((PURCHASE_ORDERS, order))
        if rng.random() < 0.4:
            order["status"] = "Received"
            for item in items:
                item["quantityReceived"] = item["quantity"]
            out.append((BILLS, purchase_order_bill(order, bill_id, order["requiredOn"])))
            bill_id += 1
    return out
