"""A stream declaration: everything about one incremental read that differs between systems.

Modelled on declarative connector frameworks (a datetime cursor with an inclusive bound, a
paginator, substream partitions, child records): the system's part is data, and ``reader``
runs it. Dialects and paging styles are small objects in ``dialects`` and ``styles``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from ml_connector.api.paging import PageRequest, Paginator
from ml_connector.records import Record

Literal = Callable[[datetime], str]  # a timestamp as the system writes it in a query
Selector = Callable[[Record], Record]


@dataclass(frozen=True)
class Plan:
    """One read's first request before its paging style shapes it."""

    url: str
    params: dict[str, str]
    page_size: int
    cursor_field: str | None
    since: str | None  # the cursor's bound, already in the system's literal format
    where: str  # the fixed and the caller's filter, without the cursor's bound


class Dialect(Protocol):
    """How a system writes a query: combining clauses, a set test, and the request params."""

    def all_of(self, clauses: Sequence[str]) -> str: ...

    def any_of(self, field: str, values: Sequence[str]) -> str: ...

    def params(self, stream: Stream, where: str, since: str | None) -> dict[str, str]: ...


class Paging(Protocol):
    """A paging style: the paginator for one read and its first request."""

    def start(self, plan: Plan) -> tuple[Paginator, PageRequest]: ...


@dataclass(frozen=True)
class CursorField:
    """The modified stamp a stream is read by. The bound is always inclusive (``ge``, ``>=``,
    ``modifiedOnOrAfter``): a record committed later with the cursor's very timestamp must be
    read by the next poll, and re-reads cost nothing downstream."""

    field: str
    literal: Literal


@dataclass(frozen=True)
class Child:
    """Rows of another table that belong to each record (document lines), fetched per page
    of parents with a set test on ``parent_field`` and attached under ``into``."""

    stream: Stream
    parent_field: str
    into: str
    chunk: int = 100  # parent keys per request: keeps URLs well under common limits


@dataclass(frozen=True)
class Parent:
    """The stream is read once within each record of ``stream`` (a substream partition).

    ``path`` is formatted with the parent record (``dimensions({id})/dimensionValues``);
    ``carry`` copies parent fields onto each child record (child field -> parent field).
    ``missing``, when set, is the error an empty parent read raises: a misconfigured scope
    must say so rather than read nothing forever.
    """

    stream: Stream
    path: str
    carry: Mapping[str, str] = field(default_factory=dict)
    missing: str | None = None


@dataclass(frozen=True, kw_only=True)
class Stream:
    path: str  # entity set / table / resource, as the host resolves it to a URL
    dialect: Dialect
    paging: Paging
    cursor: CursorField | None = None
    key_field: str = "id"
    version_field: str | None = None
    select: tuple[str, ...] = ()
    expand: str | None = None
    filter: str | None = None  # always applied (a source query, a legal entity)
    params: Mapping[str, str] = field(default_factory=dict)  # always sent
    overlap: timedelta = timedelta(0)  # subtracted from the bound unless the caller says
    selector: Selector | None = None  # per record, after the paginator found the records
    children: tuple[Child, ...] = ()
    parent: Parent | None = None

    @property
    def cursor_field(self) -> str:
        if self.cursor is None:
            raise ValueError(f"stream {self.path!r} declares no cursor: it cannot be polled")
        return self.cursor.field
