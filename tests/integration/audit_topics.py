"""A fresh audit topic and a log writing to it, for the tests of the audit index."""

from __future__ import annotations

import uuid

from confluent_kafka import Producer

from ml_connector.audit import AuditLog
from ml_connector.kafka.admin import TopicSpec, ensure_topics
from ml_connector.kafka.clients import producer


def fresh_audit(bootstrap: str, component: str = "test") -> tuple[str, Producer, AuditLog]:
    """(topic, producer to flush, log): two partitions, as a record's trail stays in one."""
    topic = f"test.audit.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(topic, 2)])
    kafka = producer(bootstrap)
    return topic, kafka, AuditLog(kafka, topic, component)
