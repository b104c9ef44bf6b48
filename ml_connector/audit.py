"""Audit records: one per stage outcome of a record, on the ``mlc.audit`` topic.

Keyed by (connection, entity, native id) so a record's whole trail sits in one partition, in
order. Values are JSON: they are for people and the indexer, not for schema-bound consumers.
Sends are not awaited one by one; callers flush with the batch they belong to.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from confluent_kafka import Producer

from ml_connector.metrics import RECORDS

# ``parked``: a document waiting in the processors for a master it names. ``held``: a record
# waiting in a sink behind an earlier record of its key that is in retry (before the two were
# told apart, sinks wrote ``parked`` for that too; such records stay in the topic and index).
STAGES = (
    "polled", "received", "backfill", "produced", "mapped", "deduplicated", "routed", "parked",
    "held", "written", "retried", "dead", "replayed",
)  # fmt: skip


@dataclass(frozen=True)
class AuditRecord:
    connection: str
    entity: str
    record_id: str
    stage: str
    ts_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    event_id: str | None = None
    component: str = ""
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.connection}|{self.entity}|{self.record_id}"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, default=str).encode()

    @classmethod
    def from_json(cls, data: bytes) -> AuditRecord:
        return cls(**json.loads(data))


class AuditLog:
    """Writes audit records with a shared producer; flushing is the caller's batch boundary."""

    def __init__(self, producer: Producer, topic: str, component: str) -> None:
        self.producer = producer
        self.topic = topic
        self.component = component

    def emit(self, stage: str, *, connection: str, entity: str, record_id: str,
             event_id: str | None = None, topic: str | None = None,
             partition: int | None = None, offset: int | None = None,
             **detail: Any) -> None:  # fmt: skip
        if stage not in STAGES:
            raise ValueError(f"unknown audit stage {stage!r}")
        record = AuditRecord(
            connection, entity, record_id, stage, event_id=event_id, component=self.component,
            topic=topic, partition=partition, offset=offset, detail=detail,
        )  # fmt: skip
        self.producer.produce(self.topic, key=record.key.encode(), value=record.to_json())
        self.producer.poll(0)
        RECORDS.labels(self.component, stage, connection, entity).inc()
