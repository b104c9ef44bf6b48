"""Work spread over the running instances of a worker kind by Kafka's own group membership.

Each task owns one partition of a compacted tasks topic, and the first record of that
partition names it: the placement is written once, in Kafka, so a task keeps its partition
whatever later configurations add, and every instance reads the same placement. Instances
subscribe to the topic in one consumer group with the cooperative-sticky assignor; the
partitions a member is assigned are the tasks it runs. A member that dies stops
heartbeating and its partitions go to the others after the session timeout; one that leaves
(a rebalance) stops its tasks inside ``on_revoke``, before the partitions can be given to
anyone else, so no two instances run one task at a time.

A task's durable writes (a poll cursor) go through ``fence``: it admits a write only while
this instance holds the task, under the same lock the revocation takes, so a write is
either done before the revoke completes or not done at all. Its limit: the holding is what
this instance was last told by the group; an instance cut off from the coordinator (not
dead, only unheard) runs on until its client notices the lost session (``on_lost``), and a
write in that window is not refused. Cursors only move forward and events are re-read
idempotently downstream, so such a write costs a re-read, not a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import NewPartitions

from ml_connector.kafka.clients import admin, consumer, producer, read_to_end
from ml_connector.kafka.worker import Batch, Worker

log = logging.getLogger(__name__)

# How long a revoked task may take to finish what it is doing (its cursor then saved) before
# it is cancelled (its cursor then not advanced): a rebalance waits this long at most.
REVOKE_GRACE = 10.0


def instance_id() -> str:
    """This process among the instances: the host (a pod's name) and the process id."""
    return os.environ.get("MLC_INSTANCE_ID") or f"{socket.gethostname()}-{os.getpid()}"


class NotHolding(RuntimeError):
    """A task's write refused: this instance no longer holds the task."""


class TasksNotPlaced(RuntimeError):
    """Tasks left without a partition of the tasks topic; the message names them."""


def read_placement(bootstrap: str, topic: str) -> dict[str, int]:
    """task -> partition: the task named by the first record of each partition. A task named
    first on two partitions (two instances placing it at once) keeps the lower one, and the
    other partition runs nothing; every reader of the same log decides the same."""
    first: dict[int, str] = {}
    for record in read_to_end(bootstrap, topic, "mlc-tasks-reader"):
        if record.value is not None and record.partition not in first:
            first[record.partition] = (record.key or b"").decode()
    placed: dict[str, int] = {}
    for partition, task in sorted(first.items()):
        placed.setdefault(task, partition)
    return placed


def place(bootstrap: str, topic: str, tasks: Sequence[str], *, manage: bool) -> dict[str, int]:
    """The partition of each of ``tasks``, placing those not placed yet on free partitions;
    placed tasks never move. Partitions are added where there are too few only when
    ``manage`` (topics are the platform team's otherwise: the error says how many)."""
    for _ in range(5):  # another instance placing at the same time: read again, place the rest
        placed = read_placement(bootstrap, topic)
        missing = [t for t in tasks if t not in placed]
        if not missing:
            return {t: placed[t] for t in tasks}
        _write_placements(bootstrap, topic, set(placed.values()), missing, manage=manage)
    raise TasksNotPlaced(f"{topic}: tasks could not be placed ({', '.join(missing)})")


def _write_placements(
    bootstrap: str, topic: str, used: set[int], missing: list[str], *, manage: bool
) -> None:
    client = admin(bootstrap)
    count = len(client.list_topics(topic, timeout=30).topics[topic].partitions)
    free = [p for p in range(count) if p not in used]
    needed = len(missing) - len(free)
    if needed > 0 and not manage:
        raise TasksNotPlaced(
            f"kafka.manage_topics is false and {topic} has {count} partitions, "
            f"{count + needed} needed: no partition is free for {', '.join(missing[len(free) :])}"
        )
    if needed > 0:
        free += list(range(count, count + needed))
        grown = client.create_partitions([NewPartitions(topic, count + needed)])
        for future in grown.values():
            try:
                future.result()
            except KafkaException as exc:  # grown by another instance meanwhile
                if "INVALID_PARTITIONS" not in str(exc):
                    raise
    writer = producer(bootstrap)
    for task, partition in zip(missing, free, strict=False):
        writer.produce(topic, key=task.encode(), value=json.dumps({"task": task}).encode(),
                       partition=partition)  # fmt: skip
        log.info("task %s placed on %s[%d]", task, topic, partition)
    if writer.flush(30):
        raise TasksNotPlaced(f"{topic}: placements not acknowledged by Kafka")


Start = Callable[[str], None]
Stop = Callable[[str, bool], Awaitable[None]]  # (task, lost): returns once it has stopped


class TaskLease:
    """This instance's share of the tasks, kept by a consumer in the tasks' group.

    ``on_start(task)`` is called on the event loop when a task is assigned; ``on_stop(task,
    lost)`` is awaited on revocation, and the revocation completes only after it returned.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        group: str,
        placement: dict[str, int],
        *,
        on_start: Start,
        on_stop: Stop,
        session_timeout_ms: int = 10_000,
        instance: str | None = None,
    ) -> None:
        self.topic = topic
        self.instance = instance or instance_id()
        self.by_partition = {p: t for t, p in placement.items()}
        self.on_start = on_start
        self.on_stop = on_stop
        self._held: dict[str, int] = {}  # task -> its partition
        self._lock = threading.Lock()  # guards _held, held only for a look or a change
        # Held through a fenced write and taken to drop a task: a write is over before its
        # task is given up. Apart from _lock so a look at _held never waits for a write.
        self._writing = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.consumer: Consumer = consumer(bootstrap, group, **{
            "client.id": self.instance,
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": session_timeout_ms,
            "heartbeat.interval.ms": max(100, session_timeout_ms // 3),
            # Partitions added for new tasks are seen within this, not the default 5 minutes.
            "topic.metadata.refresh.interval.ms": 30_000,
        })  # fmt: skip

    def holds(self, task: str) -> bool:
        with self._lock:
            return task in self._held

    def held(self) -> list[str]:
        with self._lock:
            return sorted(self._held)

    @contextlib.contextmanager
    def fence(self, task: str) -> Iterator[None]:
        """Around a task's durable write: raises ``NotHolding`` unless this instance holds
        the task, and keeps a revocation waiting until the write is done."""
        with self._writing:
            if not self.holds(task):
                raise NotHolding(f"task {task} is no longer held by {self.instance}")
            yield

    async def run(self, stop: Callable[[], bool]) -> None:
        """Member of the group until ``stop``; leaving revokes (and stops) every task."""
        self._loop = asyncio.get_running_loop()
        worker = Worker(self.consumer, self._ignore, name=f"tasks {self.topic}",
                        topics=[self.topic], commit=False, on_assign=self._assigned,
                        on_revoke=self._revoked, on_lost=self._lost)  # fmt: skip
        await worker.run(stop)

    async def _ignore(self, batch: Batch) -> None:
        """The placement records themselves: read once at start-up, nothing to do here."""

    # -- rebalance callbacks, on the consumer's thread -----------------------------------
    def _tasks(self, partitions: list[TopicPartition]) -> list[tuple[int, str | None]]:
        return [(tp.partition, self.by_partition.get(tp.partition)) for tp in partitions
                if tp.topic == self.topic]  # fmt: skip

    def _assigned(self, partitions: list[TopicPartition]) -> None:
        assert self._loop is not None
        for partition, task in self._tasks(partitions):
            if task is None:
                log.warning("%s[%d] assigned to %s names no task of this configuration; idle",
                            self.topic, partition, self.instance)  # fmt: skip
                continue
            with self._lock:
                self._held[task] = partition
            log.info("task %s started on %s", task, self.instance,
                     extra={"task": task, "instance": self.instance, "task_event": "start",
                            "at": time.time()})  # fmt: skip
            self._loop.call_soon_threadsafe(self.on_start, task)

    def _revoked(self, partitions: list[TopicPartition]) -> None:
        self._release(partitions, lost=False)

    def _lost(self, partitions: list[TopicPartition]) -> None:
        self._release(partitions, lost=True)

    def _release(self, partitions: list[TopicPartition], *, lost: bool) -> None:
        tasks = [t for _, t in self._tasks(partitions) if t is not None and self.holds(t)]
        if not tasks or self._loop is None:
            return
        if lost:  # others may run these already: no write of ours may land from now on
            self._drop(tasks)
        stopping = asyncio.run_coroutine_threadsafe(self._stop_all(tasks, lost), self._loop)
        stopping.result()
        self._drop(tasks)
        for t in tasks:
            log.info("task %s stopped on %s%s", t, self.instance, " (lost)" if lost else "",
                     extra={"task": t, "instance": self.instance, "task_event": "stop",
                            "at": time.time()})  # fmt: skip

    def _drop(self, tasks: list[str]) -> None:
        with self._writing, self._lock:
            for t in tasks:
                self._held.pop(t, None)

    async def _stop_all(self, tasks: list[str], lost: bool) -> None:
        await asyncio.gather(*(self.on_stop(t, lost) for t in tasks))
