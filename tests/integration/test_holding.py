"""Keys held behind a retry: audited as ``held``, kept in state, and found after an upgrade."""

from __future__ import annotations

import asyncio
import copy
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from ml_connector import headers as h
from ml_connector.api.errors import RetryableError
from ml_connector.audit import AuditLog, AuditRecord
from ml_connector.avro import AvroCodec, make_codec
from ml_connector.kafka.admin import COMPACTED, TopicSpec, ensure_topics
from ml_connector.kafka.clients import (
    DeliveryTracker,
    Outgoing,
    consumer,
    deliver,
    producer,
    read_to_end,
)
from ml_connector.state import StateStore
from ml_connector.topics import Topics
from sinks.base import Outcome, SinkRecord
from sinks.holding import HeldKeys
from sinks.runner import SinkRunner, Tier

pytestmark = pytest.mark.kafka

TARGET = "sn"


def _state_topic(bootstrap: str) -> str:
    name = f"test.state.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(name, 1, COMPACTED)])
    return name


def test_state_under_the_old_prefix_is_read_and_removed_once_released(bootstrap: str) -> None:
    kafka = producer(bootstrap)
    store = StateStore(bootstrap, _state_topic(bootstrap), kafka)

    def saved(keys: HeldKeys, topic: str, key: str) -> None:
        tracker = DeliveryTracker()
        keys.save(topic, key, tracker)
        tracker.wait(kafka)

    sink = "mlc.sink.sn.vendor"
    # What a version before the rename left: one key waiting, one both old and rewritten.
    store.save(f"parked|{TARGET}|{sink}|v1", {"pending": [5], "tier": "30s", "done": 3})
    store.save(f"parked|{TARGET}|{sink}|v2", {"pending": [8], "tier": "30s", "done": -1})
    store.save(f"held|{TARGET}|{sink}|v2", {"pending": [], "tier": None, "done": 8})
    store.save(f"parked|other|{sink}|v1", {"pending": [1], "tier": "30s", "done": -1})

    keys = HeldKeys(store, TARGET)
    keys.reload()
    old = keys.get(sink, "v1")
    assert old is not None and (old.pending, old.tier, old.done) == ([5], "30s", 3)
    newer = keys.get(sink, "v2")
    assert newer is not None and (newer.pending, newer.done) == ([], 8)  # the new key wins
    assert set(keys.waiting()) == {(sink, "v1")}  # another target's keys are not ours

    old.hold(7)  # a later record of v1 joins it: still held, written under the new prefix
    saved(keys, sink, "v1")
    stored = store.load_all()
    assert stored[f"held|{TARGET}|{sink}|v1"]["pending"] == [5, 7]
    assert f"parked|{TARGET}|{sink}|v1" in stored  # not released yet

    old.settle(5)
    old.settle(7)
    saved(keys, sink, "v1")
    stored = store.load_all()
    assert stored[f"held|{TARGET}|{sink}|v1"] == {"pending": [], "tier": None, "done": 7}
    assert f"parked|{TARGET}|{sink}|v1" not in stored  # released: the old key is gone
    assert f"parked|other|{sink}|v1" in stored

    again = HeldKeys(store, TARGET)
    again.reload()
    reloaded = again.get(sink, "v1")
    assert reloaded is not None and (reloaded.pending, reloaded.done) == ([], 7)


class FlakyTarget:
    """Refuses the first write of the listed offsets with a retryable error, then takes them."""

    def __init__(self, fail_once: set[int]) -> None:
        self.fail_once = set(fail_once)
        self.written: list[tuple[str, int]] = []

    async def write(self, record: SinkRecord) -> Outcome:
        if record.offset in self.fail_once:
            self.fail_once.discard(record.offset)
            raise RetryableError("busy", status=503)
        self.written.append((record.key, record.offset))
        return Outcome("inserted", target_id=f"t-{record.offset}")

    async def start(self) -> None:
        pass

    async def aclose(self) -> None:
        return None


@dataclass
class Sink:
    bootstrap: str
    topics: Topics
    codec: AvroCodec
    store: StateStore
    target: FlakyTarget = field(default_factory=lambda: FlakyTarget(set()))

    @property
    def sink_topic(self) -> str:
        return self.topics.sink(TARGET, "vendor")

    @property
    def tier(self) -> Tier:
        return Tier("fast", self.topics.retry(TARGET, "fast"), timedelta(milliseconds=300))

    def runner(self) -> SinkRunner:
        kafka = producer(self.bootstrap)
        group = self.topics.sink_group(TARGET)
        return SinkRunner(
            consumer=consumer(self.bootstrap, group, **{"partition.assignment.strategy": "range"}),
            producer=kafka, codec=self.codec, target=self.target, target_name=TARGET,
            topics={self.sink_topic: "vendor"}, tiers=[self.tier],
            dlq_topic=self.topics.dlq(TARGET), group=group,
            held=HeldKeys(StateStore(self.bootstrap, self.topics.state, kafka), TARGET),
            audit=AuditLog(kafka, self.topics.audit, "sinks"),
        )  # fmt: skip

    def event(self, record_id: str, name: str, vendor_event: dict[str, Any]) -> bytes:
        event = copy.deepcopy(vendor_event)
        event["after"]["name"] = name
        event["source"]["native_id"] = record_id
        return self.codec.encode(self.sink_topic, "vendor", event)

    def stages(self, record_id: str) -> list[tuple[str, int | None]]:
        records = [
            AuditRecord.from_json(r.value or b"")
            for r in read_to_end(self.bootstrap, self.topics.audit, "audit-reader")
        ]
        return [(r.stage, r.offset) for r in records if r.record_id == record_id]  # fmt: skip


