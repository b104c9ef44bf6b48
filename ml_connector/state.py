"""Small durable key-value state in compacted topics (``mlc.state``, ``mlc.schemas``).

Kept in Kafka rather than on local disk so a producer can move to another host, and so a
cursor is exactly as durable as the events it stands for.
"""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import Producer

from ml_connector.kafka.clients import DeliveryTracker, Outgoing, deliver, producer, read_to_end


class CompactedTopic:
    """Latest value per key of a compacted topic, read from the beginning on demand."""

    def __init__(self, bootstrap: str, topic: str, shared: Producer | None = None) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._producer = shared or producer(bootstrap)

    def read_all(self) -> dict[str, bytes]:
        latest: dict[str, bytes] = {}
        for record in read_to_end(self.bootstrap, self.topic, "mlc-compacted-reader"):
            key = (record.key or b"").decode()
            if record.value is None:
                latest.pop(key, None)  # a tombstone deletes the key
            else:
                latest[key] = record.value
        return latest

    def send(self, key: str, value: bytes | None, tracker: DeliveryTracker) -> None:
        """Write without waiting; the caller flushes with the batch it belongs to."""
        tracker.send(self._producer, Outgoing(self.topic, key.encode(), value))

    def put(self, key: str, value: bytes) -> None:
        """Write and wait for the broker's acknowledgement before returning."""
        deliver(self._producer, [Outgoing(self.topic, key.encode(), value)], timeout=30)


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
