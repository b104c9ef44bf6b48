"""The one incremental reader: runs any declared stream against any system's host.

Given a stream, an optional ``since`` bound and the system's host (its ApiClient, page size
and how a declared path becomes a URL), it builds the first request with the stream's dialect,
pages with the stream's paging style, applies the selector, attaches child rows per page and
yields non-empty pages of records. Nothing here knows a system by name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from ml_connector.api.client import ApiClient
from ml_connector.api.errors import NotFound
from ml_connector.api.paging import pages
from ml_connector.records import Record
from ml_connector.streams.declaration import Child, Parent, Plan, Stream


class Host(Protocol):
    """What a system's client module provides for reading its streams."""

    @property
    def client(self) -> ApiClient: ...

    @property
    def page_size(self) -> int: ...

    async def locate(self, path: str) -> str:
        """The URL of a declared path (an entity set, a table, a resource)."""
        ...


async def read(
    host: Host,
    stream: Stream,
    since: datetime | None = None,
    *,
    overlap: timedelta | None = None,
    where: str | None = None,
) -> AsyncIterator[list[Record]]:
    """Pages of records modified at or after ``since - overlap`` (all of them without
    ``since``); ``overlap`` defaults to the stream's, ``where`` narrows the read further."""
    if stream.parent is not None:
        async for partition in _partitioned(host, stream, stream.parent, since, overlap, where):
            yield partition
        return
    lookback = stream.overlap if overlap is None else overlap
    bound = (
        stream.cursor.literal(since - lookback)
        if since is not None and stream.cursor is not None
        else None
    )
    dialect = stream.dialect
    clause = dialect.all_of([c for c in (stream.filter, where) if c])
    plan = Plan(
        url=await host.locate(stream.path),
        params={**stream.params, **dialect.params(stream, clause, bound)},
        page_size=host.page_size,
        cursor_field=stream.cursor.field if stream.cursor else None,
        since=bound,
        where=clause,
    )
    paginator, first = stream.paging.start(plan)
    async for page in pages(host.client, paginator, first):
        select = stream.selector
        records = [select(r) for r in page.records] if select else list(page.records)
        if not records:
            continue
        for child in stream.children:
            records = await _with_children(host, stream, child, records)
        yield records


async def _with_children(
    host: Host, stream: Stream, child: Child, records: list[Record]
) -> list[Record]:
    """Each record carrying its child rows, fetched a chunk of parent keys at a time."""
    ids = [str(r[stream.key_field]) for r in records]
    found: dict[str, list[Record]] = {i: [] for i in ids}
    for start in range(0, len(ids), child.chunk):
        where = child.stream.dialect.any_of(child.parent_field, ids[start : start + child.chunk])
        async for page in read(host, child.stream, where=where):
            for row in page:
                found.setdefault(str(row.get(child.parent_field, "")), []).append(row)
    return [{**r, child.into: found[str(r[stream.key_field])]} for r in records]


async def _partitioned(
    host: Host,
    stream: Stream,
    parent: Parent,
    since: datetime | None,
    overlap: timedelta | None,
    where: str | None,
) -> AsyncIterator[list[Record]]:
    """The stream read within each parent record; parents are read whole, every time, so a
    renamed or re-created parent is followed."""
    seen = False
    async for parents in read(host, parent.stream):
        for record in parents:
            seen = True
            inner = replace(stream, path=parent.path.format_map(record), parent=None)
            carried = {name: record.get(source) for name, source in parent.carry.items()}
            async for page in read(host, inner, since, overlap=overlap, where=where):
                yield [{**r, **carried} for r in page]
    if not seen and parent.missing:
        raise NotFound(parent.missing)
