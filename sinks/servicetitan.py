"""ServiceTitan as a target: ERP items into the pricebook, as services or materials.

That is all ServiceTitan takes here. Business Central's chart of accounts stays the system of
record (ServiceTitan has no chart-of-accounts API to write to), and AP bills are created by
ServiceTitan itself when a purchase order is received, never through the API: a flow asking
for either is refused by ``config check``, and a record of another kind reaching this target
is refused by it with that reason.

Which list an item goes to is a table by ERP item type (``PRICEBOOK_TYPES``, replaced per flow
by ``pricebook_types``); the columns written are declared tables too, and a flow's field
overrides reshape them as for any target. The pricebook has no upsert and no idempotency key,
so every write looks the code up first (``ServiceTitanClient.upsert_by_code``): PATCH what
differs when it is there, POST when it is not. A replay or an offset reset therefore creates
nothing new. ServiceTitan deletes no pricebook entry: a blocked or deleted item is written
inactive, so jobs that used it keep their history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ml_connector.clients.servicetitan import ServiceTitanClient
from ml_connector.config import Settings
from ml_connector.connections.servicetitan import ServiceTitanConnection
from ml_connector.records import Record
from ml_connector.values import comparable
from sinks.base import Outcome, SinkRecord, TargetContext
from sinks.overrides import Overrides, Refused

ENTITIES = ("item",)

# ERP item type -> pricebook list; Business Central's three item types.
PRICEBOOK_TYPES: Mapping[str, str] = {
    "Service": "service",
    "Inventory": "material",
    "Non-Inventory": "material",
}
RESOURCES: Mapping[str, str] = {"service": "services", "material": "materials"}

# Pricebook column <- canonical item field, per list. BC items carry no description: the
# pricebook's own (what technicians show customers) is left alone; a flow can set one with
# ``fields.item.description``.
COMMON = {"code": "number", "displayName": "name", "price": "unit_price"}
COLUMNS: Mapping[str, Mapping[str, str]] = {
    "service": COMMON,
    "material": {**COMMON, "cost": "unit_cost", "unitOfMeasure": "unit_of_measure"},
}
REFUSED = {
    "gl_account": "ServiceTitan has no chart-of-accounts API: the ERP's chart stays the "
    "system of record",
    "purchase_invoice": "ServiceTitan AP bills are read-only (created when a purchase order "
    "is received)",
}


def json_value(value: Any) -> Any:
    """Canonical values as the pricebook's JSON takes them: decimals as numbers."""
    if value is None or isinstance(value, bool | str | int | float):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def render(kind: str, item: Mapping[str, Any]) -> Record:
    """One pricebook entry; fields the item does not hold are left to ServiceTitan."""
    body: Record = {col: json_value(item.get(f)) for col, f in COLUMNS[kind].items()}
    body = {k: v for k, v in body.items() if v is not None}
    body["active"] = not item.get("blocked", False)
    if kind == "material":
        body["isInventory"] = item.get("type") == "Inventory"
    return body


@dataclass(frozen=True)
class Placement:
    """Which list items of each type go to, for the items of one source connection."""

    types: Mapping[str, str]
    where: str  # the key to fix when a type is missing

    def kind(self, item_type: str | None) -> str | None:
        return self.types.get(item_type or "")


def placements(settings: Settings, target: str) -> dict[str, Placement]:
    """Per source connection, the table of the flow carrying its items into ``target``."""
    found: dict[str, Placement] = {}
    for name, flow in settings.flows.items():
        if flow.target == target and "item" in flow.entities:
            types = flow.pricebook_types if flow.pricebook_types is not None else PRICEBOOK_TYPES
            found[flow.source] = Placement(types, f"flows.{name}.pricebook_types")
    return found


DEFAULT = Placement(PRICEBOOK_TYPES, "pricebook_types")


