"""The F&O simulator's data and write rules: legal entities, natural keys, posted documents.

Rows live in a ``records.Database`` keyed by a RecId-like integer (never rendered: F&O's
public entities are addressed by natural key). The rules here are the ones a client must
respect on the real system: a line needs its header first, a posted document refuses every
write, a create with an existing natural key fails, and references must resolve.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

from simulators.base import SimulatorState
from simulators.deliveries import outbox_for, retry_on_server_errors
from simulators.finance_operations.entities import (
    ENTITIES,
    FIRST_RECID,
    NULL_DATE,
    EntityDef,
    Nav,
)
from simulators.finance_operations.events import BusinessEvents
from simulators.finance_operations.seed import seed_rows
from simulators.odata import Kind
from simulators.records import (
    Database,
    DuplicateKey,
    InvalidValue,
    Row,
    TableSpec,
    coerce_value,
)

if TYPE_CHECKING:
    from simulators.finance_operations.options import FinanceOperationsOptions

WRITE_EXCEPTION = "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException"


class FnoError(Exception):
    """An F&O error: status plus the infolog text the error body carries."""

    def __init__(self, status: int, message: str, inner_type: str = WRITE_EXCEPTION) -> None:
        super().__init__(message)
        self.status = status
        self.inner_type = inner_type


class FinanceOperationsStore(SimulatorState):
    def __init__(self, options: FinanceOperationsOptions) -> None:
        super().__init__()
        self.options = options
        self.entities: dict[str, EntityDef] = {e.name: e for e in ENTITIES}
        extra = {options.modified_field: Kind.DATETIME} if options.modified_field else {}
        self.fields: dict[str, dict[str, Kind]] = {e.name: {**e.fields, **extra} for e in ENTITIES}
        self.companies = [options.legal_entity, *options.other_legal_entities]
        self.db = Database(self.clock, self.lock)
        recids = itertools.count(FIRST_RECID)
        for entity in ENTITIES:
            self.db.add_table(
                TableSpec(
                    entity.name,
                    entity.key,
                    new_id=lambda: next(recids),
                    modified_field=options.modified_field,
                    stamp_precision_us=10**6,  # utcdatetime holds whole seconds
                )
            )
        for entity, values in seed_rows(options):
            stamp = values.get(options.modified_field) if options.modified_field else None
            self.db.insert(entity.name, self.complete(entity, values), stamp=stamp)
        self._numbers: dict[tuple[str, str], int] = {}
        for table in self.db.tables.values():
            for row in table.rows.values():
                scope_key = (table.spec.name, row["dataAreaId"])
                self._numbers[scope_key] = self._numbers.get(scope_key, 0) + 1
        # Subscribed after seeding: loading data is not a business event.
        self.outbox = outbox_for(
            self.clock, options, options.event_retry_delays, retry_on_server_errors
        )
        self.events = BusinessEvents(
            self.outbox,
            list(options.business_event_endpoints),
            options.seed,
            options.initiating_user_object_id,
        )
        self.db.subscribe(self.events.on_change)

    # -- reads ---------------------------------------------------------------------------

    def rows(self, entity: EntityDef, cross_company: bool) -> list[Row]:
        rows = self.db.rows(entity.name)
        if cross_company:
            return rows
        return [r for r in rows if r["dataAreaId"] == self.options.legal_entity]

    def find(self, entity: EntityDef, key: Mapping[str, Any]) -> Row | None:
        normalized = {**key, "dataAreaId": str(key.get("dataAreaId", "")).lower()}
        return self.db.find(entity.name, (normalized[k] for k in entity.key))

    def get(self, entity: EntityDef, key: Mapping[str, Any]) -> Row:
        row = self.find(entity, key)
        if row is None:
            raise FnoError(404, f"Resource not found for the segment '{entity.name}'.", "")
        return row

    def related(self, entity: EntityDef, row: Mapping[str, Any], nav_name: str) -> list[Row]:
        nav = entity.navigation[nav_name]
        target = self.entities[nav.target]
        if not nav.many:
            found = self.find(target, {remote: row.get(local) for local, remote in nav.pairs})
            return [found] if found is not None else []
        return [
            r
            for r in self.db.rows(target.name)
            if all(r.get(remote) == row.get(local) for local, remote in nav.pairs)
        ]

    def is_posted(self, entity: EntityDef, row: Mapping[str, Any]) -> bool:
        if entity.posted is not None and row.get(entity.posted[0]) == entity.posted[1]:
            return True
        if entity.parent is not None:
            parent = self.entities[entity.navigation[entity.parent].target]
            return any(self.is_posted(parent, p) for p in self.related(entity, row, entity.parent))
        return False

    def version(self, entity: EntityDef, row: Mapping[str, Any]) -> int:
        return self.db.sequence_of(entity.name, row["id"])

    # -- writes --------------------------------------------------------------------------

    def coerce(self, entity: EntityDef, body: Mapping[str, Any]) -> dict[str, Any]:
        fields = self.fields[entity.name]
        values: dict[str, Any] = {}
        for name, value in body.items():
            if name.startswith("@odata."):
                continue
            if name not in fields:
                raise FnoError(
                    400,
                    f"The property '{name}' does not exist on type '{entity.qualified_type}'. "
                    "Make sure to only use property names that are defined by the type.",
                    "Microsoft.OData.ODataException",
                )
            try:
                values[name] = coerce_value(fields[name], value, name)
            except InvalidValue as exc:
                raise FnoError(400, str(exc), "Microsoft.OData.ODataException") from None
            members = entity.enums.get(name, ("", ()))[1]
            if members and values[name] not in members:
                raise FnoError(
                    400,
                    f"The value '{value}' is not a valid member of enum type "
                    f"'{entity.enums[name][0]}'.",
                    "Microsoft.OData.ODataException",
                )
        return values

    def complete(self, entity: EntityDef, values: Mapping[str, Any]) -> dict[str, Any]:
        """F&O never answers null: blank strings, zeros, first enum member, 1900-01-01."""
        blank = {
            Kind.STRING: "",
            Kind.DECIMAL: 0.0,
            Kind.INTEGER: 0,
            Kind.DATETIME: NULL_DATE,
            Kind.BOOLEAN: False,
        }
        data: dict[str, Any] = {}
        for name, kind in entity.fields.items():
            default = entity.enums[name][1][0] if name in entity.enums else blank.get(kind)
            data[name] = entity.defaults.get(name, default)
        data.update({k: v for k, v in values.items() if v is not None})
        data["dataAreaId"] = str(data["dataAreaId"]).lower()
        return data

    def _failed(self, entity: EntityDef, detail: str) -> FnoError:
        return FnoError(
            self.options.write_error_status,
            f"Write failed for table row of type '{entity.type_name}Entity'. "
            f"Infolog: Error: {detail}",
        )

    def _check_references(self, entity: EntityDef, row: Mapping[str, Any]) -> None:
        names = ([entity.parent] if entity.parent else []) + list(entity.references)
        for nav_name in names:
            nav: Nav = entity.navigation[nav_name]
            local = nav.pairs[-1][0]
            if not row.get(local) and nav_name != entity.parent:
                continue  # an optional reference left blank
            target = self.entities[nav.target]
            found = self.related(entity, row, nav_name)
            if not found:
                raise self._failed(
                    entity,
                    f"The value '{row.get(local)}' in field '{local}' is not found in the "
                    f"relating table '{target.label}'.",
                )
            if nav_name == entity.parent and self.is_posted(target, found[0]):
                raise self._posted(target, found[0])

    def _posted(self, entity: EntityDef, row: Mapping[str, Any]) -> FnoError:
        key = ", ".join(f"{k}: {row.get(k)}" for k in entity.key[1:])
        return self._failed(
            entity, f"The document ({key}) has been posted and can no longer be changed."
        )

    def _next_number(self, entity: EntityDef, data: Mapping[str, Any]) -> Any:
        last = entity.key[-1]
        scope = entity.key[:-1]
        siblings = [r for r in self.db.rows(entity.name) if all(r[k] == data.get(k) for k in scope)]
        if entity.fields[last] is Kind.INTEGER:
            return max((int(r[last]) for r in siblings), default=0) + 1
        assert entity.number_format is not None
        # A number sequence per company: it continues from the seed and skips numbers that
        # a client chose itself.
        scope_key = (entity.name, str(data.get("dataAreaId")))
        taken = {r[last] for r in siblings}
        n = self._numbers.get(scope_key, 0) + 1
        while entity.number_format.format(n) in taken:
            n += 1
        self._numbers[scope_key] = n
        return entity.number_format.format(n)

    def create(self, entity: EntityDef, body: Mapping[str, Any]) -> Row:
        values = self.coerce(entity, body)
        values.setdefault("dataAreaId", self.options.legal_entity)
        with self.lock:
            data = self.complete(entity, values)
            if data["dataAreaId"] not in self.companies:
                raise self._failed(entity, f"Company '{data['dataAreaId']}' does not exist.")
            last = entity.key[-1]
            if not data.get(last) and (entity.number_format or entity.fields[last] is Kind.INTEGER):
                data[last] = self._next_number(entity, data)
            self._check_references(entity, data)
            try:
                return self.db.insert(entity.name, data)
            except DuplicateKey as exc:
                shown = ", ".join(f"{k}: {v}" for k, v in list(exc.key.items())[1:])
                raise self._failed(
                    entity,
                    f"Cannot create a record in {entity.label}. {shown}. "
                    "The record already exists.",
                ) from None

    def update(self, entity: EntityDef, row: Row, body: Mapping[str, Any]) -> Row:
        values = self.coerce(entity, body)
        with self.lock:
            if self.is_posted(entity, row):
                raise self._posted(entity, row)
            for name in entity.key:
                if name in values and values[name] != row[name]:
                    raise self._failed(
                        entity, f"The key field '{name}' cannot be changed on an existing record."
                    )
            merged = {**row, **values}
            self._check_references(entity, merged)
            return self.db.update(entity.name, row["id"], values)

    def delete(self, entity: EntityDef, row: Row) -> None:
        with self.lock:
            if self.is_posted(entity, row):
                raise self._posted(entity, row)
            for nav_name, nav in entity.navigation.items():
                target = self.entities[nav.target]
                if nav.many and target.parent is not None:
                    # Lines go with their header, as F&O's cascade delete does.
                    for child in self.related(entity, row, nav_name):
                        self.db.delete(target.name, child["id"])
            self.db.delete(entity.name, row["id"])

    def row_by_id(self, entity: EntityDef, row_id: Hashable) -> Row:
        return self.db.get(entity.name, row_id)
