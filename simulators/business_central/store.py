"""The Business Central simulator's data: companies, rows, document lines, etags, changes.

Rows keep Python values; rendering to BC's JSON happens in ``render``. Document lines live in
their own sets with a reference to the header (``EntitySetDef.parent_field``); any line change
recomputes the header's totals and moves its lastModifiedDateTime, as BC does. Every write is
reported to ``listeners`` (webhooks), whether it came through the API or the inspection routes.
"""

from __future__ import annotations

import copy
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from simulators import seed as sd
from simulators.base import SimulatorState
from simulators.business_central.entities import (
    ENTITY_SETS,
    LINE_PRICE_FIELD,
    STAMP,
    TOTALS,
    VENDORS,
    ZERO_GUID,
    EntitySetDef,
    children_of,
)
from simulators.business_central.values import (
    DuplicateKey,
    InvalidValue,
    NotFound,
    ReadOnly,
    StoreError,
    coerce,
    format_datetime,
    make_etag,
    to_json,
    truncate_ms,
)
from simulators.odata import Kind

if TYPE_CHECKING:
    from simulators.business_central.options import BusinessCentralOptions

__all__ = [
    "COMPANY_FIELDS",
    "VENDORS",
    "BusinessCentralStore",
    "Change",
    "DuplicateKey",
    "EntitySetDef",
    "InvalidValue",
    "NotFound",
    "ReadOnly",
    "Row",
    "StoreError",
    "coerce",
    "format_datetime",
]

ChangeType = Literal["created", "updated", "deleted"]
POSTED_STATUSES = frozenset({"Open", "Paid", "Canceled", "Corrective"})


@dataclass
class Row:
    values: dict[str, Any]
    version: int  # store-wide row version, like SQL rowversion; feeds the etag


@dataclass(frozen=True)
class Change:
    company_id: str
    entity_set: str
    row_id: str
    change_type: ChangeType
    stamp: datetime


@dataclass
class Company:
    id: str
    name: str
    created_at: datetime
    tables: dict[str, dict[str, Row]] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        stamp = format_datetime(self.created_at)
        return {
            "id": self.id,
            "systemVersion": "25.0.23364.0",
            "timestamp": 0,
            "name": self.name,
            "displayName": self.name,
            "businessProfileId": "",
            "systemCreatedAt": stamp,
            "systemCreatedBy": ZERO_GUID,
            "systemModifiedAt": stamp,
            "systemModifiedBy": ZERO_GUID,
        }


COMPANY_FIELDS: Mapping[str, Kind] = {
    "id": Kind.GUID,
    "name": Kind.STRING,
    "displayName": Kind.STRING,
}