class ServiceTitanTarget:
    # The pricebook holds entries of its own (created in ServiceTitan): reconciliation
    # reports what the ERP's items lack there, not what ServiceTitan adds.
    holds_own = frozenset(ENTITIES)

    def __init__(
        self,
        client: ServiceTitanClient,
        placed: Mapping[str, Placement] | None = None,
        overrides: Overrides[Any] | None = None,
    ) -> None:
        self.client = client
        self.placed = dict(placed or {})
        self.overrides = overrides or Overrides[Any]({})

    async def start(self) -> None:
        """Nothing to check before writing."""

    async def write(self, record: SinkRecord) -> Outcome:
        if record.entity not in ENTITIES:
            reason = REFUSED.get(record.entity, "ServiceTitan takes pricebook items only")
            return Outcome("rejected", error=f"not writing {record.entity}: {reason}")
        event = record.event
        item = event["after"] or event["before"]
        if item is None:
            return Outcome("rejected", error="event carries neither before nor after")
        if event["op"] == "d" or event["after"] is None:
            # A delete names the item, not its type or prices: whichever list holds the code
            # keeps the entry as it was, inactive.
            return await self._retire(str(item["number"]))
        source = str((event.get("source") or {}).get("connection"))
        placement = self.placed.get(source, DEFAULT)
        kind = placement.kind(item.get("type"))
        if kind is None:
            return Outcome("rejected", error=f"item {item['number']} is of type "
                           f"{item.get('type')!r}, which {placement.where} does not place "
                           f"(it places {', '.join(sorted(placement.types))})")  # fmt: skip
        try:
            body = self.overrides.apply(record, render(kind, item), item)
        except Refused as exc:
            return Outcome("rejected", error=str(exc))
        # Field errors (a code too long, a value of the wrong kind) raise InvalidFields: the
        # item goes to the dead-letter topic naming them.
        resource = RESOURCES[kind]
        status, entry = await self.client.upsert_by_code(resource, body)
        if status != "unchanged" and body.get("active", True):
            await self._retire_elsewhere(resource, str(body["code"]))
        target_id = str(entry["id"])
        if status == "unchanged":
            return Outcome("ignored", target_id=target_id, note=f"{kind} {body['code']} matches")
        return Outcome("inserted" if status == "created" else "updated", target_id=target_id)

    async def _retire_elsewhere(self, resource: str, code: str) -> None:
        """An item whose type moved it to the other list: its old entry goes inactive, so the
        field sees one price for the code."""
        await self._deactivate(code, [r for r in RESOURCES.values() if r != resource])

    async def _retire(self, code: str) -> Outcome:
        retired = await self._deactivate(code, list(RESOURCES.values()))
        if not retired:
            return Outcome("ignored", note=f"{code} is in no pricebook list, or inactive")
        return Outcome("updated", target_id=retired[0])

    async def _deactivate(self, code: str, resources: list[str]) -> list[str]:
        """Ids of the active entries under ``code`` in ``resources``, now inactive."""
        done = []
        for resource in resources:
            held = await self.client.find_by_code(resource, code)
            if held is not None and held.get("active", True):
                await self.client.patch(resource, int(held["id"]), {"active": False})
                done.append(str(held["id"]))
        return done

    async def snapshot(self, entity: str) -> dict[str, dict[str, str]]:
        """The pricebook by case-folded code, as canonical item fields."""
        types = _types_of(self.placed.values() or [DEFAULT])
        held: dict[str, dict[str, str]] = {}
        for kind, resource in RESOURCES.items():
            async for page in self.client.read(resource, active="any", pageSize="5000"):
                for entry in page:
                    row = {
                        "name": comparable(entry.get("displayName")),
                        "unit_price": comparable(entry.get("price")),
                        "blocked": comparable(not entry.get("active", True)),
                    }
                    if kind == "material":
                        row["unit_cost"] = comparable(entry.get("cost"))
                    inventory = kind == "material" and bool(entry.get("isInventory"))
                    item_type = types.get((kind, inventory))
                    if item_type is not None:
                        row["type"] = item_type
                    held[str(entry.get("code", "")).casefold()] = row
        return held

    async def aclose(self) -> None:
        await self.client.aclose()


def _types_of(placed: Any) -> dict[tuple[str, Any], str]:
    """(list, isInventory) -> the one ERP item type every flow places there; a place that
    two types share tells no type, and is left out of comparisons."""
    seen: dict[tuple[str, Any], set[str]] = {}
    for placement in placed:
        for item_type, kind in placement.types.items():
            where = (kind, kind == "material" and item_type == "Inventory")
            seen.setdefault(where, set()).add(item_type)
    return {where: next(iter(t)) for where, t in seen.items() if len(t) == 1}


def columns(entity: str) -> frozenset[str]:
    """The pricebook columns rendered for ``entity``, what an override may rename or drop."""
    if entity not in ENTITIES:
        return frozenset()
    rendered = {col for kind in COLUMNS for col in COLUMNS[kind]}
    return frozenset(rendered | {"active", "isInventory"})


def target(connection: ServiceTitanConnection, ctx: TargetContext) -> ServiceTitanTarget:
    client = ServiceTitanClient(connection, ctx.secrets, retry=ctx.retry)
    overrides = Overrides.of(ctx.settings, ctx.name, json_value)
    return ServiceTitanTarget(client, placements(ctx.settings, ctx.name), overrides)
