"""The one consume loop on a real broker: what it commits, pauses, produces and how it stops."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, TopicPartition

from ml_connector.kafka.admin import TopicSpec, ensure_topics
from ml_connector.kafka.clients import (
    Consumed,
    DeliveryFailed,
    Outgoing,
    consumer,
    deliver,
    producer,
    read_to_end,
)
from ml_connector.kafka.worker import Batch, Worker, each, now_ms
from ml_connector.xref import XrefEntry
from ml_connector.xref_view import XrefView

pytestmark = pytest.mark.kafka


def _topic(bootstrap: str, **config: str) -> str:
    name = f"test.worker.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(name, 1, config)])
    return name


def _fill(bootstrap: str, topic: str, values: range) -> None:
    deliver(producer(bootstrap), [Outgoing(topic, b"k", str(i).encode()) for i in values])


def _committed(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed offset of partition 0, or -1 when it committed none."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        [tp] = c.committed([TopicPartition(topic, 0)], timeout=10)
        return tp.offset if tp.offset >= 0 else -1
    finally:
        c.close()


def _until(done: Callable[[], bool], seconds: float = 60) -> Callable[[], bool]:
    """A stop flag that also ends a run that would otherwise wait for ever."""
    deadline = time.monotonic() + seconds
    return lambda: done() or time.monotonic() > deadline


async def _eventually(what: str, done: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _values(records: list[Consumed]) -> list[int]:
    return [int(r.value or b"") for r in records]


async def test_a_record_that_fails_is_read_again_and_nothing_handled_before_it(
    bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    topic, group = _topic(bootstrap), f"g-{uuid.uuid4().hex[:8]}"
    _fill(bootstrap, topic, range(10))
    handled: list[Consumed] = []

    async def poisoned_at_six(m: Consumed) -> None:
        if m.value == b"6":
            raise ValueError("record six cannot be handled")
        handled.append(m)

    worker = Worker(consumer(bootstrap, group), each(poisoned_at_six), name="six", topics=[topic])
    with caplog.at_level(logging.ERROR, "ml_connector.kafka.worker"), pytest.raises(
        ValueError, match="record six"
    ):  # fmt: skip
        await worker.run(lambda: False)  # only the failure ends it
    assert _values(handled) == [0, 1, 2, 3, 4, 5]
    assert f"{topic}[0]@6" in caplog.text  # the log names the record that failed
    assert _committed(bootstrap, group, topic) == 6  # the records before it are done

    again: list[Consumed] = []

    async def record(m: Consumed) -> None:
        again.append(m)

    restarted = Worker(consumer(bootstrap, group), each(record), name="again", topics=[topic])
    await restarted.run(_until(lambda: len(again) >= 4))
    assert _values(again) == [6, 7, 8, 9]
    assert _committed(bootstrap, group, topic) == 10


async def test_a_failing_batch_commits_nothing_of_itself(bootstrap: str) -> None:
    """A batch handler that marks nothing done: its batch is read again from its first record,
    and the batches committed before it are not."""
    topic, group = _topic(bootstrap), f"g-{uuid.uuid4().hex[:8]}"
    _fill(bootstrap, topic, range(10))
    batches: list[list[int]] = []

    async def fails_on_seven(batch: Batch) -> None:
        batches.append(_values(batch.records))
        if 7 in batches[-1]:
            raise RuntimeError("a batch with seven in it")

    worker = Worker(consumer(bootstrap, group), fails_on_seven, name="batches", topics=[topic],
                    batch_size=3)  # fmt: skip
    with pytest.raises(RuntimeError, match="seven"):
        await worker.run(lambda: False)
    failed_from = batches[-1][0]
    assert _committed(bootstrap, group, topic) == failed_from

    again: list[Consumed] = []

    async def record(m: Consumed) -> None:
        again.append(m)

    restarted = Worker(consumer(bootstrap, group), each(record), name="again", topics=[topic])
    await restarted.run(_until(lambda: len(again) >= 10 - failed_from))
    assert _values(again) == list(range(failed_from, 10))


async def test_results_are_acknowledged_before_the_offsets_move(bootstrap: str) -> None:
    source, group = _topic(bootstrap), f"g-{uuid.uuid4().hex[:8]}"
    results = _topic(bootstrap, **{"max.message.bytes": "2000"})
    _fill(bootstrap, source, range(5))

    async def doubled(m: Consumed) -> list[Outgoing]:
        n = int(m.value or b"")
        return [Outgoing(results, m.key, str(n * 2).encode())]

    handled: list[Consumed] = []

    async def counted(m: Consumed) -> list[Outgoing]:
        handled.append(m)
        return await doubled(m)

    kafka = producer(bootstrap)
    worker = Worker(consumer(bootstrap, group), each(counted), name="doubling", topics=[source],
                    producer=kafka)  # fmt: skip
    await worker.run(_until(lambda: len(handled) >= 5))
    assert [int(r.value or b"") for r in read_to_end(bootstrap, results, "r")] == [0, 2, 4, 6, 8]
    assert _committed(bootstrap, group, source) == 5

    # A result the broker refuses (larger than the topic allows): the worker stops and the
    # batch that produced it stays uncommitted, to be handled again.
    _fill(bootstrap, source, range(5, 8))

    async def one_too_large(m: Consumed) -> list[Outgoing]:
        if m.value == b"6":
            return [Outgoing(results, m.key, b"x" * 5000)]
        return await doubled(m)

    failing = Worker(consumer(bootstrap, group), each(one_too_large), name="too large",
                     topics=[source], producer=kafka)  # fmt: skip
    # (The broker refuses the whole request it came in, so its neighbours may fail with it.)
    with pytest.raises(DeliveryFailed, match=r"\d of \d sends not acknowledged \(\d failed\)"
                       ) as refused:  # fmt: skip
        await failing.run(lambda: False)
    assert f"{results}[0] key b'k': Broker: Message size too large" in str(refused.value)
    assert 5 <= _committed(bootstrap, group, source) <= 6  # never past the refused one


async def test_a_held_record_pauses_its_partition_and_the_others_go_on(bootstrap: str) -> None:
    waits, flows, group = _topic(bootstrap), _topic(bootstrap), f"g-{uuid.uuid4().hex[:8]}"
    _fill(bootstrap, waits, range(2))
    _fill(bootstrap, flows, range(2))
    released = False
    handled: list[tuple[str, int, bool]] = []  # topic, value, whether it was released then

    def hold(c: Consumed) -> int | None:
        # Not due for a moment, again and again, until the test releases it.
        return None if released or c.topic != waits else now_ms() + 200

    async def record(m: Consumed) -> None:
        handled.append((m.topic, int(m.value or b""), released))

    stop = asyncio.Event()
    worker = Worker(consumer(bootstrap, group), each(record), name="held",
                    topics=[waits, flows], hold=hold)  # fmt: skip
    running = asyncio.create_task(worker.run(stop.is_set))
    await _eventually("the partition not held", lambda: len(handled) >= 2)
    await _eventually("its commit", lambda: _committed(bootstrap, group, flows) == 2)
    assert [(t, v) for t, v, _ in handled] == [(flows, 0), (flows, 1)]
    assert _committed(bootstrap, group, waits) == -1  # nothing past the held record

    released = True
    await _eventually("the released records", lambda: len(handled) >= 4)
    stop.set()
    await running
    assert [(t, v) for t, v, _ in handled[2:]] == [(waits, 0), (waits, 1)]  # in order, once
    assert all(was_released for t, _, was_released in handled if t == waits)
    assert _committed(bootstrap, group, waits) == 2


async def test_a_set_stop_ends_the_run_after_the_batch_is_committed(bootstrap: str) -> None:
    topic, group = _topic(bootstrap), f"g-{uuid.uuid4().hex[:8]}"
    _fill(bootstrap, topic, range(5))
    assigned: list[TopicPartition] = []
    handled: list[Consumed] = []

    async def record(m: Consumed) -> None:
        handled.append(m)

    stop = asyncio.Event()
    c = consumer(bootstrap, group)
    worker = Worker(c, each(record), name="stopping", topics=[topic],
                    on_assign=assigned.extend)  # fmt: skip
    running = asyncio.create_task(worker.run(stop.is_set))
    await _eventually("the records", lambda: len(handled) >= 5)
    stop.set()
    await running  # returns: a stop is not a failure
    assert [(tp.topic, tp.partition) for tp in assigned] == [(topic, 0)]
    assert _committed(bootstrap, group, topic) == 5
    with pytest.raises(RuntimeError):
        c.assignment()  # closed as the run ended

    _fill(bootstrap, topic, range(5, 8))
    later: list[Consumed] = []

    async def record_later(m: Consumed) -> None:
        later.append(m)

    restarted = Worker(consumer(bootstrap, group), each(record_later), name="later",
                       topics=[topic])  # fmt: skip
    await restarted.run(_until(lambda: len(later) >= 3))
    assert _values(later) == [5, 6, 7]  # only what came after the stop


def test_the_xref_view_stops_loudly_on_a_record_it_cannot_read(
    bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    topic = _topic(bootstrap)
    good = XrefEntry("bc", "vendor", "id-1", "V10000")
    deliver(producer(bootstrap), [Outgoing(topic, good.key.encode(), good.to_json()),
                                  Outgoing(topic, b"bc|vendor|id-2", b"not json")])  # fmt: skip
    failures: list[BaseException] = []
    with caplog.at_level(logging.ERROR, "ml_connector.kafka.worker"):
        view = XrefView(bootstrap, topic, on_failure=failures.append).start()
        deadline = time.monotonic() + 60
        while not failures:
            assert time.monotonic() < deadline, "the view did not report its failure"
            time.sleep(0.05)
        view.close()
    assert view.failure is failures[0]
    assert view.holds("bc", "vendor", "v10000")  # what it read before the bad record stays
    assert f"{topic}[0]@1" in caplog.text
