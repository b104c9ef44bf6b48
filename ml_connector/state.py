"""Small durable key-value state in compacted topics (``mlc.state``, ``mlc.schemas``).

Kept in Kafka rather than on local disk so a producer can move to another host, and so a
cursor is exactly as durable as the events it stands for.
"""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import KafkaError, Producer, TopicPartition

from ml_connector.kafka.clients import Consumed, DeliveryTracker, consumer, producer, watermarks


class CompactedTopic:
    """Latest value per key of a compacted topic, read from the beginning on demand."""

    def __init__(self, bootstrap: str, topic: str, shared: Producer | None = None) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._producer = shared or producer(bootstrap)

    def read_all(self) -> dict[str, bytes]:
        c = consumer(self.bootstrap, group="mlc-compacted-reader", **{"enable.partition.eof": True})
        try:
            meta = c.list_topics(self.topic, timeout=10).topics[self.topic]
            ends = {}
            for p in meta.partitions:
                low, high = watermarks(c, TopicPartition(self.topic, p))
                if high > low:
                    ends[p] = high
            latest: dict[str, bytes] = {}
            if not ends:
                return latest
            c.assign([TopicPartition(self.topic, p, 0) for p in ends])
            done: set[int] = set()
            while len(done) < len(ends):
                msg = c.poll(5)
                if msg is None:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        done.add(msg.partition() or 0)
                        continue
                    raise RuntimeError(f"reading {self.topic}: {err}")
                record = Consumed.of(msg)
                key = (record.key or b"").decode()
                if record.value is None:
                    latest.pop(key, None)
                else:
                    latest[key] = record.value
                if record.offset + 1 >= ends[record.partition]:
                    done.add(record.partition)
            return latest
        finally:
            c.close()

    def send(self, key: str, value: bytes | None, tracker: DeliveryTracker) -> None:
        """Write without waiting; the caller flushes with the batch it belongs to."""
        self._producer.produce(self.topic, key=key.encode(), value=value, on_delivery=tracker)

    def put(self, key: str, value: bytes) -> None:
        """Write and wait for the broker's acknowledgement before returning."""
        tracker = DeliveryTracker()
        self._producer.produce(self.topic, key=key.encode(), value=value, on_delivery=tracker)
        self._producer.flush(30)
        tracker.raise_if_failed()
        if tracker.acked != 1:
            raise RuntimeError(f"{self.topic}: {key} was not acknowledged by Kafka")


class StateStore:
    """JSON documents by key: poll cursors and their running totals, subscriptions."""

    def __init__(self, bootstrap: str, topic: str, shared: Producer | None = None) -> None:
        self._topic = CompactedTopic(bootstrap, topic, shared)

    def load(self, key: str) -> dict[str, Any] | None:
        raw = self._topic.read_all().get(key)
        return None if raw is None else dict(json.loads(raw))

    def load_all(self) -> dict[str, dict[str, Any]]:
        return {k: dict(json.loads(v)) for k, v in self._topic.read_all().items()}

    def save(self, key: str, value: dict[str, Any]) -> None:
        self._topic.put(key, json.dumps(value).encode())

    def send(self, key: str, value: dict[str, Any] | None, tracker: DeliveryTracker) -> None:
        """Write (None deletes) without waiting; the caller flushes."""
        self._topic.send(key, None if value is None else json.dumps(value).encode(), tracker)

    def load_prefix(self, prefix: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.load_all().items() if k.startswith(prefix)}
