"""Replay one record: send its last event on a sink topic to that topic again.

The audit trail says where the record's latest event sat in a sink topic; that exact message
is copied to the end of the same topic, so the sink writes it once more (an idempotent
upsert) without anything else being replayed.
"""

from __future__ import annotations

import uuid

from confluent_kafka import TopicPartition

from app.audit_index import AuditIndex
from ml_connector import headers as h
from ml_connector.audit import AuditLog
from ml_connector.kafka.clients import Consumed, Outgoing, consumer, deliver, producer
from ml_connector.topics import Topics

# Stages that name a record's position in a sink topic. ``parked`` is how sinks wrote ``held``
# before the rename: trails indexed from then still lead to their record.
SINK_STAGES = ("routed", "written", "retried", "held", "parked", "dead")


def replay_record(
    bootstrap: str, index: AuditIndex, topics: Topics, connection: str, entity: str, record_id: str
) -> str | None:
    sink_prefix = topics.sink("x", entity).rsplit(".", 2)[0] + "."
    latest = None
    for row in index.trail(connection, entity, record_id):
        in_sink = row.stage in SINK_STAGES and (row.topic or "").startswith(sink_prefix)
        if in_sink and row.partition is not None and row.offset is not None:
            latest = row
    if latest is None or latest.topic is None or latest.partition is None:
        return None
    c = consumer(bootstrap, f"mlc-replay-{uuid.uuid4().hex[:8]}")
    try:
        c.assign([TopicPartition(latest.topic, latest.partition, latest.offset or 0)])
        msg = c.poll(10)
        if msg is None or msg.error() is not None:
            raise RuntimeError(f"cannot read {latest.topic}[{latest.partition}]@{latest.offset}")
        original = Consumed.of(msg)
    finally:
        c.close()
    kafka = producer(bootstrap)
    replays = int(h.as_dict(original.headers).get(h.REPLAYS, "0")) + 1
    copy = Outgoing(
        original.topic,
        original.key,
        original.value,
        [*h.original_headers(original.headers), (h.REPLAYS, str(replays))],
    )
    AuditLog(kafka, topics.audit, "replay").emit(
        "replayed", connection=connection, entity=entity, record_id=record_id,
        event_id=latest.event_id, topic=original.topic, partition=original.partition,
        offset=original.offset, replay=replays,
    )  # fmt: skip
    deliver(kafka, [copy], timeout=30)  # flushes the audit record with it
    return f"{original.topic}[{original.partition}] (copy of offset {original.offset})"
