"""Producer and consumer settings, written once for every process."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, Producer

# murmur2 matches the Java clients' partitioner, so keys land on the same partition whichever
# client produced them (Kafka Streams, Connect, our own processes).
PARTITIONER = "murmur2_random"


def producer(bootstrap: str, **overrides: Any) -> Producer:
    """Idempotent, acks=all: a retried send is never written twice to a partition."""
    config = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": PARTITIONER,
        "linger.ms": 10,
        "compression.type": "lz4",
        **overrides,
    }
    return Producer(config)


def consumer(bootstrap: str, group: str, **overrides: Any) -> Consumer:
    """Manual commits only: an offset moves after the work it stands for is done."""
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        **overrides,
    }
    return Consumer(config)


class DeliveryTracker:
    """Collects delivery reports so a caller can tell whether every send was acknowledged."""

    def __init__(self) -> None:
        self.acked = 0
        self.errors: list[str] = []

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.errors.append(f"{msg.topic()}: {err.str()}")
        else:
            self.acked += 1

    def raise_if_failed(self) -> None:
        if self.errors:
            raise RuntimeError(f"{len(self.errors)} sends failed, first: {self.errors[0]}")
