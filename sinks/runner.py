"""The sink loop, written once for every target: consume, write, then commit.

Offsets are committed only after the target confirmed every record of the batch (or the record
went to the dead-letter topic with its reason), so a crash at any point re-delivers at most the
current batch, which the targets' idempotent upserts absorb.

Records of one key are written in order; different keys go concurrently within the target's
budget. A record the target refuses for good goes to the DLQ with the reason in its headers.
A record that still fails after the client's in-process retries stops the batch: the consumer
seeks back and tries again after a pause, so nothing is skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field

from confluent_kafka import Consumer, Message, Producer, TopicPartition

from ml_connector.api.errors import RetryableError
from ml_connector.avro import AvroCodec
from ml_connector.kafka.clients import Consumed, DeliveryTracker, Headers
from sinks.base import SinkRecord, Target

log = logging.getLogger(__name__)


@dataclass
class SinkStats:
    written: int = 0
    dead: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def error_headers(msg: Consumed, group: str, exc_class: str, message: str, stack: str) -> Headers:
    """Where the record came from and why it failed, after its own unchanged headers."""
    return [
        *msg.headers,
        ("mlc.original.topic", msg.topic),
        ("mlc.original.partition", str(msg.partition)),
        ("mlc.original.offset", str(msg.offset)),
        ("mlc.original.timestamp", str(msg.timestamp)),
        ("mlc.consumer.group", group),
        ("mlc.error.class", exc_class),
        ("mlc.error.message", message),
        ("mlc.error.stacktrace", stack),
        ("mlc.dead.at", str(int(time.time() * 1000))),
    ]


class SinkRunner:
    def __init__(
        self,
        *,
        consumer: Consumer,
        producer: Producer,
        codec: AvroCodec,
        target: Target,
        topics: dict[str, str],  # sink topic -> entity
        dlq_topic: str,
        group: str,
        batch_size: int = 200,
        concurrency: int = 8,
        retry_pause: float = 5.0,
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.codec = codec
        self.target = target
        self.topics = topics
        self.dlq_topic = dlq_topic
        self.group = group
        self.batch_size = batch_size
        self.retry_pause = retry_pause
        self._slots = asyncio.Semaphore(concurrency)
        self.stats = SinkStats()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        await asyncio.to_thread(self.consumer.subscribe, list(self.topics))
        try:
            while not self._stopping.is_set():
                batch = await asyncio.to_thread(self.consumer.consume, self.batch_size, 1.0)
                if batch:
                    await self.handle(batch)
        finally:
            await asyncio.to_thread(self.consumer.close)

    async def handle(self, batch: list[Message]) -> None:
        messages: list[Consumed] = []
        for m in batch:
            if m.error() is not None:
                log.warning("consumer error: %s", m.error())
            else:
                messages.append(Consumed.of(m))
        by_key: dict[tuple[str, bytes | None], list[Consumed]] = defaultdict(list)
        for c in messages:
            by_key[(c.topic, c.key)].append(c)
        tracker = DeliveryTracker()
        failure: BaseException | None = None
        try:
            # A TaskGroup cancels the other keys' writes as soon as one must be retried, so
            # nothing is still writing while the batch is rewound.
            async with asyncio.TaskGroup() as group:
                for records in by_key.values():
                    group.create_task(self._write_key(records, tracker))
        except* RetryableError as eg:
            failure = eg.exceptions[0]
        if failure is not None:
            log.warning("target still failing after retries (%s); re-reading the batch in %.0fs",
                        failure, self.retry_pause)  # fmt: skip
            await asyncio.to_thread(self._rewind, messages)
            await asyncio.sleep(self.retry_pause)
            return
        await asyncio.to_thread(self.producer.flush, 30)
        tracker.raise_if_failed()
        await asyncio.to_thread(self._commit, messages)

    async def _write_key(self, records: list[Consumed], tracker: DeliveryTracker) -> None:
        async with self._slots:
            for c in records:
                await self._write_one(c, tracker)

    async def _write_one(self, c: Consumed, tracker: DeliveryTracker) -> None:
        entity = self.topics[c.topic]
        try:
            if c.value is None:
                return  # a tombstone: the delete event before it did the work
            event = self.codec.decode(entity, c.value)
            record = SinkRecord(c.topic, c.partition, c.offset, (c.key or b"").decode(), entity,
                                event)  # fmt: skip
            outcome = await self.target.write(record)
        except RetryableError:
            raise
        except Exception as exc:
            self._dead(c, type(exc).__name__, str(exc), traceback.format_exc(), tracker)
            return
        if outcome.ok:
            self.stats.written += 1
            self.stats.by_status[outcome.status] += 1
        else:
            self._dead(c, "TargetRejected", outcome.error or "", "", tracker)

    def _dead(
        self, c: Consumed, exc_class: str, message: str, stack: str, tracker: DeliveryTracker
    ) -> None:
        log.error("to %s: %s[%d]@%d %s: %s", self.dlq_topic, c.topic, c.partition, c.offset,
                  exc_class, message)  # fmt: skip
        self.stats.dead += 1
        self.producer.produce(
            self.dlq_topic, key=c.key, value=c.value,
            headers=error_headers(c, self.group, exc_class, message, stack), on_delivery=tracker,
        )  # fmt: skip

    def _rewind(self, messages: list[Consumed]) -> None:
        first: dict[tuple[str, int], int] = {}
        for c in messages:
            tp = (c.topic, c.partition)
            first[tp] = min(first.get(tp, c.offset), c.offset)
        for (topic, partition), offset in first.items():
            self.consumer.seek(TopicPartition(topic, partition, offset))

    def _commit(self, messages: list[Consumed]) -> None:
        last: dict[tuple[str, int], int] = {}
        for c in messages:
            tp = (c.topic, c.partition)
            last[tp] = max(last.get(tp, -1), c.offset)
        if last:
            self.consumer.commit(
                offsets=[TopicPartition(t, p, o + 1) for (t, p), o in last.items()],
                asynchronous=False,
            )