class BusinessCentralStore(SimulatorState):
    """Companies and their entity sets, plus the shared clock, tokens and request log.

    It starts with one empty company; ``seed.seed_company`` fills it through the store's own
    writes (``app.seeded_store`` does both).
    """

    def __init__(self, options: BusinessCentralOptions) -> None:
        super().__init__()
        self.options = options
        self.entity_sets: dict[str, EntitySetDef] = {d.name: d for d in ENTITY_SETS}
        self.listeners: list[Callable[[Change], None]] = []
        self._held: list[Change] | None = None  # changes of an atomic batch not yet committed
        self._version = 0
        # $batch operations by method and route template: the request log sees only the
        # batch, and a test counting writes must see what is inside it too.
        self.batch_operations: Counter[tuple[str, str | None]] = Counter()
        self.companies: dict[str, Company] = {}
        company_id = options.company_id or sd.stable_guid(
            "bc-company", options.tenant, options.environment, options.company_name
        )
        company = Company(company_id, options.company_name, options.seed_epoch)
        company.tables = {name: {} for name in self.entity_sets}
        self.companies[company_id] = company

    # -- reads ---------------------------------------------------------------------------

    def default_company_id(self) -> str:
        return next(iter(self.companies))

    def _table(self, company_id: str, entity_set: str) -> dict[str, Row]:
        company = self.companies.get(company_id)
        if company is None or entity_set not in company.tables:
            raise NotFound(f"The company '{company_id}' does not exist.")
        return company.tables[entity_set]

    def rows(self, company_id: str, entity_set: str, parent_id: str | None = None) -> list[Row]:
        """All rows, or the lines of one header when ``parent_id`` is given."""
        definition = self.entity_sets[entity_set]
        with self.lock:
            rows = list(self._table(company_id, entity_set).values())
        if parent_id is None or definition.parent_field is None:
            return rows
        return [r for r in rows if r.values.get(definition.parent_field) == parent_id.lower()]

    def get(self, company_id: str, entity_set: str, row_id: str) -> Row:
        with self.lock:
            row = self._table(company_id, entity_set).get(row_id.lower())
        if row is None:
            label = self.entity_sets[entity_set].label
            raise NotFound(
                f"The {label} does not exist. Identification fields and values: Id='{row_id}'"
            )
        return row

    def etag(self, row: Row) -> str:
        return make_etag(row.values["id"], row.version)

    def render(
        self,
        entity_set: str,
        row: Row,
        select: Iterable[str] | None = None,
        expand: Iterable[str] = (),
        company_id: str | None = None,
    ) -> dict[str, Any]:
        definition = self.entity_sets[entity_set]
        names = list(select) if select is not None else list(definition.fields)
        out: dict[str, Any] = {"@odata.etag": self.etag(row)}
        for name in names:
            out[name] = to_json(row.values.get(name))
        for child in expand:
            lines = self.rows(company_id or self.default_company_id(), child, row.values["id"])
            lines.sort(key=lambda r: r.values.get(self.entity_sets[child].key_field) or 0)
            out[child] = [self.render(child, line) for line in lines]
        return out

    # -- writes --------------------------------------------------------------------------

    def _bump(self, row: Row, stamp: datetime | None) -> datetime:
        self._version += 1
        row.version = self._version
        moved = truncate_ms(stamp or self.clock.now())
        row.values[STAMP] = moved
        return moved

    def _notify(self, company_id: str, entity_set: str, row: Row, change: ChangeType) -> None:
        event = Change(company_id, entity_set, row.values["id"], change, row.values[STAMP])
        if self._held is not None:
            self._held.append(event)
            return
        for listener in list(self.listeners):
            listener(event)

    def _scope(self, definition: EntitySetDef, table: dict[str, Row], row: Row) -> list[Row]:
        """Rows sharing ``row``'s key space: its header's lines, or the whole set."""
        if definition.parent_field is None:
            return list(table.values())
        parent = row.values.get(definition.parent_field)
        return [r for r in table.values() if r.values.get(definition.parent_field) == parent]

    def _check_unique(self, definition: EntitySetDef, table: dict[str, Row], row: Row) -> None:
        key = definition.key_field
        for other in self._scope(definition, table, row):
            same_row = other.values["id"] == row.values["id"]
            if not same_row and other.values.get(key) == row.values.get(key):
                raise DuplicateKey(
                    f"The record already exists. Identification fields and values: "
                    f"{key}='{row.values.get(key)}'"
                )

    def _next_key(self, definition: EntitySetDef, table: dict[str, Row], row: Row) -> Any:
        key, prefix = definition.key_field, definition.number_prefix
        scope = self._scope(definition, table, row)
        if definition.fields[key] is Kind.INTEGER:
            # Line numbers step by 10000, so lines can be inserted between others.
            return max((int(r.values.get(key) or 0) for r in scope), default=0) + 10000
        # BC's number series: prefix plus digits, stepping by 10 past the highest in use.
        used = [
            int(str(r.values.get(key))[len(prefix) :])
            for r in scope
            if str(r.values.get(key, "")).startswith(prefix)
            and str(r.values.get(key))[len(prefix) :].isdigit()
        ]
        return f"{prefix}{max(used, default=0) + 10:05d}"

    def _header(self, company_id: str, definition: EntitySetDef, values: Mapping[str, Any]) -> Row:
        assert definition.parent is not None and definition.parent_field is not None
        parent_id = str(values.get(definition.parent_field) or "")
        return self.get(company_id, definition.parent, parent_id)

    def check_writable(
        self, company_id: str, entity_set: str, method: str, row: Row | None = None
    ) -> None:
        """ReadOnly for the chart of accounts and for posted documents and their lines."""
        definition = self.entity_sets[entity_set]
        if not definition.writable:
            raise ReadOnly(
                f"'{method}' requests for '{entity_set}' of EdmType 'Entity' are not allowed "
                "within Dynamics 365 Business Central OData web services.",
                "BadRequest_MethodNotAllowed",
                entity_level=True,
            )
        header = row
        if row is not None and definition.parent is not None:
            header = self._header(company_id, definition, row.values)
        if header is not None and header.values.get("status") in POSTED_STATUSES:
            raise ReadOnly(
                f"{definition.label} {header.values.get('number')} has been posted and can "
                "no longer be changed.",
                "Application_DialogException",
                entity_level=False,
            )

    def insert(
        self,
        company_id: str,
        entity_set: str,
        values: Mapping[str, Any],
        *,
        stamp: datetime | None = None,
    ) -> Row:
        """Insert ``values``; the server assigns id, key (if blank), stamp and etag."""
        definition = self.entity_sets[entity_set]
        with self.lock:
            table = self._table(company_id, entity_set)
            data: dict[str, Any] = {
                name: definition.defaults.get(name, "" if kind is Kind.STRING else None)
                for name, kind in definition.fields.items()
            }
            data.update(values)
            data["id"] = str(values.get("id") or uuid.uuid4()).lower()
            header = None
            if definition.parent is not None:
                header = self._header(company_id, definition, data)
                assert definition.parent_field is not None
                data[definition.parent_field] = header.values["id"]
            row = Row(data, 0)
            if not data.get(definition.key_field):
                data[definition.key_field] = self._next_key(definition, table, row)
            self._check_unique(definition, table, row)
            self._bump(row, stamp)
            table[data["id"]] = row
            self._notify(company_id, entity_set, row, "created")
            if header is not None:
                self._touch_header(company_id, definition, header)
            return row

    def update(
        self,
        company_id: str,
        entity_set: str,
        row_id: str,
        changes: Mapping[str, Any],
        *,
        stamp: datetime | None = None,
    ) -> Row:
        """Apply ``changes``; only a real change moves lastModifiedDateTime and the etag."""
        definition = self.entity_sets[entity_set]
        with self.lock:
            table = self._table(company_id, entity_set)
            row = self.get(company_id, entity_set, row_id)
            changed = {k: v for k, v in changes.items() if row.values.get(k) != v}
            if not changed and stamp is None:
                return row
            candidate = Row({**row.values, **changed}, row.version)
            self._check_unique(definition, table, candidate)
            row.values.update(changed)
            self._bump(row, stamp)
            self._notify(company_id, entity_set, row, "updated")
            if definition.parent is not None:
                self._touch_header(
                    company_id, definition, self._header(company_id, definition, row.values)
                )
            return row

    def delete(self, company_id: str, entity_set: str, row_id: str) -> None:
        """Delete a row; a header takes its lines with it, a line moves its header."""
        definition = self.entity_sets[entity_set]
        with self.lock:
            row = self.get(company_id, entity_set, row_id)
            for child in children_of(entity_set):
                for line in self.rows(company_id, child.name, row.values["id"]):
                    del self._table(company_id, child.name)[line.values["id"]]
            del self._table(company_id, entity_set)[row.values["id"]]
            row.values[STAMP] = truncate_ms(self.clock.now())
            self._notify(company_id, entity_set, row, "deleted")
            if definition.parent is not None:
                parent_id = str(row.values.get(str(definition.parent_field)))
                header = self._table(company_id, definition.parent).get(parent_id)
                if header is not None:
                    self._touch_header(company_id, definition, header)

    def _touch_header(self, company_id: str, line_def: EntitySetDef, header: Row) -> None:
        """Recompute the header's totals from its lines and move its stamp (BC notifies it)."""
        price = LINE_PRICE_FIELD.get(line_def.name)
        assert line_def.parent is not None
        if price is None:
            return  # not a document line: a journal or dimension is not changed by its rows
        if True:
            lines = self.rows(company_id, line_def.name, header.values["id"])
            total = round(
                sum((r.values.get("quantity") or 0) * (r.values.get(price) or 0) for r in lines), 2
            )
            tax = round(total * self.options.tax_rate, 2)
            header.values.update(zip(TOTALS, (total, tax, round(total + tax, 2)), strict=True))
            if "remainingAmount" in header.values and header.values.get("status") == "Draft":
                header.values["remainingAmount"] = round(total + tax, 2)
        self._bump(header, None)
        self._notify(company_id, line_def.parent, header, "updated")

    # -- atomic batches ------------------------------------------------------------------

    def snapshot(self) -> tuple[dict[str, dict[str, dict[str, Row]]], int]:
        """Everything a rolled-back ``$batch`` must restore (rows and the version counter).

        Changes made until ``commit`` or ``restore`` are held back from listeners, so a
        rolled-back batch never notifies anyone.
        """
        with self.lock:
            tables = {cid: copy.deepcopy(c.tables) for cid, c in self.companies.items()}
            self._held = []
            return tables, self._version

    def restore(self, saved: tuple[dict[str, dict[str, dict[str, Row]]], int]) -> None:
        tables, version = saved
        with self.lock:
            for cid, company in self.companies.items():
                company.tables = tables[cid]
            self._version = version
            self._held = None

    def commit(self) -> None:
        with self.lock:
            held, self._held = self._held or [], None
        for event in held:
            for listener in list(self.listeners):
                listener(event)

    def coerce_all(self, entity_set: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Inspection helper: every known field coerced, unknown names refused."""
        definition = self.entity_sets[entity_set]
        unknown = [name for name in values if name not in definition.fields]
        if unknown:
            raise InvalidValue(f"Unknown field '{unknown[0]}' on {entity_set}.")
        return {name: coerce(definition, name, value) for name, value in values.items()}