@pytest.fixture
def sink(bootstrap: str) -> Iterator[Sink]:
    topics = Topics(f"t{uuid.uuid4().hex[:8]}")
    ensure_topics(bootstrap, [
        TopicSpec(topics.state, 1, COMPACTED), TopicSpec(topics.schemas, 1, COMPACTED),
        TopicSpec(topics.sink(TARGET, "vendor"), 1), TopicSpec(topics.retry(TARGET, "fast"), 1),
        TopicSpec(topics.dlq(TARGET), 1), TopicSpec(topics.audit, 1),
    ])  # fmt: skip
    yield Sink(bootstrap, topics, make_codec(None, bootstrap, topics.schemas),
               StateStore(bootstrap, topics.state))  # fmt: skip


async def _running_until(runner: SinkRunner, done: Callable[[], bool]) -> None:
    task = asyncio.create_task(runner.run())
    deadline = time.monotonic() + 60
    while not done() and not task.done():
        assert time.monotonic() < deadline, "timed out waiting for the sink"
        await asyncio.sleep(0.05)
    runner.stop()
    await task


async def test_a_record_behind_one_in_retry_is_held_then_written_after_it(
    sink: Sink, vendor_event: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sinks.runner")
    sink.target.fail_once = {0}
    deliver(producer(sink.bootstrap), [
        Outgoing(sink.sink_topic, b"v1", sink.event("v1", "Update 1", vendor_event)),
        Outgoing(sink.sink_topic, b"v1", sink.event("v1", "Update 2", vendor_event)),
    ])  # fmt: skip
    await _running_until(sink.runner(), lambda: len(sink.target.written) >= 2)

    assert sink.target.written == [("v1", 0), ("v1", 1)]
    assert sink.stages("v1") == [("retried", 0), ("held", 1), ("written", 0), ("written", 1)]
    stored = sink.store.load_all()
    assert stored[f"held|{TARGET}|{sink.sink_topic}|v1"] == {
        "pending": [], "tier": None, "done": 1}  # fmt: skip
    assert not [k for k in stored if k.startswith("parked|")]
    # One line per outcome at debug, one per batch at info, both naming the target.
    outcomes = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert [m.split(": ")[1].split()[0] for m in outcomes if m.startswith(f"{TARGET} vendor v1")
            ] == ["retried", "held", "written", "written"]  # fmt: skip
    batches = [r for r in caplog.records if r.levelno == logging.INFO and "batch of" in r.msg]
    assert batches and all(getattr(r, "connection", None) == TARGET for r in batches)
    assert sum(getattr(r, "written", 0) for r in batches) == 2


async def test_a_key_held_before_an_upgrade_stays_held_after_it(
    sink: Sink, vendor_event: dict[str, Any]
) -> None:
    """An earlier version put v2's first record in retry and kept the key under ``parked|``;
    the upgraded sink must not let v2's next record overtake it."""
    first = sink.event("v2", "Update 1", vendor_event)
    deliver(producer(sink.bootstrap), [
        Outgoing(sink.sink_topic, b"v2", first),
        Outgoing(sink.sink_topic, b"v2", sink.event("v2", "Update 2", vendor_event)),
    ])  # fmt: skip
    sink.store.save(f"parked|{TARGET}|{sink.sink_topic}|v2",
                    {"pending": [0], "tier": "fast", "done": -1})  # fmt: skip
    c = Consumer({"bootstrap.servers": sink.bootstrap, "group.id": sink.topics.sink_group(TARGET)})
    c.commit(offsets=[TopicPartition(sink.sink_topic, 0, 1)], asynchronous=False)  # 0 went on
    c.close()

    runner = sink.runner()
    task = asyncio.create_task(runner.run())
    deadline = time.monotonic() + 60
    while ("held", 1) not in sink.stages("v2"):
        assert time.monotonic() < deadline and not task.done(), "record 1 was not held"
        await asyncio.sleep(0.1)
    assert sink.target.written == []  # it did not overtake record 0
    # Record 0's copy reaches the retry tier, as the earlier version had sent it.
    retry_headers = h.with_delivery([], ORIGINAL_TOPIC=sink.sink_topic, ORIGINAL_PARTITION="0",
                                    ORIGINAL_OFFSET="0", ATTEMPT="1")  # fmt: skip
    retry_headers += [(h.DUE_MS, "0"), (h.TIER, "fast")]
    deliver(producer(sink.bootstrap), [Outgoing(sink.tier.topic, b"v2", first, retry_headers)])
    while len(sink.target.written) < 2:
        assert time.monotonic() < deadline and not task.done(), "the records were not written"
        await asyncio.sleep(0.05)
    runner.stop()
    await task

    assert sink.target.written == [("v2", 0), ("v2", 1)]
    assert [s for s, _ in sink.stages("v2")][-2:] == ["written", "written"]
    stored = sink.store.load_all()
    assert f"parked|{TARGET}|{sink.sink_topic}|v2" not in stored  # released: old key removed
    assert stored[f"held|{TARGET}|{sink.sink_topic}|v2"]["pending"] == []
