"""Small durable state (poll cursors, subscriptions) in the compacted ``mlc.state`` topic.

Kept in Kafka rather than on local disk so a producer can move to another host, and so a
cursor is exactly as durable as the events it stands for.
"""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import KafkaError, TopicPartition

from ml_connector.kafka.clients import DeliveryTracker, consumer, producer


class StateStore:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._producer = producer(bootstrap)

    def load(self, key: str) -> dict[str, Any] | None:
        """The latest value written for a key, reading the whole (compacted) topic."""
        c = consumer(self.bootstrap, group="mlc-state-reader", **{"enable.partition.eof": True})
        try:
            meta = c.list_topics(self.topic, timeout=10).topics[self.topic]
            parts = [TopicPartition(self.topic, p, 0) for p in meta.partitions]
            ends = {}
            for tp in parts:
                low, high = c.get_watermark_offsets(tp, timeout=10)
                if high > low:
                    ends[tp.partition] = high
            if not ends:
                return None
            c.assign([TopicPartition(self.topic, p, 0) for p in ends])
            latest: dict[str, Any] | None = None
            done: set[int] = set()
            while len(done) < len(ends):
                msg = c.poll(5)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        done.add(msg.partition())
                        continue
                    raise RuntimeError(f"reading {self.topic}: {msg.error()}")
                if msg.key() == key.encode():
                    raw = msg.value()
                    latest = None if raw is None else json.loads(raw)
                if msg.offset() + 1 >= ends[msg.partition()]:
                    done.add(msg.partition())
            return latest
        finally:
            c.close()

    def save(self, key: str, value: dict[str, Any]) -> None:
        """Write and wait for the broker's acknowledgement before returning."""
        tracker = DeliveryTracker()
        self._producer.produce(
            self.topic, key=key.encode(), value=json.dumps(value).encode(), on_delivery=tracker
        )
        self._producer.flush(30)
        tracker.raise_if_failed()
        if tracker.acked != 1:
            raise RuntimeError(f"state for {key} was not acknowledged by Kafka")
