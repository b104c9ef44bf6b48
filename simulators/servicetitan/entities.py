"""ServiceTitan V2 resources served by the simulator (their seed data is in ``seed``).

Rows are stored in ServiceTitan's JSON shape (camelCase, nested ``{id, name}`` references)
with Python datetimes for timestamps. Definitions say where a resource lives
(``/{module}/v2/tenant/{tenantId}/{path}``), what a client may write, and which webhook event
names its changes raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simulators.odata import Kind

S, D, B, T = Kind.STRING, Kind.DECIMAL, Kind.BOOLEAN, Kind.DATETIME


@dataclass(frozen=True)
class ResourceDef:
    module: str
    path: str  # also the table name; unique across modules
    event: str  # webhook event prefix, e.g. "invoice" for invoice.created
    first_id: int
    writable: Mapping[str, Kind] = field(default_factory=dict)  # fields POST/PATCH accept
    required: tuple[str, ...] = ()  # on POST
    create: bool = False
    patch: bool = False
    unique: str | None = None  # a field that must stay unique (pricebook codes)
    export: bool = False  # served by /{module}/v2/tenant/{t}/export/{path}


BUSINESS_UNITS = ResourceDef("settings", "business-units", "business-unit", 1001)
GL_ACCOUNTS = ResourceDef("accounting", "gl-accounts", "gl-account", 2001)
CUSTOMERS = ResourceDef("crm", "customers", "customer", 5_000_001, export=True)
_PRICEBOOK = {
    "code": S,
    "displayName": S,
    "description": S,
    "price": D,
    "memberPrice": D,
    "addOnPrice": D,
    "active": B,
    "taxable": B,
    "account": S,
}
SERVICES = ResourceDef(
    "pricebook",
    "services",
    "service",
    30_001,
    writable={**_PRICEBOOK, "hours": D},
    required=("code", "displayName"),
    create=True,
    patch=True,
    unique="code",
)
MATERIALS = ResourceDef(
    "pricebook",
    "materials",
    "material",
    40_001,
    writable={**_PRICEBOOK, "cost": D, "unitOfMeasure": S, "isInventory": B},
    required=("code", "displayName"),
    create=True,
    patch=True,
    unique="code",
)
INVOICES = ResourceDef(
    "accounting",
    "invoices",
    "invoice",
    10_000_001,
    writable={"summary": S, "invoiceDate": T, "dueDate": T, "memo": S},
    patch=True,
    export=True,
)
PAYMENTS = ResourceDef("accounting", "payments", "payment", 20_000_001, create=True, export=True)
PURCHASE_ORDERS = ResourceDef("inventory", "purchase-orders", "purchase-order", 60_001)
BILLS = ResourceDef("inventory", "bills", "bill", 70_001)
VENDORS = ResourceDef("inventory", "vendors", "vendor", 801)

RESOURCES: tuple[ResourceDef, ...] = (
    BUSINESS_UNITS,
    GL_ACCOUNTS,
    CUSTOMERS,
    SERVICES,
    MATERIALS,
    INVOICES,
    PAYMENTS,
    PURCHASE_ORDERS,
    BILLS,
    VENDORS,
)

PAYMENT_TYPES = {1: "Cash", 2: "Check", 3: "Credit Card", 4: "ACH"}


def purchase_order_bill(order: dict[str, Any], bill_id: int, received: datetime) -> dict[str, Any]:
    """The AP bill ServiceTitan creates when a PO is received with auto-create-bill on."""
    return {
        "id": bill_id,
        "purchaseOrderId": order["id"],
        "syncStatus": "Pending",
        "referenceNumber": f"B-{order['number']}",
        "vendorNumber": order["vendor"]["name"],
        "summary": f"Received {order['number']}",
        "billDate": received,
        "dueDate": received + timedelta(days=30),
        "billAmount": order["total"],
        "taxAmount": order["tax"],
        "shippingAmount": order["shipping"],
        "businessUnit": dict(order["businessUnit"]),
        "vendor": dict(order["vendor"]),
        "items": [
            {
                "skuId": item["skuId"],
                "skuCode": item["skuCode"],
                "description": item["description"],
                "quantity": item["quantity"],
                "cost": item["cost"],
                "total": item["total"],
            }
            for item in order["items"]
        ],
        "active": True,
    }
