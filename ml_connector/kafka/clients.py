"""Producer and consumer settings, and the wait for Kafka's acknowledgements, written once for
every process."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ClusterMetadata

from ml_connector import kafka_security as security
from ml_connector.headers import Headers

# murmur2 matches the Java clients' partitioner, so keys land on the same partition whichever
# client produced them (Kafka Streams, Connect, our own processes).
PARTITIONER = "murmur2_random"


def _cluster(bootstrap: str) -> dict[str, Any]:
    """Where the cluster is and how to authenticate to it (``security.configure``)."""
    return {**security.current().properties, "bootstrap.servers": bootstrap}


def admin(bootstrap: str, **overrides: Any) -> AdminClient:
    return AdminClient({**_cluster(bootstrap), **overrides})


class KafkaUnreachable(RuntimeError):
    """The brokers cannot be reached or refuse our credentials; the message says which."""


# Answers no retry will change: wrong credentials, an untrusted certificate, a refused ACL.
_REFUSALS = frozenset({KafkaError._AUTHENTICATION, KafkaError._SSL,
                       KafkaError.SASL_AUTHENTICATION_FAILED})  # fmt: skip


def cluster_metadata(bootstrap: str, timeout: float = 30.0) -> ClusterMetadata:
    """The cluster's metadata, or ``KafkaUnreachable`` saying why not: a refusal of our
    credentials or certificate is reported as soon as the broker gives it, not after the
    timeout, and in librdkafka's words (which never carry the secret)."""
    errors: list[KafkaError] = []
    client = admin(bootstrap, error_cb=errors.append, log_level=0)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.list_topics(timeout=1)
        except KafkaException as exc:
            client.poll(0)  # serves error_cb: the reasons behind a failed metadata request
            refused = [e for e in errors if e.code() in _REFUSALS]
            if refused:
                raise KafkaUnreachable(f"kafka at {bootstrap}: {refused[-1].str()}") from None
            if time.monotonic() > deadline:
                reason = errors[-1].str() if errors else exc.args[0].str()
                raise KafkaUnreachable(f"kafka at {bootstrap}: {reason}") from None


def producer(bootstrap: str, **overrides: Any) -> Producer:
    """Idempotent, acks=all: a retried send is never written twice to a partition."""
    config = {
        **_cluster(bootstrap),
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": PARTITIONER,
        "linger.ms": 10,
        # No compression by default: every subscriber's client can read it, including
        # Python ones built without the codec libraries.
        "compression.type": "none",
        **overrides,
    }
    return Producer(config)


def consumer(bootstrap: str, group: str, **overrides: Any) -> Consumer:
    """Manual commits only: an offset moves after the work it stands for is done."""
    config = {
        **_cluster(bootstrap),
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        # A crashed member's partitions are reassigned after 10 s rather than 45 s.
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 3000,
        **overrides,
    }
    return Consumer(config)


@dataclass(frozen=True)
class Outgoing:
    """A record to produce: where it goes and what it carries."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers | None = None


class DeliveryFailed(RuntimeError):
    """Kafka did not acknowledge every record of a set of sends."""


class DeliveryTracker:
    """Counts a set of sends and their delivery reports, so a caller can tell whether every
    one of them was acknowledged: failed and never-reported sends both count against it."""

    def __init__(self) -> None:
        self.sent = 0
        self.acked = 0
        self.errors: list[str] = []
        # Reports arrive on whichever thread polls the producer, which may be another
        # caller's flush: the counts must not lose an update between two threads.
        self._lock = threading.Lock()

    def send(self, producer: Producer, out: Outgoing) -> None:
        """Produce ``out`` without waiting; ``wait`` (or the caller's flush) settles it."""
        producer.produce(out.topic, key=out.key, value=out.value, headers=out.headers,
                         on_delivery=self)  # fmt: skip
        with self._lock:
            self.sent += 1

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        with self._lock:
            if err is None:
                self.acked += 1
            else:
                key = msg.key()
                self.errors.append(f"{msg.topic()}[{msg.partition()}] key {key!r:.80}: {err.str()}")

    def raise_if_failed(self) -> None:
        with self._lock:
            sent, acked, errors = self.sent, self.acked, list(self.errors)
        if acked == sent:
            return
        unreported = sent - acked - len(errors)
        said = [f"{len(errors)} failed"] if errors else []
        if unreported:
            said.append(f"{unreported} without a delivery report yet")
        first = f"; first failures: {'; '.join(errors[:3])}" if errors else ""
        raise DeliveryFailed(
            f"{sent - acked} of {sent} sends not acknowledged ({', '.join(said)}){first}"
        )

    def wait(self, producer: Producer, timeout: float = 60.0) -> None:
        """Flush ``producer`` and raise unless every send counted here was acknowledged."""
        producer.flush(timeout)
        self.raise_if_failed()


def deliver(producer: Producer, records: Iterable[Outgoing], *, timeout: float = 60.0) -> int:
    """Produce ``records`` and wait until Kafka acknowledged every one of them; raise
    ``DeliveryFailed`` naming how many (and which) were not. Returns how many were sent."""
    tracker = DeliveryTracker()
    for out in records:
        tracker.send(producer, out)
    tracker.wait(producer, timeout)
    return tracker.sent


@dataclass(frozen=True)
class Consumed:
    """A consumed record with the fields a delivered message always has, typed as such."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp: int

    @classmethod
    def of(cls, msg: Message) -> Consumed:
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        if topic is None or partition is None or offset is None:
            raise ValueError("not a delivered message (no topic, partition or offset)")
        raw = msg.headers() or []
        headers = list(raw.items()) if isinstance(raw, dict) else list(raw)
        return cls(topic, partition, offset, msg.key(), msg.value(), headers, msg.timestamp()[1])


# Answers of a broker whose partitions are still being placed (a new topic, a restart).
SETTLING = frozenset({
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._TIMED_OUT, KafkaError._TRANSPORT,
})  # fmt: skip


def watermarks(c: Consumer, tp: TopicPartition, *, attempts: int = 40) -> tuple[int, int]:
    """(low, high) offsets of a partition, waiting out a leader election instead of failing."""
    for attempt in range(attempts):
        try:
            low, high = c.get_watermark_offsets(tp, timeout=10)
            return int(low), int(high)
        except KafkaException as exc:
            if exc.args[0].code() not in SETTLING or attempt + 1 == attempts:
                raise
            time.sleep(0.25)
    raise AssertionError("unreachable")


def read_to_end(
    bootstrap: str, topic: str, group: str, *, timeout: float = 60.0
) -> Iterator[Consumed]:
    """Every record of a topic from its start up to its end as of the call, in partition
    order. Nothing is committed: this is a read of the log, not a consumer's progress."""
    c = consumer(bootstrap, group, **{"enable.partition.eof": True})
    try:
        meta = c.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return
        ends: dict[int, int] = {}
        starts = []
        for p in meta.partitions:
            low, high = watermarks(c, TopicPartition(topic, p))
            if high > low:
                ends[p] = high
                starts.append(TopicPartition(topic, p, low))
        c.assign(starts)
        deadline = time.monotonic() + timeout
        while ends:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} did not reach its end in {timeout:.0f}s")
            msg = c.poll(1)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    ends.pop(msg.partition() or 0, None)
                    continue
                raise RuntimeError(f"reading {topic}: {err}")
            record = Consumed.of(msg)
            if record.offset + 1 >= ends.get(record.partition, 0):
                ends.pop(record.partition, None)
            yield record
    finally:
        c.close()
