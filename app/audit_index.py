"""The audit index: ``mlc.audit`` folded into a database so a record's trail is one query.

SQLite by default (a file next to the config), PostgreSQL when ``audit.database`` is a
``postgresql://`` URL. Rows are unique by their audit topic coordinates, so indexing the same
stretch twice (after a crash, or two indexers) never duplicates a row. Offsets are committed
only after the database committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    cast,
    create_engine,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from ml_connector.audit import AuditRecord
from ml_connector.kafka.clients import Consumed, consumer, watermarks
from ml_connector.kafka.worker import Batch, Worker

metadata = MetaData()
trail = Table(
    "audit_trail",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("connection", String(200), nullable=False),
    Column("entity", String(100), nullable=False),
    Column("record_id", String(400), nullable=False),
    Column("stage", String(40), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("event_id", String(100)),
    Column("component", String(40)),
    Column("topic", String(400)),
    Column("partition", Integer),
    Column("offset", BigInteger),
    Column("detail", Text),
    Column("audit_partition", Integer, nullable=False),
    Column("audit_offset", BigInteger, nullable=False),
    UniqueConstraint("audit_partition", "audit_offset", name="audit_position"),
)

log = logging.getLogger(__name__)


def _unread(c: Consumer, topic: str) -> dict[int, tuple[int, int]]:
    """(committed position, end) of each partition of ``topic`` with records past the group's
    committed offset."""
    meta = c.list_topics(topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None:
        return {}
    unread = {}
    for tp in c.committed([TopicPartition(topic, p) for p in meta.partitions], 10):
        low, high = watermarks(c, tp)
        position = max(tp.offset, low)
        if position < high:
            unread[tp.partition] = (position, high)
    return unread


def engine_for(database: str) -> Engine:
    if "://" in database:
        url = database.replace("postgresql://", "postgresql+psycopg://", 1)
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{database}"
    engine = create_engine(url)
    metadata.create_all(engine)
    return engine


class AuditIndex:
    def __init__(self, database: str) -> None:
        self.engine = engine_for(database)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert(trail).on_conflict_do_nothing()
        self.skipped = 0  # records on the topic that are not audit records
        self.caught_up = True  # the last sync reached the topic's end (not its timeout)

    def add(self, messages: list[Consumed]) -> int:
        rows = []
        for m in messages:
            if m.value is None:
                continue
            row = _row(m)
            if row is None:
                # Not an audit record we can read (another writer, a corrupt value): the
                # topic keeps it; the index notes where and goes on rather than crash-loop.
                self.skipped += 1
                log.warning("audit record %s[%d]@%d cannot be indexed; skipped", m.topic,
                            m.partition, m.offset)  # fmt: skip
                continue
            rows.append(row)
        if rows:
            with self.engine.begin() as db:
                db.execute(self._insert, rows)
        return len(rows)

    def sync(self, bootstrap: str, topic: str, group: str, *, timeout: float = 120) -> int:
        """Index everything up to the topic's current end; return how many records were read
        (a record indexed before is read again but adds no row)."""
        c = consumer(bootstrap, group)
        with contextlib.ExitStack() as owned:
            owned.callback(c.close)
            todo = _unread(c, topic)  # partition -> (position, end offset still to reach)
            if not todo:
                return 0
            owned.pop_all()  # from here on the worker closes it
        total = 0

        async def index(batch: Batch) -> None:
            nonlocal total
            total += self.add(batch.records)
            for m in batch.records:
                if m.partition in todo and m.offset + 1 >= todo[m.partition][1]:
                    del todo[m.partition]

        deadline = time.monotonic() + timeout
        worker = Worker(
            c,
            index,
            name=f"audit index {topic}",
            batch_size=500,
            timeout=1.0,
            partitions=[TopicPartition(topic, p, at) for p, (at, _) in todo.items()],
        )
        # Called from threads and commands that run no event loop of their own.
        asyncio.run(worker.run(lambda: not todo or time.monotonic() >= deadline))
        self.caught_up = not todo
        return total

    def trail(self, connection: str, entity: str, record_id: str) -> list[AuditRecord]:
        query = (
            select(trail)
            .where(trail.c.connection == connection, trail.c.entity == entity,
                   trail.c.record_id == record_id)
            .order_by(trail.c.ts_ms, trail.c.audit_partition, trail.c.audit_offset)
        )  # fmt: skip
        with self.engine.connect() as db:
            return [_record(row) for row in db.execute(query)]

    def spans(self, connection: str, entity: str, first: str, last: str) -> dict[str, float]:
        """Seconds from each record's first ``first`` stage to its last ``last`` stage, for
        the records that reached both (say, from ``polled`` to ``written``)."""

        def when(stage: str, pick: Any) -> Any:
            return (
                select(trail.c.record_id, pick(trail.c.ts_ms).label("ts"))
                .where(trail.c.connection == connection, trail.c.entity == entity,
                       trail.c.stage == stage)
                .group_by(trail.c.record_id)
                .subquery()
            )  # fmt: skip

        start, end = when(first, func.min), when(last, func.max)
        query = select(start.c.record_id, start.c.ts, end.c.ts).join(
            end, start.c.record_id == end.c.record_id
        )
        with self.engine.connect() as db:
            return {row[0]: (row[2] - row[1]) / 1000 for row in db.execute(query)}

    def _target(self) -> Any:
        """The target connection an outcome was for (``detail.target``), in this dialect."""
        if self.engine.dialect.name == "postgresql":
            return cast(trail.c.detail, postgresql.JSONB)["target"].astext
        return func.json_extract(trail.c.detail, "$.target")

    def outcomes(self, stages: Sequence[str]) -> dict[tuple[str, str, str, str], Outcomes]:
        """How many of each stage, and when the newest, by (source connection, entity, target
        connection, stage): what a flow's entity has routed, written, retried, dead-lettered."""
        target = self._target().label("target")
        query = (
            select(trail.c.connection, trail.c.entity, target, trail.c.stage,
                   func.count(), func.max(trail.c.ts_ms))
            .where(trail.c.stage.in_(stages))
            .group_by(trail.c.connection, trail.c.entity, target, trail.c.stage)
        )  # fmt: skip
        with self.engine.connect() as db:
            return {(row[0], row[1], row[2] or "", row[3]): Outcomes(row[4], row[5])
                    for row in db.execute(query)}  # fmt: skip

    def newest(self, stages: Sequence[str]) -> dict[tuple[str, str, str], AuditRecord]:
        """The newest record among ``stages`` by (source connection, entity, target)."""
        target = self._target()
        last = (
            select(trail.c.connection, trail.c.entity, target.label("target"),
                   func.max(trail.c.ts_ms).label("ts_ms"))
            .where(trail.c.stage.in_(stages))
            .group_by(trail.c.connection, trail.c.entity, target)
            .subquery()
        )  # fmt: skip
        query = (
            select(trail, last.c.target)
            .join(last, (trail.c.connection == last.c.connection)
                  & (trail.c.entity == last.c.entity) & (trail.c.ts_ms == last.c.ts_ms))
            .where(trail.c.stage.in_(stages), target == last.c.target)
            .order_by(trail.c.id)
        )  # fmt: skip
        with self.engine.connect() as db:
            return {(row.connection, row.entity, row.target or ""): _record(row)
                    for row in db.execute(query)}  # fmt: skip


