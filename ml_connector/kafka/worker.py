"""The Kafka consume loop, written once: consume a batch, handle it, produce, flush, commit.

Every process that acts on consumed records (the sinks, the hint followers, the audit index,
the xref view) runs this loop, so the same rules hold for all of them:

- At least once. Offsets move only after the handler returned and Kafka acknowledged every
  record sent through the batch (``Batch.produce``, ``Batch.tracker``, or what the handler
  returned). When a handler fails, only the records it marked done are committed, and never
  one past the first record of a partition it did not finish.
- Not due yet is not polled again. A record that ``hold`` says must wait pauses its partition
  at that record until its time comes; the records behind it in the partition wait with it,
  so order per partition (and so per key) holds.
- Loud failure. A handler that raises stops the worker, with a log line naming the record
  (or the batch) it was handling, and its error propagates to the process. A worker that is
  alive but no longer moves is the one outcome ruled out.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from ml_connector.heartbeat import beat, forget
from ml_connector.kafka.clients import Consumed, DeliveryTracker, Outgoing
from ml_connector.metrics import BACKOFFS, PAUSED

log = logging.getLogger(__name__)

T = TypeVar("T")

# A loop that has not come round for this long is stalled (readiness says so): far more than
# a batch takes against a slow target, since waits on a refusing peer are pauses instead.
STALL_SECONDS = 300.0

# Asked before each batch; an asyncio.Event's or a threading.Event's ``is_set`` will do.
StopFlag = Callable[[], bool]
# The epoch milliseconds before which a record must not be handled, or None.
Hold = Callable[[Consumed], int | None]
Rebalance = Callable[[list[TopicPartition]], None]


def now_ms() -> int:
    return int(time.time() * 1000)


class Backoff(Exception):
    """Raised by a handler when nothing is wrong with the records but the peer refuses them
    all for now (credentials revoked, the system down for longer than in-process retries
    wait): the records it marked done are committed, the rest are read again once every
    partition of the worker resumes after ``seconds``. Nothing is dead-lettered for it.

    While the peer keeps refusing, each pause doubles, up to ``most``; a batch handled in
    full starts again from ``seconds``."""

    def __init__(self, reason: str, seconds: float, most: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.seconds = seconds
        self.most = seconds if most is None else most


class Batch:
    """The records handed to a handler at once, and what handling them sends.

    Everything sent through ``produce`` or ``tracker`` is acknowledged before any offset of
    the batch is committed. A handler that works record by record marks each one ``done``, so
    that a failure part way still commits what came before it.
    """

    def __init__(self, records: list[Consumed], producer: Producer | None) -> None:
        self.records = records
        self.tracker = DeliveryTracker()
        self.failed: Consumed | None = None  # the record a failure was pinned to, if any
        self._producer = producer
        self._done: set[tuple[str, int, int]] = set()

    def produce(self, out: Outgoing) -> None:
        if self._producer is None:
            raise RuntimeError("this worker has no producer to send with")
        self.tracker.send(self._producer, out)

    def done(self, record: Consumed) -> None:
        self._done.add((record.topic, record.partition, record.offset))

    @contextlib.contextmanager
    def handling(self, record: Consumed) -> Iterator[None]:
        """Pins a failure inside the block to ``record``, for the worker's log line."""
        try:
            yield
        except Exception:
            if self.failed is None:
                self.failed = record
            raise

    def finished(self) -> list[Consumed]:
        """The records marked done, up to the first one in each partition that is not."""
        out: list[Consumed] = []
        stopped: set[tuple[str, int]] = set()
        for r in self.records:
            tp = (r.topic, r.partition)
            if tp in stopped:
                continue
            if (r.topic, r.partition, r.offset) in self._done:
                out.append(r)
            else:
                stopped.add(tp)
        return out


# A handler gets the batch and returns records to produce (or sends them itself, or nothing).
Handler = Callable[[Batch], Awaitable[Iterable[Outgoing] | None]]
RecordHandler = Callable[[Consumed], Awaitable[Iterable[Outgoing] | None]]


def each(handle: RecordHandler) -> Handler:
    """A batch handler from a record handler: records are handled one after another in batch
    order, each done once its handler returned, so a failure commits the ones before it."""

    async def handle_batch(batch: Batch) -> None:
        for record in batch.records:
            with batch.handling(record):
                for out in await handle(record) or ():
                    batch.produce(out)
            batch.done(record)

    return handle_batch


