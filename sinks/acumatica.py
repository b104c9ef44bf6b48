"""Acumatica as a target: purchase requests approved in ServiceNow become purchase orders.

That is all Acumatica takes: it is the financial system of record, so bills, payments and
ledger entries are never written into it from ServiceNow (a flow asking for them is refused
by ``config check``, and a record of another kind reaching this target is refused by it).

Acumatica has no idempotency key either, and a PUT without the order's number always inserts
(the number series assigns it). So every write starts with a look-up of the order carrying
the ServiceNow number in ``origin_field`` (Vendor Ref. by default): found, the request is
done and nothing is written, so a replay or an offset reset creates nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml_connector.api.odata import odata_string
from ml_connector.clients.acumatica import AcumaticaClient
from ml_connector.connections.acumatica import AcumaticaConnection
from ml_connector.records import Record
from ml_connector.values import comparable
from sinks.base import Outcome, SinkRecord, TargetContext

ENTITIES = ("purchase_order",)
ORDER = "PurchaseOrder"


def order_line(line: Mapping[str, Any]) -> Record:
    body: Record = {
        "LineDescription": line.get("description") or "",
        "Account": line.get("account_number"),
        "Subaccount": line.get("cost_center"),
        "InventoryID": line.get("item_number"),
    }
    # JSON numbers: the Default endpoint's decimals.
    for field, name in (("OrderQty", "quantity"), ("UnitCost", "unit_cost")):
        if line.get(name) is not None:
            body[field] = float(line[name])
    return {k: v for k, v in body.items() if v is not None}


def render(doc: Mapping[str, Any], origin_field: str) -> Record:
    """The order, its lines charged to their accounts and subaccounts (cost centers)."""
    body: Record = {
        "Type": "Normal",
        "VendorID": doc["vendor_number"],
        origin_field: doc["number"],
        "Description": f"ServiceNow request {doc['number']}",
        "Details": [order_line(line) for line in doc.get("lines") or []],
    }
    if doc.get("order_date") is not None:
        body["Date"] = doc["order_date"].isoformat()
    if doc.get("currency"):
        body["CurrencyID"] = doc["currency"]
    return body


class AcumaticaTarget:
    def __init__(self, client: AcumaticaClient, origin_field: str) -> None:
        self.client = client
        self.origin_field = origin_field

    async def start(self) -> None:
        await self.client.check_version()

    async def write(self, record: SinkRecord) -> Outcome:
        if record.entity not in ENTITIES:
            refused = f"Acumatica takes purchase orders only, not {record.entity}"
            return Outcome("rejected", error=f"{refused}: it is the system of record")
        doc = record.event["after"]
        if doc is None:
            return Outcome("ignored", note="withdrawn in ServiceNow: the Acumatica order stays")
        if not doc.get("number"):
            return Outcome("rejected", error="the request carries no ServiceNow number")
        held = await self.find(str(doc["number"]))
        if held is not None:
            return Outcome("ignored", target_id=str(held["id"]),
                           note=f"already Acumatica order {held.get('OrderNbr')}")  # fmt: skip
        # Field errors (an unknown vendor, account or subaccount) raise InvalidFields: the
        # request goes to the dead-letter topic naming them.
        created = await self.client.put(ORDER, render(doc, self.origin_field))
        return Outcome("inserted", target_id=str(created["id"]))

    async def find(self, number: str) -> Record | None:
        query = f"{self.origin_field} eq {odata_string(number)}"
        async for page in self.client.read(ORDER, filter=query):
            if page:
                return page[0]
        return None

    async def snapshot(self, entity: str) -> dict[str, dict[str, str]]:
        """Acumatica's orders by the ServiceNow number they carry, as canonical fields; those
        entered in Acumatica directly carry none and are not compared (see ``reconcile``)."""
        held: dict[str, dict[str, str]] = {}
        async for page in self.client.read(ORDER):
            for order in page:
                number = str(order.get(self.origin_field) or "").casefold()
                if number:
                    held[number] = {
                        "vendor_number": str(order.get("VendorID") or ""),
                        "total_excluding_tax": comparable(order.get("OrderTotal")),
                    }
        return held

    async def aclose(self) -> None:
        await self.client.aclose()


def target(connection: AcumaticaConnection, ctx: TargetContext) -> AcumaticaTarget:
    client = AcumaticaClient(connection, ctx.secrets, retry=ctx.retry)
    return AcumaticaTarget(client, connection.origin_field)
