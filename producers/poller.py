"""The poll loop, written once for every source system.

A composite cursor (modified timestamp, id) is read from ``mlc.state``; the source is asked for
everything modified at or after the cursor minus an overlap window, so records that share a
timestamp or committed late are never skipped; every record read becomes a change event; the
cursor moves only after Kafka acknowledged all of them. Re-reads cost nothing downstream because
the processors drop unchanged content.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from confluent_kafka import Producer

from ml_connector.audit import AuditLog
from ml_connector.avro import AvroCodec
from ml_connector.kafka.clients import DeliveryTracker, Outgoing, deliver
from ml_connector.kafka.tasks import NotHolding
from ml_connector.metrics import CURSOR_AGE, age
from ml_connector.state import StateStore
from ml_connector.streams import read
from ml_connector.topics import Topics
from producers.events import SourceInfo, envelope, parse_timestamp
from producers.source import Client
from producers.stream import Stream

log = logging.getLogger(__name__)


class Source(Protocol):
    """A system's declared streams and the client they are read through (``StreamSource``)."""

    system: str
    streams: dict[str, Stream]

    @property
    def client(self) -> Client: ...

    async def company(self) -> str | None: ...

    async def start(self) -> None:
        """Start-up checks: raises what makes reading pointless (a version not served)."""

    async def aclose(self) -> None: ...


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _seen_stage(seen_via: str) -> str:
    """The audit stage of a record read: ``received`` by webhook, ``backfill`` when an
    operator asked for it again, else ``polled``."""
    return {"webhook": "received", "backfill": "backfill"}.get(seen_via, "polled")


@dataclass(frozen=True, order=True)
class Cursor:
    """The newest (modified timestamp, id) a poll has seen.

    The id orders records that share a timestamp, so the cursor is one exact position. The
    next read still starts at the timestamp (``ge``, minus the overlap) rather than after the
    id: a record committed later may carry the same timestamp with a smaller id, and skipping
    it is the classic timestamp-cursor bug. Re-read records cost nothing downstream.
    """

    modified_at: datetime
    id: str

    def to_json(self) -> dict[str, str]:
        return {"modified_at": self.modified_at.isoformat(), "id": self.id}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Cursor | None:
        if not data or "modified_at" not in data:
            return None
        return cls(datetime.fromisoformat(data["modified_at"]), str(data["id"]))


@dataclass
class PollStats:
    records_read: int = 0
    events_produced: int = 0
    totals: dict[str, int] = field(default_factory=dict)