def where(record: Consumed) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"


def spans(records: Sequence[Consumed]) -> str:
    """``topic[p]@first..last`` for each partition of a batch."""
    ranges: dict[tuple[str, int], tuple[int, int]] = {}
    for r in records:
        low, high = ranges.get((r.topic, r.partition), (r.offset, r.offset))
        ranges[(r.topic, r.partition)] = (min(low, r.offset), max(high, r.offset))
    return ", ".join(f"{t}[{p}]@{a}..{b}" for (t, p), (a, b) in ranges.items())


def committable(records: Iterable[Consumed]) -> list[TopicPartition]:
    """The next offset to read in each partition, past the last of ``records``."""
    last: dict[tuple[str, int], int] = {}
    for r in records:
        last[(r.topic, r.partition)] = max(last.get((r.topic, r.partition), -1), r.offset)
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]


class Worker:
    """One consumer, one handler, the loop between them.

    Reads ``topics`` as a member of the consumer's group (``on_assign`` and ``on_revoke``
    run on rebalances, inside the consume call) or exactly ``partitions`` (no group
    membership, no rebalances). Without ``commit`` offsets are never stored: a reader that
    rebuilds its state from the start each time. The consumer is closed when ``run`` ends.
    """

    def __init__(
        self,
        consumer: Consumer,
        handler: Handler,
        *,
        name: str,
        topics: Sequence[str] = (),
        partitions: Sequence[TopicPartition] = (),
        producer: Producer | None = None,
        batch_size: int = 500,
        timeout: float = 0.5,
        flush_timeout: float = 60.0,
        commit: bool = True,
        hold: Hold | None = None,
        on_assign: Rebalance | None = None,
        on_revoke: Rebalance | None = None,
        on_lost: Rebalance | None = None,
        stall_after: float = STALL_SECONDS,
    ) -> None:
        if bool(topics) == bool(partitions):
            raise ValueError("give the topics to subscribe to or the partitions to read")
        self.consumer = consumer
        self.handler = handler
        self.name = name
        self.topics = list(topics)
        self.partitions = list(partitions)
        self.producer = producer
        self.batch_size = batch_size
        self.timeout = timeout
        self.flush_timeout = flush_timeout
        self.commit = commit
        self.hold = hold
        self.on_assign = on_assign
        self.on_revoke = on_revoke
        self.on_lost = on_lost  # partitions taken without a revoke; on_revoke when not given
        self.stall_after = stall_after
        self._paused: dict[tuple[str, int], int] = {}  # partition -> due (epoch ms)
        self.backoffs = 0
        self._in_a_row = 0  # pauses since the last batch handled in full, for their length
        self.backing_off: str | None = None  # why it last paused everything, until it moves
        self._inflight: asyncio.Future[Any] | None = None
        # Exported from the start, so a dashboard shows "not paused" rather than no data.
        PAUSED.labels(name).set(0)
        BACKOFFS.labels(name)

    async def run(self, stop: StopFlag) -> None:
        """Until ``stop()`` says so (checked between batches, so the last one is settled) or
        the handler fails (then its error is raised here)."""
        try:
            if self.topics:
                await self._blocking(self.consumer.subscribe, self.topics,
                                     on_assign=self._assigned, on_revoke=self._revoked,
                                     on_lost=self._lost)  # fmt: skip
            else:
                self.consumer.assign(self.partitions)
            while not stop():
                beat(self.name, self.stall_after)
                self._resume_due()
                messages = await self._blocking(self.consumer.consume, self.batch_size,
                                                self.timeout)  # fmt: skip
                ready = self._ready(messages)
                if ready:
                    await self._handle(ready)
        finally:
            forget(self.name)
            await self._close()

    # -- a batch -----------------------------------------------------------------------
    def _ready(self, messages: list[Message]) -> list[Consumed]:
        ready: list[Consumed] = []
        held: set[tuple[str, int]] = set()
        for m in messages:
            if (error := m.error()) is not None:
                # Informational (a topic not created yet, a broker away): the client
                # recovers by itself and the next consume goes on from the same position.
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("%s: consumer error: %s", self.name, error)
                continue
            c = Consumed.of(m)
            tp = (c.topic, c.partition)
            if tp in held:
                continue  # behind a record that is not due yet
            due = self.hold(c) if self.hold is not None else None
            if due is not None and due > now_ms():
                self._pause(c, due)
                held.add(tp)
                continue
            ready.append(c)
        return ready

    async def _handle(self, records: list[Consumed]) -> None:
        batch = Batch(records, self.producer)
        try:
            for out in await self.handler(batch) or ():
                batch.produce(out)
        except Backoff as wait:
            await self._back_off(batch, wait)
            return
        except Exception as exc:
            what = where(batch.failed) if batch.failed is not None else spans(records)
            log.error("%s stopped: handling %s failed: %r", self.name, what, exc)
            finished = batch.finished()
            if finished:
                try:
                    await self._settle(batch, finished)
                except Exception as settling:  # noqa: BLE001 - the handler's error is the one to raise
                    exc.add_note(f"committing the {len(finished)} records before it failed too: "
                                 f"{settling!r}")  # fmt: skip
            raise
        await self._settle(batch, records)
        self._in_a_row = 0
        if self.backing_off is not None:
            self.backing_off = None
            PAUSED.labels(self.name).set(0)

    async def _settle(self, batch: Batch, handled: list[Consumed]) -> None:
        """Every send of the batch acknowledged, then the offsets of ``handled`` committed."""
        if self.producer is not None:
            await self._blocking(batch.tracker.wait, self.producer, self.flush_timeout)
        else:
            batch.tracker.raise_if_failed()
        if self.commit and handled:
            await self._blocking(self.consumer.commit, offsets=committable(handled),
                                 asynchronous=False)  # fmt: skip

    async def _back_off(self, batch: Batch, wait: Backoff) -> None:
        finished = batch.finished()
        await self._settle(batch, finished)
        done = {(r.topic, r.partition, r.offset) for r in finished}
        first: dict[tuple[str, int], int] = {}
        for r in batch.records:  # where each partition is read again from
            if (r.topic, r.partition, r.offset) not in done:
                first.setdefault((r.topic, r.partition), r.offset)
        assigned = self.consumer.assignment() if self.topics else self.partitions
        seconds = min(wait.seconds * 2**self._in_a_row, wait.most)
        self._in_a_row += 1
        due = now_ms() + int(seconds * 1000)
        for tp in assigned:
            key = (tp.topic or "", tp.partition)
            self.consumer.pause([TopicPartition(*key)])
            if key in first:
                self.consumer.seek(TopicPartition(key[0], key[1], first[key]))
            self._paused[key] = max(self._paused.get(key, 0), due)
        self.backoffs += 1
        self.backing_off = wait.reason
        PAUSED.labels(self.name).set(1)
        BACKOFFS.labels(self.name).inc()
        log.error("%s paused for %.0f s, nothing dead-lettered: %s", self.name, seconds,
                  wait.reason)  # fmt: skip

    # -- paused partitions ---------------------------------------------------------------
    def _pause(self, c: Consumed, due: int) -> None:
        tp = TopicPartition(c.topic, c.partition, c.offset)
        self.consumer.pause([tp])
        self.consumer.seek(tp)  # the record is read again once the partition resumes
        self._paused[(c.topic, c.partition)] = due

    def _resume_due(self) -> None:
        due = [tp for tp, at in self._paused.items() if at <= now_ms()]
        if due:
            self.consumer.resume([TopicPartition(t, p) for t, p in due])
            for tp in due:
                del self._paused[tp]

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self.on_assign is not None:
            self.on_assign(partitions)

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._paused.pop((tp.topic or "", tp.partition), None)
        if self.on_revoke is not None:
            self.on_revoke(partitions)

    def _lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self.on_lost is None:
            self._revoked(consumer, partitions)
            return
        for tp in partitions:
            self._paused.pop((tp.topic or "", tp.partition), None)
        self.on_lost(partitions)

    # -- the client's blocking calls ---------------------------------------------------
    async def _blocking(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """In a thread, one at a time; shielded, so that a cancelled worker still knows when
        the call ends and never closes the consumer under a consume still running."""
        future = asyncio.get_running_loop().run_in_executor(
            None, functools.partial(call, *args, **kwargs)
        )
        self._inflight = future
        return await asyncio.shield(future)

    async def _close(self) -> None:
        if self._inflight is not None and not self._inflight.done():
            with contextlib.suppress(Exception):
                await self._inflight
        await asyncio.to_thread(self.consumer.close)
