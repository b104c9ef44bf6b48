"""The sink loop, written once for every target: consume, write, settle, then commit.

Records are handed to the target in batches (``sinks.batching``): one result per record, each
routed as below, and the batch is committed only once every result is settled.

One consumer per target reads the target's sink topics and its retry topics together. Every
record ends in exactly one of three places before its offset is committed:

- written: the target confirmed it (the client already retried in process, waiting out 429s
  with the server's Retry-After, so backpressure never moves data);
- a retry topic: it still failed with a retryable error, so it waits there until its due time
  (the partition is paused, never polled in a loop), then the next tier, then the DLQ;
- the dead-letter topic: the target refused it (validation, unknown reference, permission),
  or the last tier failed too. Its key, value and headers are kept, the reason is added.

Per-key order: while a key has a record in retry, later records with that key are held: they
follow it (see ``holding``). Sends, held-key state and audit records are flushed before the
commit, so a crash at any point re-delivers records whose effects are idempotent upserts.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from confluent_kafka import Consumer, Producer

from ml_connector import headers as h
from ml_connector.api.errors import CredentialsRejected, RetryableError
from ml_connector.audit import AuditLog
from ml_connector.avro import AvroCodec
from ml_connector.context import acting_for
from ml_connector.kafka.clients import Consumed, DeliveryTracker, Outgoing
from ml_connector.kafka.worker import Backoff, Batch, Worker, now_ms
from ml_connector.metrics import END_TO_END_SECONDS, WRITE_SECONDS
from ml_connector.xref import written_entry
from sinks.base import Outcome, SinkRecord, Target
from sinks.batching import Result, batch_limit, chunked, write_batch
from sinks.holding import HeldKeys

log = logging.getLogger(__name__)

# A target refusing the credentials pauses for this long, doubling up to the maximum.
CREDENTIAL_PAUSE = 30.0
MAX_CREDENTIAL_PAUSE = 600.0


@dataclass(frozen=True)
class Tier:
    name: str
    topic: str
    delay: timedelta


@dataclass
class SinkStats:
    written: int = 0
    retried: int = 0
    dead: int = 0
    held: int = 0
    stale: int = 0
    credential_pauses: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True)
class Origin:
    """Where a record first entered the sink: its sink topic coordinates and attempts so far."""

    topic: str
    partition: int
    offset: int
    attempt: int
    tier_index: int  # -1 for the sink topic itself


class SinkRunner:
    def __init__(
        self,
        *,
        consumer: Consumer,
        producer: Producer,
        codec: AvroCodec,
        target: Target,
        target_name: str,
        topics: dict[str, str],  # sink topic -> entity
        tiers: Sequence[Tier],
        dlq_topic: str,
        group: str,
        held: HeldKeys,
        audit: AuditLog,
        batch_size: int = 200,
        concurrency: int = 8,
        xref_topic: str | None = None,
        batch_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.codec = codec
        self.target = target
        self.target_name = target_name
        self.topics = topics
        self.tiers = list(tiers)
        self._tier_by_topic = {t.topic: i for i, t in enumerate(self.tiers)}
        self._tier_by_name = {t.name: i for i, t in enumerate(self.tiers)}
        self.dlq_topic = dlq_topic
        self.group = group
        self.held = held
        self.audit = audit
        self.batch_size = batch_size
        self.xref_topic = xref_topic
        self.batch_bytes = batch_bytes  # of encoded records per write to the target
        self._slots = asyncio.Semaphore(concurrency)
        self.stats = SinkStats()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    # -- the loop ----------------------------------------------------------------------
    async def run(self) -> None:
        acting_for(self.target_name)
        await self.target.start()  # before consuming: nothing is taken that cannot be written
        worker = Worker(
            self.consumer, self.handle, name=f"sink {self.target_name}",
            topics=[*self.topics, *(t.topic for t in self.tiers)], producer=self.producer,
            batch_size=self.batch_size, hold=self._due,
            # Another member may have held or settled keys of these partitions meanwhile.
            on_assign=lambda partitions: self.held.reload(),
        )  # fmt: skip
        await worker.run(self._stopping.is_set)

    def _due(self, c: Consumed) -> int | None:
        """A retry record waits in its tier's partition until its due time (one whose due
        time cannot be read is due now, and is dead-lettered for its headers)."""
        if c.topic not in self._tier_by_topic:
            return None
        try:
            return int(h.as_dict(c.headers).get(h.DUE_MS, "0"))
        except ValueError:
            return None

    # -- a batch -----------------------------------------------------------------------
    async def handle(self, batch: Batch) -> None:
        """Settles every record of the batch; the worker flushes what that sent (retry and
        DLQ copies, held-key state, audit, xref) before it commits the batch.

        Records are written in rounds: each round takes the next record of every key, so a
        key's records are written one after another (each one's outcome settled before the
        next is looked at: a retry holds the ones behind it), while the records of different
        keys share the target's batch writes."""
        by_key: dict[tuple[str, bytes | None], deque[tuple[Consumed, Origin]]] = defaultdict(deque)
        for c in batch.records:
            origin = self._origin(c)
            if isinstance(origin, str):  # a retry copy whose headers say nothing usable
                self._dead(c, Origin(c.topic, c.partition, c.offset, 0, -1),
                           "MalformedRetryRecord", origin, "", batch.tracker)  # fmt: skip
                batch.done(c)
                continue
            by_key[(origin.topic, c.key)].append((c, origin))
        before = self._counts()
        while by_key:
            await self._round([queue.popleft() for queue in by_key.values()], batch)
            by_key = defaultdict(deque, {k: q for k, q in by_key.items() if q})
        done = {k: n - before[k] for k, n in self._counts().items() if n - before[k]}
        log.info("%s: batch of %d settled: %s", self.target_name, len(batch.records),
                 ", ".join(f"{k} {n}" for k, n in done.items()) or "nothing to write",
                 extra={"connection": self.target_name, **done})  # fmt: skip

    def _counts(self) -> dict[str, int]:
        s = self.stats
        return {"written": s.written, "retried": s.retried, "dead": s.dead, "held": s.held,
                "stale": s.stale}  # fmt: skip

    def _origin(self, c: Consumed) -> Origin | str:
        """Where ``c`` first entered the sink, or why that cannot be told from its headers."""
        if c.topic not in self._tier_by_topic:
            return Origin(c.topic, c.partition, c.offset, 0, -1)
        d = h.as_dict(c.headers)
        missing = [k for k in (h.ORIGINAL_TOPIC, h.ORIGINAL_PARTITION, h.ORIGINAL_OFFSET)
                   if k not in d]  # fmt: skip
        if missing:
            return f"retry record without the header(s) {', '.join(missing)}"
        if d[h.ORIGINAL_TOPIC] not in self.topics:
            return f"retry record for {d[h.ORIGINAL_TOPIC]!r}, not a sink topic of this target"
        try:
            return Origin(d[h.ORIGINAL_TOPIC], int(d[h.ORIGINAL_PARTITION]),
                          int(d[h.ORIGINAL_OFFSET]), int(d.get(h.ATTEMPT, "0")),
                          self._tier_by_topic[c.topic])  # fmt: skip
        except ValueError:
            return "retry record whose partition, offset or attempt header is not a number"

    async def _round(self, heads: list[tuple[Consumed, Origin]], batch: Batch) -> None:
        """One record of each key: the ones to write go to the target in batches (bounded
        by the target's limit and by bytes), then every outcome is routed."""
        writes: list[tuple[Consumed, Origin, SinkRecord]] = []
        for c, origin in heads:
            with batch.handling(c):
                record = self._to_write(c, origin, batch.tracker)
            if record is None:
                batch.done(c)
            else:
                writes.append((c, origin, record))
        runs = chunked(writes, lambda w: len(w[0].value or b""),
                       most=batch_limit(self.target), most_bytes=self.batch_bytes)  # fmt: skip
        try:
            async with asyncio.TaskGroup() as group:
                for run in runs:
                    group.create_task(self._write_run(run, batch))
        except* Backoff as waiting:
            raise waiting.exceptions[0] from None

    def _to_write(self, c: Consumed, origin: Origin, tracker: DeliveryTracker) -> SinkRecord | None:
        """The record to hand the target, or None when it is settled without a write (stale,
        held behind its key, a tombstone, undecodable)."""
        key = (c.key or b"").decode(errors="replace")
        state = self.held.get(origin.topic, key)
        if state is not None and origin.tier_index >= 0 and origin.offset <= state.done:
            # An older retry copy re-delivered after a crash: already settled. Records read
            # from the sink topic itself always go through: after a reset to earliest they
            # are a replay someone asked for, and their writes are idempotent upserts.
            self.stats.stale += 1
            return None
        if state is not None and state.head is not None and state.head != origin.offset:
            # An earlier record of this key waits in retry: follow it, do not overtake it.
            state.hold(origin.offset)
            tier = self._tier_by_name.get(state.tier or "", 0)
            self._to_tier(c, origin, tier, "waiting behind an earlier record of the same key",
                          "KeyHeld", tracker, attempt=origin.attempt)  # fmt: skip
            self.held.save(origin.topic, key, tracker)
            self.stats.held += 1
            self._audit(c, origin, "held", tier=self.tiers[tier].name)
            return None
        if c.value is None:  # a tombstone: the delete event before it did the work
            self._settled(origin, key, tracker)
            self.stats.written += 1
            return None
        entity = self.topics[origin.topic]
        try:
            event = self.codec.decode(entity, c.value)
            return SinkRecord(origin.topic, origin.partition, origin.offset,
                              (c.key or b"").decode(), entity, event)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - sorted by class like a failed write
            self._failed(c, origin, key, exc, traceback.format_exc(), tracker)
            return None

    async def _write_run(self, run: list[tuple[Consumed, Origin, SinkRecord]],
                         batch: Batch) -> None:  # fmt: skip
        async with self._slots:
            started = time.monotonic()
            results = await write_batch(self.target, [record for _, _, record in run])
            share = (time.monotonic() - started) / len(run)
            for (c, origin, record), result in zip(run, results, strict=True):
                with batch.handling(c):
                    self._route(c, origin, record, result, share, batch.tracker)
                batch.done(c)

    def _route(self, c: Consumed, origin: Origin, record: SinkRecord, result: Result,
               seconds: float, tracker: DeliveryTracker) -> None:  # fmt: skip
        """One record's result where it belongs: written, the next retry tier, or the DLQ."""
        key = (c.key or b"").decode(errors="replace")
        # A write the target refused took its time too: every settled record is timed.
        WRITE_SECONDS.labels(self.target_name, record.entity).observe(seconds)
        if isinstance(result, Outcome) and result.ok:
            self._written(c, origin, record, result, tracker)
            self._settled(origin, key, tracker)
            self.stats.written += 1
        elif isinstance(result, Outcome):
            self._failed(c, origin, key, TargetRejected(result.error or "rejected"), "", tracker)
        else:
            stack = "".join(traceback.format_exception(result))
            self._failed(c, origin, key, result, stack, tracker)

    def _failed(self, c: Consumed, origin: Origin, key: str, exc: Exception, stack: str,
                tracker: DeliveryTracker) -> None:  # fmt: skip
        if isinstance(exc, CredentialsRejected):
            # No record is at fault: dead-lettering would send every record there. Pause the
            # target and say what to fix; the records are read again when it resumes.
            self.stats.credential_pauses += 1
            raise Backoff(
                f"{self.target_name} refused the connection's credentials ({exc}); fix them "
                f"(ml-connector ping {self.target_name} names the check)",
                CREDENTIAL_PAUSE,
                MAX_CREDENTIAL_PAUSE,
            )
        if isinstance(exc, RetryableError) and origin.tier_index + 1 < len(self.tiers):
            tier = origin.tier_index + 1
            state = self.held.open(origin.topic, key)
            state.hold(origin.offset)
            state.tier = self.tiers[tier].name
            self._to_tier(c, origin, tier, str(exc), type(exc).__name__, tracker,
                          attempt=origin.attempt + 1, stack=stack)  # fmt: skip
            self.held.save(origin.topic, key, tracker)
            self.stats.retried += 1
            self._audit(c, origin, "retried", tier=self.tiers[tier].name,
                        attempt=origin.attempt + 1, error=str(exc)[:500])  # fmt: skip
            return
        self._dead(c, origin, type(exc).__name__, str(exc), stack, tracker)
        self._settled(origin, key, tracker)

    def _written(self, c: Consumed, origin: Origin, record: SinkRecord, outcome: Outcome,
                 tracker: DeliveryTracker) -> None:  # fmt: skip
        event = record.event
        self.stats.by_status[outcome.status] += 1
        changed = (event.get("source") or {}).get("modified_at")
        if isinstance(changed, datetime):
            END_TO_END_SECONDS.labels(self.target_name, record.entity).observe(
                max(0.0, time.time() - changed.timestamp()))  # fmt: skip
        self._audit(c, origin, "written", status=outcome.status, target_id=outcome.target_id,
                    attempt=origin.attempt + 1, event=event,
                    **({"note": outcome.note} if outcome.note else {}))  # fmt: skip
        self._learn(record.entity, outcome, event, tracker)

    def _learn(self, entity: str, outcome: Outcome, event: dict[str, Any],
               tracker: DeliveryTracker) -> None:  # fmt: skip
        """The target's id of what was written, beside the source's: the learned xref."""
        if self.xref_topic is None or not outcome.target_id:
            return
        entry = written_entry(self.target_name, entity, outcome.target_id, event)
        if entry is not None:
            # Acknowledged with the batch, before its offsets are committed.
            tracker.send(self.producer, Outgoing(self.xref_topic, entry.key.encode(),
                                                 entry.to_json()))  # fmt: skip

    def _settled(self, origin: Origin, key: str, tracker: DeliveryTracker) -> None:
        state = self.held.get(origin.topic, key)
        if state is not None:
            state.settle(origin.offset)
            self.held.save(origin.topic, key, tracker)

    # -- where records go --------------------------------------------------------------
    def _delivery_headers(self, c: Consumed, origin: Origin, exc_class: str, message: str,
                          stack: str, attempt: int, stage: str) -> h.Headers:  # fmt: skip
        first = c.topic not in self._tier_by_topic
        original_ts = str(c.timestamp) if first else h.as_dict(c.headers).get(
            h.ORIGINAL_TIMESTAMP, str(c.timestamp))  # fmt: skip
        return h.with_delivery(
            c.headers,
            ORIGINAL_TOPIC=origin.topic, ORIGINAL_PARTITION=str(origin.partition),
            ORIGINAL_OFFSET=str(origin.offset), ORIGINAL_TIMESTAMP=original_ts,
            CONNECTOR=self.target_name, STAGE=stage, CONSUMER_GROUP=self.group,
            EXCEPTION_CLASS=exc_class, EXCEPTION_MESSAGE=message[:2000],
            EXCEPTION_STACKTRACE=stack[-8000:], ATTEMPT=str(attempt),
            FAILED_AT_MS=str(now_ms()),
        )  # fmt: skip

    def _to_tier(self, c: Consumed, origin: Origin, tier: int, message: str, exc_class: str,
                 tracker: DeliveryTracker, *, attempt: int, stack: str = "") -> None:  # fmt: skip
        t = self.tiers[tier]
        headers = self._delivery_headers(c, origin, exc_class, message, stack, attempt, "retry")
        due = now_ms() + int(t.delay.total_seconds() * 1000)
        headers += [(h.DUE_MS, str(due)), (h.TIER, t.name)]
        tracker.send(self.producer, Outgoing(t.topic, c.key, c.value, headers))

    def _dead(self, c: Consumed, origin: Origin, exc_class: str, message: str, stack: str,
              tracker: DeliveryTracker) -> None:  # fmt: skip
        log.error("to %s: %s[%d]@%d %s: %s", self.dlq_topic, origin.topic, origin.partition,
                  origin.offset, exc_class, message)  # fmt: skip
        replays = h.as_dict(c.headers).get(h.REPLAYS)
        headers = self._delivery_headers(c, origin, exc_class, message, stack,
                                         origin.attempt + 1, "sink")  # fmt: skip
        if replays is not None:
            headers.append((h.REPLAYS, replays))
        tracker.send(self.producer, Outgoing(self.dlq_topic, c.key, c.value, headers))
        self.stats.dead += 1
        self._audit(c, origin, "dead", error_class=exc_class, error=message[:500])

    def _audit(self, c: Consumed, origin: Origin, stage: str, event: dict[str, Any] | None = None,
               **detail: object) -> None:  # fmt: skip
        source = (event or {}).get("source") or {}
        if not source and c.value is not None:
            try:
                source = self.codec.decode(self.topics[origin.topic], c.value)["source"]
            except Exception:  # noqa: BLE001 - an undecodable record is audited by its key
                source = {}
        # Every outcome passes here once, so this is the one line per write at debug.
        if log.isEnabledFor(logging.DEBUG):
            said = {k: v for k, v in detail.items() if k in ("status", "tier", "error", "attempt")}
            log.debug("%s %s %s: %s %s", self.target_name, self.topics.get(origin.topic, "?"),
                      (c.key or b"").decode(errors="replace"), stage, said or "",
                      extra={"connection": self.target_name, "stage": stage})  # fmt: skip
        self.audit.emit(
            stage,
            connection=source.get("connection", "?"),
            entity=source.get("entity", self.topics.get(origin.topic, "?")),
            record_id=source.get("native_id") or (c.key or b"").decode(errors="replace"),
            event_id=(event or {}).get("event_id"),
            topic=origin.topic, partition=origin.partition, offset=origin.offset,
            target=self.target_name, **detail,
        )  # fmt: skip


class TargetRejected(Exception):
    """The target answered, and said no: a validation or reference error in its own words."""
