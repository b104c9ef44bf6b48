"""The Faust application: dedupe change events and route them to the sinks' topics.

Mapping to the canonical model happens at the producer edge (hub and spoke), so every change
topic already carries canonical entities; here each event is compared with the content last
routed for its key and dropped when unchanged, so overlap re-reads, duplicate webhooks and
replays cost the targets nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any

import faust

import schemas
from ml_connector.audit import AuditRecord
from ml_connector.avro import AvroCodec
from ml_connector.config import Settings

log = logging.getLogger(__name__)


def required_fields(entity: str) -> list[str]:
    """Fields of a canonical entity without a default: enough to name it in a delete."""
    return [f["name"] for f in schemas.value_schema(entity)["fields"][0]["type"][1]["fields"]
            if "default" not in f]  # fmt: skip


def remembered(value: Any) -> tuple[str | None, dict[str, Any] | None]:
    """(hash, identity) of a table entry; early entries held the hash alone."""
    if isinstance(value, dict):
        return value.get("hash"), value.get("identity")
    return value, None


def content_hash(event: dict[str, Any]) -> str:
    """What makes two events the same for a target: operation and canonical content."""
    material = json.dumps([event["op"] == "d", event["after"]], sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class Route:
    source: str
    target: str
    entity: str


def routes(settings: Settings) -> dict[tuple[str, str], list[Route]]:
    """(source connection, entity) -> where its events go."""
    table: dict[tuple[str, str], list[Route]] = defaultdict(list)
    for flow in settings.flows.values():
        for entity in flow.entities:
            table[(flow.source, entity)].append(Route(flow.source, flow.target, entity))
    return dict(table)


def build_app(settings: Settings, bootstrap: str, codec: AvroCodec) -> faust.App:
    topics = settings.kafka.topics
    app = faust.App(
        topics.processor_app(),
        broker=f"kafka://{bootstrap}",
        store="memory://",
        # Tables use JSON; our topics carry Avro bytes and say so themselves.
        key_serializer="json",
        value_serializer="json",
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        # A killed worker's partitions move to its replacement after this, not after 60 s.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        stream_wait_empty=False,
    )
    # One entry per (target, source, entity, key): the hash of the content last routed there.
    # Its changelog topic makes it survive restarts and follow partitions on rebalance.
    seen = app.Table("content-hash", default=None, partitions=settings.kafka.partitions)
    audit_topic = app.topic(topics.audit, key_serializer="raw", value_serializer="raw")

    async def audit(
        stage: str, route: Route, record_id: str, event: dict[str, Any], **detail: Any
    ) -> None:
        record = AuditRecord(route.source, route.entity, record_id, stage,
                             event_id=event.get("event_id"), component="processors",
                             detail={"target": route.target, **detail})  # fmt: skip
        # Buffered, not awaited to the ack: the sink's own audit record proves delivery.
        await audit_topic.send(key=record.key.encode(), value=record.to_json())

    keep = {entity: required_fields(entity) for _, entity in routes(settings)}
    for (source, entity), targets in routes(settings).items():
        src = app.topic(topics.change(source, entity), key_serializer="raw", value_serializer="raw")
        sinks = [
            (
                r,
                app.topic(
                    topics.sink(r.target, entity), key_serializer="raw", value_serializer="raw"
                ),
            )
            for r in targets
        ]

        async def process(
            stream: AsyncIterable[Any], entity: str = entity, sinks: list[Any] = sinks
        ) -> None:
            async for event in stream.events():  # type: ignore[attr-defined]
                if event.value is None:  # tombstone: nothing to route
                    continue
                data = codec.decode(entity, event.value)
                digest = content_hash(data)
                record_id = event.key.decode()
                for route, topic in sinks:
                    table_key = f"{route.target}|{route.source}|{entity}|{record_id}"
                    last_hash, identity = remembered(seen.get(table_key))
                    if last_hash == digest:
                        await audit("deduplicated", route, record_id, data)
                        continue
                    if data["op"] == "d" and data["before"] is None:
                        if identity is None:
                            continue  # never routed there: nothing to delete in that target
                        # A source that only says "deleted" (BC) gets the Debezium 'before'
                        # from what was last routed: enough for the target to find the record.
                        data = {**data, "before": identity}
                    # Wait for the broker's ack before remembering the hash: a crash in
                    # between re-sends (harmless, sinks upsert) instead of losing the event.
                    pending = await topic.send(
                        key=event.key, value=codec.encode(topic.get_topic_name(), entity, data)
                    )
                    sent = await pending
                    named = data["after"] or data["before"] or {}
                    identity = {f: named.get(f) for f in keep[entity]}
                    seen[table_key] = {"hash": digest, "identity": identity}
                    await audit("routed", route, record_id, data, topic=topic.get_topic_name(),
                                partition=sent.partition, offset=sent.offset)  # fmt: skip

        app.agent(src, name=f"route-{source}-{entity}")(process)
    return app