@dataclass(frozen=True)
class Outcomes:
    count: int
    newest_ms: int


def _record(row: Any) -> AuditRecord:
    return AuditRecord(
        row.connection, row.entity, row.record_id, row.stage, row.ts_ms, row.event_id,
        row.component or "", row.topic, row.partition, row.offset, json.loads(row.detail or "{}"),
    )  # fmt: skip


def _clip(value: Any, size: int) -> str | None:
    return None if value is None else str(value)[:size]


def _row(m: Consumed) -> dict[str, Any] | None:
    """The index row of one audit record, or None when it is not one."""
    try:
        r = AuditRecord.from_json(m.value or b"")
        ts_ms = int(r.ts_ms)
        partition = None if r.partition is None else int(r.partition)
        offset = None if r.offset is None else int(r.offset)
        detail = json.dumps(r.detail, sort_keys=True, default=str)
    except (ValueError, TypeError, OverflowError, RecursionError):
        return None
    if not (r.connection and r.entity and r.record_id and r.stage):
        return None
    return {
        "connection": _clip(r.connection, 200), "entity": _clip(r.entity, 100),
        "record_id": _clip(r.record_id, 400), "stage": _clip(r.stage, 40), "ts_ms": ts_ms,
        "event_id": _clip(r.event_id, 100), "component": _clip(r.component, 40),
        "topic": _clip(r.topic, 400), "partition": partition, "offset": offset,
        "detail": detail, "audit_partition": m.partition, "audit_offset": m.offset,
    }  # fmt: skip
