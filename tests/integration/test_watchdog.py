"""A group with records waiting and no commits for a while is reported stalled."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, TopicPartition

from app.watchdog import ProgressWatch
from ml_connector.kafka.admin import TopicSpec, ensure_topics
from ml_connector.kafka.clients import producer


def test_stalled_only_when_records_wait_and_commits_stand_still(bootstrap: str) -> None:
    topic, group = f"test.{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(topic, 1)])
    watch = ProgressWatch(bootstrap, group, [topic], stall_after=60)
    assert not watch.stalled(now=0)  # nothing waiting
    kafka = producer(bootstrap)
    for i in range(5):
        kafka.produce(topic, value=str(i).encode())
    kafka.flush(10)
    assert not watch.stalled(now=1)  # records wait: the clock starts now
    assert not watch.stalled(now=30)
    assert watch.stalled(now=61.5)  # a minute with no commit while records waited

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    c.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
    assert not watch.stalled(now=62)  # progress resets the clock
    assert watch.stalled(now=123)
    c.commit(offsets=[TopicPartition(topic, 0, 5)], asynchronous=False)
    c.close()
    assert not watch.stalled(now=500)  # caught up: never stalled
