"""Poll tasks placed on the tasks topic and shared by the group's members, on real Kafka."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable

import pytest

from ml_connector.kafka.admin import COMPACTED, TopicSpec, ensure_topics
from ml_connector.kafka.clients import admin
from ml_connector.kafka.tasks import NotHolding, TaskLease, TasksNotPlaced, place

pytestmark = pytest.mark.kafka


def new_topic(bootstrap: str, partitions: int) -> str:
    topic = f"t{uuid.uuid4().hex[:8]}.tasks"
    ensure_topics(bootstrap, [TopicSpec(topic, partitions, COMPACTED)])
    return topic


def test_tasks_keep_their_partitions_and_new_ones_get_added_partitions(bootstrap: str) -> None:
    topic = new_topic(bootstrap, 2)
    first = place(bootstrap, topic, ["f|bc|vendor", "f|bc|item", "f|bc|customer"], manage=True)
    assert sorted(first.values()) == [0, 1, 2]  # one partition each, the topic grown to three
    assert len(admin(bootstrap).list_topics(topic).topics[topic].partitions) == 3

    # A later configuration drops one task and adds two: the others stay where they were.
    later = place(bootstrap, topic, ["f|bc|item", "f|bc|customer", "g|acu|vendor",
                                     "g|acu|item"], manage=True)  # fmt: skip
    assert later["f|bc|item"] == first["f|bc|item"]
    assert later["f|bc|customer"] == first["f|bc|customer"]
    assert len(set(later.values())) == 4
    assert first["f|bc|vendor"] not in later.values()  # its partition stays its own


def test_topics_managed_elsewhere_get_placements_but_no_partitions(bootstrap: str) -> None:
    topic = new_topic(bootstrap, 3)  # as a platform team created it
    placed = place(bootstrap, topic, ["f|bc|vendor", "f|bc|item"], manage=False)
    assert sorted(placed.values()) == [0, 1]
    with pytest.raises(TasksNotPlaced, match=r"3 partitions, 4 needed.*f\|bc\|customer"):
        place(bootstrap, topic, ["f|bc|vendor", "f|bc|item", "f|bc|payment", "f|bc|customer"],
              manage=False)  # fmt: skip
    assert len(admin(bootstrap).list_topics(topic).topics[topic].partitions) == 3


class Member:
    """A lease and what it was told, run on the test's event loop."""

    def __init__(self, bootstrap: str, topic: str, group: str, placement: dict[str, int],
                 name: str) -> None:  # fmt: skip
        self.events: list[tuple[str, str]] = []
        self.stop = threading.Event()

        async def stopped(task: str, lost: bool) -> None:
            self.events.append(("stop", task))

        self.lease = TaskLease(bootstrap, topic, group, placement, instance=name,
                               on_start=lambda t: self.events.append(("start", t)),
                               on_stop=stopped, session_timeout_ms=6000)  # fmt: skip
        self.running: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.running = asyncio.ensure_future(self.lease.run(self.stop.is_set))


async def until(what: str, predicate: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def test_members_share_the_tasks_and_a_leaving_one_hands_them_over(bootstrap: str) -> None:
    topic = new_topic(bootstrap, 4)
    tasks = [f"f|bc|e{i}" for i in range(4)]
    placement = place(bootstrap, topic, tasks, manage=True)
    group = f"g{uuid.uuid4().hex[:8]}"
    a, b = (Member(bootstrap, topic, group, placement, n) for n in ("a", "b"))
    a.start()
    await until("a to hold every task", lambda: a.lease.held() == sorted(tasks))
    b.start()

    def shared() -> bool:
        held_a, held_b = set(a.lease.held()), set(b.lease.held())
        return bool(held_a) and bool(held_b) and held_a | held_b == set(tasks)

    await until("the tasks to be shared", shared)
    assert not set(a.lease.held()) & set(b.lease.held())
    moved = [t for kind, t in a.events if kind == "stop"]
    assert moved and set(moved) == set(b.lease.held())  # a stopped what b then started

    # a refuses a write for a task it gave away, admits one for a task it holds.
    with pytest.raises(NotHolding), a.lease.fence(moved[0]):
        pass
    with a.lease.fence(a.lease.held()[0]):
        pass

    a.stop.set()  # leaving the group revokes (and stops) each of its tasks first
    assert a.running is not None
    await a.running
    assert a.lease.held() == []
    await until("b to hold every task", lambda: b.lease.held() == sorted(tasks))
    stops = [t for kind, t in a.events if kind == "stop"]
    assert sorted(stops) == sorted(tasks)  # every task a held was stopped, once
    b.stop.set()
    assert b.running is not None
    await b.running
