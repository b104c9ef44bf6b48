"""In-memory tables with unique keys, modified stamps, a change sequence and change listeners.

Written once for the simulators whose stores are plain rows (F&O, Acumatica, ServiceTitan):
each row is a dict of Python values keyed by a table-specific ``id``. Every change gets the
next number of one store-wide sequence, which feeds etags, export continuation tokens and
event control numbers, and is handed to listeners so webhooks, business events and push
notifications fire from the same place whether the API or the inspection routes wrote.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from simulators.clock import SimClock
from simulators.odata import Kind, parse_datetime

ChangeKind = Literal["created", "updated", "deleted"]


class RecordError(Exception):
    """Base of errors each simulator renders in its own error body."""


class NotFound(RecordError):
    pass


class DuplicateKey(RecordError):
    def __init__(self, table: str, key: Mapping[str, Any]) -> None:
        self.table = table
        self.key = dict(key)
        shown = ", ".join(f"{k}: {v}" for k, v in key.items())
        super().__init__(f"A record with {shown} already exists in {table}.")


class InvalidValue(RecordError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


Row = dict[str, Any]


@dataclass(frozen=True)
class Change:
    table: str
    kind: ChangeKind
    before: Row | None  # copies, so listeners can compare without racing later writes
    after: Row | None
    sequence: int
    at: datetime


Listener = Callable[[Change], None]


@dataclass
class TableSpec:
    name: str
    key_fields: tuple[str, ...]  # the natural key, unique within the table
    new_id: Callable[[], Hashable]  # server-assigned id when a write brings none
    modified_field: str | None = None  # moved to the clock's now on every real change
    created_field: str | None = None  # set once, on insert
    # Stamps keep the system's precision, else "gt <rendered stamp>" matches the row itself.
    stamp_precision_us: int = 1000

    def truncate(self, moment: datetime) -> datetime:
        step = self.stamp_precision_us
        return moment.replace(microsecond=moment.microsecond // step * step if step < 10**6 else 0)


@dataclass
class Table:
    spec: TableSpec
    rows: dict[Hashable, Row] = field(default_factory=dict)
    by_key: dict[tuple[Any, ...], Hashable] = field(default_factory=dict)
    sequences: dict[Hashable, int] = field(default_factory=dict)

    def key_of(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(row.get(name) for name in self.spec.key_fields)


class Database:
    """Tables sharing one lock, one clock and one change sequence."""

    def __init__(self, clock: SimClock, lock: threading.RLock) -> None:
        self.clock = clock
        self.lock = lock
        self.tables: dict[str, Table] = {}
        self.sequence = 0
        self._listeners: list[Listener] = []

    def add_table(self, spec: TableSpec) -> Table:
        table = Table(spec)
        self.tables[spec.name] = table
        return table

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def table(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise NotFound(f"Unknown table '{name}'.") from None

    # -- reads ---------------------------------------------------------------------------

    def rows(self, name: str) -> list[Row]:
        with self.lock:
            return list(self.table(name).rows.values())

    def get(self, name: str, row_id: Hashable) -> Row:
        with self.lock:
            row = self.table(name).rows.get(row_id)
        if row is None:
            raise NotFound(f"No record with id {row_id!r} in {name}.")
        return row

    def find(self, name: str, key: Iterable[Any]) -> Row | None:
        with self.lock:
            table = self.table(name)
            row_id = table.by_key.get(tuple(key))
            return None if row_id is None else table.rows[row_id]

    def sequence_of(self, name: str, row_id: Hashable) -> int:
        with self.lock:
            return self.table(name).sequences[row_id]

    # -- writes --------------------------------------------------------------------------

    def _stamp(self, table: Table, row: Row, stamp: datetime | None) -> int:
        self.sequence += 1
        table.sequences[row["id"]] = self.sequence
        if table.spec.modified_field:
            row[table.spec.modified_field] = table.spec.truncate(stamp or self.clock.now())
        return self.sequence

    def _notify(self, change: Change) -> None:
        for listener in list(self._listeners):
            listener(change)

    def insert(self, name: str, values: Mapping[str, Any], *, stamp: datetime | None = None) -> Row:
        with self.lock:
            table = self.table(name)
            row: Row = dict(values)
            if row.get("id") is None:
                row["id"] = table.spec.new_id()
            key = table.key_of(row)
            if key in table.by_key or row["id"] in table.rows:
                raise DuplicateKey(name, dict(zip(table.spec.key_fields, key, strict=True)))
            # One reading of the clock: a new row's created and modified times are equal.
            stamp = stamp or self.clock.now()
            if table.spec.created_field and row.get(table.spec.created_field) is None:
                row[table.spec.created_field] = table.spec.truncate(stamp)
            sequence = self._stamp(table, row, stamp)
            table.rows[row["id"]] = row
            table.by_key[key] = row["id"]
            change = Change(name, "created", None, dict(row), sequence, self.clock.now())
        self._notify(change)
        return row

    def update(
        self,
        name: str,
        row_id: Hashable,
        changes: Mapping[str, Any],
        *,
        stamp: datetime | None = None,
    ) -> Row:
        """Apply ``changes``; only a real change (or an explicit stamp) moves the row on."""
        with self.lock:
            table = self.table(name)
            row = self.get(name, row_id)
            changed = {k: v for k, v in changes.items() if row.get(k) != v}
            if not changed and stamp is None:
                return row
            before = dict(row)
            new_key = table.key_of({**row, **changed})
            old_key = table.key_of(row)
            if new_key != old_key and new_key in table.by_key:
                raise DuplicateKey(name, dict(zip(table.spec.key_fields, new_key, strict=True)))
            row.update(changed)
            del table.by_key[old_key]
            table.by_key[new_key] = row["id"]
            sequence = self._stamp(table, row, stamp)
            change = Change(name, "updated", before, dict(row), sequence, self.clock.now())
        self._notify(change)
        return row

    def delete(self, name: str, row_id: Hashable) -> Row:
        with self.lock:
            table = self.table(name)
            row = self.get(name, row_id)
            del table.rows[row_id]
            del table.by_key[table.key_of(row)]
            table.sequences.pop(row_id, None)
            self.sequence += 1
            change = Change(name, "deleted", dict(row), None, self.sequence, self.clock.now())
        self._notify(change)
        return row


def seed_stamps(
    rows: Iterable[tuple[str, dict[str, Any]]],
    field: str,
    epoch: datetime,
    per_stamp: int,
) -> None:
    """Stamp seed rows ``per_stamp`` at a time per table, 7 minutes apart.

    Shared stamps are deliberate: a delta cursor on the modified field alone skips or repeats
    records at page and poll boundaries, and clients must prove they do not.
    """
    group = max(1, per_stamp)
    seen: dict[str, int] = {}
    for table, values in rows:
        index = seen[table] = seen.get(table, -1) + 1
        values[field] = epoch + timedelta(minutes=7 * (index // group))


def coerce_value(kind: Kind, value: Any, name: str) -> Any:
    """A JSON value to the Python type behind ``kind``, or InvalidValue naming the field."""
    if value is None:
        return None
    bad = InvalidValue(f"The value '{value}' is not valid for '{name}' ({kind.value}).", name)
    if kind in (Kind.STRING, Kind.ENUM, Kind.GUID):
        if not isinstance(value, str):
            raise bad
        return value
    if kind is Kind.BOOLEAN:
        if not isinstance(value, bool):
            raise bad
        return value
    if kind in (Kind.DECIMAL, Kind.INTEGER):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        if kind is Kind.INTEGER:
            if float(value) != int(value):
                raise bad
            return int(value)
        return float(value)
    try:
        if kind is Kind.DATE:
            return date.fromisoformat(str(value)[:10])
        return parse_datetime(str(value))
    except ValueError:
        raise bad from None