class Poller:
    """Polls one stream of one connection into its change topic."""

    def __init__(
        self,
        source: Source,
        stream: Stream,
        *,
        connection: str,
        topics: Topics,
        codec: AvroCodec,
        producer: Producer,
        state: StateStore,
        overlap: timedelta,
        audit: AuditLog | None = None,
        fence: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        self.source = source
        self.stream = stream
        self.connection = connection
        self.topic = topics.change(connection, stream.entity)
        self.codec = codec
        self.producer = producer
        self.state = state
        self.overlap = overlap
        self.audit = audit
        self.state_key = f"cursor|{connection}|{stream.entity}"
        # Around each write of the cursor: producer instances admit only the task's holder.
        self.fence = fence or contextlib.nullcontext

    async def _info(self) -> SourceInfo:
        return SourceInfo(self.source.system, self.connection, await self.source.company(),
                          self.stream.entity)  # fmt: skip

    def _position(self, record: dict[str, Any]) -> Cursor:
        return Cursor(parse_timestamp(record[self.stream.cursor_field]),
                      str(record[self.stream.key_field]))  # fmt: skip

    def _load(self) -> tuple[Cursor | None, dict[str, Any]]:
        saved = self.state.load(self.state_key) or {}
        return Cursor.from_json(saved.get("cursor")), saved

    async def poll_once(self) -> PollStats:
        """One poll; its outcome (when, ok or the error) is kept beside the cursor for
        ``status``, a failed one too, so a poll that keeps failing is seen as such."""
        try:
            return await self._poll()
        except Exception as exc:
            await asyncio.to_thread(self._failed, exc)
            raise

    def _failed(self, exc: Exception) -> None:
        _, saved = self._load()
        totals = dict(saved.get("totals", {}))
        totals["failed_polls"] = totals.get("failed_polls", 0) + 1
        # Client errors are redacted where they are raised; the length is bounded here.
        error = f"{type(exc).__name__}: {exc}"[:500]
        last = {"at": _now_iso(), "error": error}
        with contextlib.suppress(NotHolding):  # the new holder keeps the record now
            self._save({**saved, "totals": totals, "last_poll": last})

    def _save(self, value: dict[str, Any]) -> None:
        with self.fence():
            self.state.save(self.state_key, value)

    async def _poll(self) -> PollStats:
        cursor, saved = await asyncio.to_thread(self._load)
        since = cursor.modified_at if cursor else None
        info = await self._info()
        tracker = DeliveryTracker()
        stats = PollStats()
        newest = cursor
        produced: list[tuple[str, str, str | None]] = []  # (native id, event id, version)
        # The one generic reader runs the declared stream: bound ``since - overlap``, inclusive.
        async for page in read(self.source.client, self.stream, since, overlap=self.overlap):
            for record in page:
                stats.records_read += 1
                position = self._position(record)
                newest = max(newest, position) if newest else position
                # A poll cannot tell a create from an update; 'r' marks the initial snapshot.
                op = "r" if cursor is None else "u"
                out, seen = self._event(info, record, position, op, "poll")
                tracker.send(self.producer, out)
                produced.append(seen)
                stats.events_produced += 1
            self.producer.poll(0)
        # Durable first: the cursor never runs ahead of events Kafka has not acknowledged.
        await asyncio.to_thread(tracker.wait, self.producer)
        self._audit(produced)
        totals = dict(saved.get("totals", {}))
        totals["records_read"] = totals.get("records_read", 0) + stats.records_read
        totals["events_produced"] = totals.get("events_produced", 0) + stats.events_produced
        totals["polls"] = totals.get("polls", 0) + 1
        stats.totals = totals
        # Saved even when nothing changed, so operators (and tests) see that the poll happened.
        await asyncio.to_thread(
            self._save,
            {"cursor": newest.to_json() if newest else None, "totals": totals,
             "last_poll": {"at": _now_iso(), "error": None, "read": stats.records_read}},
        )  # fmt: skip
        if newest is not None:
            # Read at each scrape, so it keeps growing while the polls fail or find nothing.
            age(CURSOR_AGE.labels(self.connection, self.stream.entity),
                newest.modified_at.timestamp())  # fmt: skip
        log.info("%s: read %d, produced %d, cursor %s", self.topic, stats.records_read,
                 stats.events_produced, newest)  # fmt: skip
        return stats

    def _audit(self, produced: list[tuple[str, str, str | None]], seen_via: str = "poll") -> None:
        """Polled (or received) and produced, once Kafka acknowledged the events themselves."""
        if self.audit is None:
            return
        entity = self.stream.entity
        emit, connection = self.audit.emit, self.connection
        for native_id, event_id, version in produced:
            emit(_seen_stage(seen_via), connection=connection, entity=entity, record_id=native_id,
                 event_id=event_id, version=version)  # fmt: skip
            emit("produced", connection=connection, entity=entity, record_id=native_id,
                 event_id=event_id, topic=self.topic)  # fmt: skip

    async def emit(self, records: list[dict[str, Any]], *, op: str, seen_via: str) -> int:
        """Change events for records fetched outside the poll loop (webhook hints), durable
        before this returns. The cursor is the poll's own and does not move here."""
        info = await self._info()
        events = [self._event(info, r, self._position(r), op, seen_via) for r in records]
        await asyncio.to_thread(deliver, self.producer, [out for out, _ in events])
        produced = [seen for _, seen in events]
        self._audit(produced, seen_via)
        return len(produced)

    async def backfill(self, since: datetime, on_page: Callable[[int], None] | None = None) -> int:
        """Everything the stream holds modified at or after ``since``, read again through the
        declared stream and produced as snapshot reads (``r``, seen via ``backfill``), page by
        page, each durable before the next is read. The poll's cursor does not move: the
        backfill runs beside the polls, and the processors drop what did not change."""
        produced = 0
        async for page in read(self.source.client, self.stream, since, overlap=timedelta(0)):
            if page:
                produced += await self.emit(list(page), op="r", seen_via="backfill")
            if on_page is not None:
                on_page(len(page))
        log.info("%s: backfill since %s produced %d", self.topic, since.isoformat(), produced)
        return produced

    async def emit_delete(self, native_id: str, deleted_at: datetime, *, seen_via: str) -> None:
        """A delete event, then a tombstone for the key, durable before this returns.

        The source says only which record went; the processors add the Debezium ``before``
        from what they last routed, so each target can find the record to retire.
        """
        event = envelope(await self._info(), native_id=native_id, after=None, op="d", native=None,
                         version=f"deleted@{deleted_at.isoformat()}", modified_at=deleted_at,
                         seen_via=seen_via)  # fmt: skip
        key = native_id.encode()
        value = self.codec.encode(self.topic, self.stream.entity, event)
        delete_then_tombstone = [Outgoing(self.topic, key, value), Outgoing(self.topic, key, None)]
        await asyncio.to_thread(deliver, self.producer, delete_then_tombstone)
        if self.audit is not None:
            self.audit.emit(
                _seen_stage(seen_via),
                connection=self.connection, entity=self.stream.entity, record_id=native_id,
                event_id=event["event_id"], deleted=True,
            )  # fmt: skip

    def _event(
        self, info: SourceInfo, record: dict[str, Any], position: Cursor, op: str, seen_via: str
    ) -> tuple[Outgoing, tuple[str, str, str | None]]:
        """The change event of a record read, and what its audit records name."""
        version = record.get(self.stream.version_field) if self.stream.version_field else None
        event = envelope(
            info,
            native_id=position.id,
            after=self.stream.to_canonical(record),
            op=op,
            native=record,
            version=str(version) if version is not None else position.modified_at.isoformat(),
            modified_at=position.modified_at,
            seen_via=seen_via,
        )
        value = self.codec.encode(self.topic, self.stream.entity, event)
        seen = (position.id, event["event_id"], event["source"]["native_version"])
        return Outgoing(self.topic, position.id.encode(), value), seen
