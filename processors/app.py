"""The Faust application: resolve references, dedupe change events, route them to sinks.

Mapping to the canonical model happens at the producer edge (hub and spoke), so every change
topic already carries canonical entities. Here:

- masters a source sends are recorded in ``mlc.xref`` (what the source holds, by code);
- documents have their references resolved to the target's codes (``resolve``); one naming a
  master the target has not sent yet waits in the ``waiting`` table, keyed by the document,
  and is handed back through the ``released`` topic once the master arrives (``parking``);
- each event is compared with the content last routed for its key and dropped when
  unchanged, so overlap re-reads, duplicate webhooks and replays cost the targets nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import AsyncIterable
from typing import Any

import faust

from ml_connector.audit import AuditRecord
from ml_connector.avro import AvroCodec
from ml_connector.canonical import DOCUMENTS, REFERENCED, required_fields
from ml_connector.config import Settings
from ml_connector.metrics import RECORDS
from ml_connector.scratch import scratch_dir
from ml_connector.xref import master_entry, xref_key
from ml_connector.xref_view import XrefView
from processors.credentials import faust_credentials
from processors.parking import Parked, release_timer
from processors.resolve import Resolver, resolvers
from processors.routes import Route, routes
from processors.routing import Routing, as_current

log = logging.getLogger(__name__)


def remembered(value: Any) -> tuple[str | None, dict[str, Any] | None]:
    """(hash, identity) of a table entry; early entries held the hash alone."""
    if isinstance(value, dict):
        return value.get("hash"), value.get("identity")
    return value, None


def content_hash(event: dict[str, Any]) -> str:
    """What makes two events the same for a target: operation and canonical content."""
    material = json.dumps([event["op"] == "d", event["after"]], sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


def stop_loudly(message: Any, exc: BaseException) -> None:
    """End the process at once, naming the record: Faust would log the crash and go on past
    the event (or leave the agent stopped with the process alive). Exiting without acking it
    keeps its offset uncommitted, so the restarted worker reads it again; nothing is lost."""
    log.critical("processors stopped: %s[%d]@%d could not be handled: %r", message.topic,
                 message.partition, message.offset, exc, exc_info=exc)  # fmt: skip
    logging.shutdown()
    os._exit(EXIT_RECORD_FAILED)


EXIT_RECORD_FAILED = 70  # EX_SOFTWARE: the supervisor restarts the processors
# Events taken at once: their sends are in flight together and acknowledged as one. A batch
# goes when full or when no event came for BATCH_WITHIN seconds.
BATCH_SIZE = 1000
BATCH_WITHIN = 0.05


def rocksdb_options() -> dict[str, Any]:
    """Faust's RocksDB store through rocksdict, with its memory bounded per partition's
    database: a 4 MiB block cache and two 4 MiB write buffers (Faust's defaults are 2 GiB
    and three of 64 MiB). A new dict per table: Faust takes keys out of the one it gets."""
    return {
        "driver": "rocksdict",
        "block_cache_size": 4 * 2**20,
        "block_cache_compressed_size": 2**20,
        "write_buffer_size": 4 * 2**20,
        "max_write_buffer_number": 2,
    }


def build_app(settings: Settings, bootstrap: str, codec: AvroCodec, xref: XrefView) -> faust.App:
    topics = settings.kafka.topics
    app = faust.App(
        topics.processor_app(),
        broker=f"kafka://{bootstrap}",
        broker_credentials=faust_credentials(),
        # Tables live on disk and in their changelogs, so memory does not grow with the keys.
        store="rocksdb://",
        # Restored from the changelogs into a new directory at each start, so a worker never
        # trusts files another run (or a killed one) left behind.
        datadir=scratch_dir("processors"),
        # Tables use JSON; our topics carry Avro bytes and say so themselves.
        key_serializer="json",
        value_serializer="json",
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        producer_acks=-1,
        # A batch's sends go out together rather than one request each (as our other
        # producers' linger.ms=10).
        producer_linger=0.01,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        # A killed worker's partitions move to its replacement after this, not after 60 s.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        stream_wait_empty=False,
    )
    # One entry per (target, source, entity, key): the hash of the content last routed there.
    # Its changelog topic makes it survive restarts and follow partitions on rebalance.
    seen = app.Table("content-hash", default=None, partitions=settings.kafka.partitions,
                     options=rocksdb_options())  # fmt: skip
    # Documents waiting for a master, by the same key (see ``parking``).
    waiting = app.Table("waiting", default=None, partitions=settings.kafka.partitions,
                        options=rocksdb_options())  # fmt: skip

    def raw(*names: str) -> Any:
        """Our topics carry Avro or JSON bytes of their own: Faust passes them through."""
        return app.topic(*names, key_serializer="raw", value_serializer="raw")

    audit_topic = raw(topics.audit)
    xref_topic = raw(topics.xref)
    resolver_for = resolvers(settings, xref)

    async def audit(
        stage: str, route: Route, record_id: str, event: dict[str, Any], **detail: Any
    ) -> None:
        record = AuditRecord(route.source, route.entity, record_id, stage,
                             event_id=event.get("event_id"), component="processors",
                             detail={"target": route.target, **detail})  # fmt: skip
        # Buffered, not awaited to the ack: the sink's own audit record proves delivery.
        await audit_topic.send(key=record.key.encode(), value=record.to_json())
        RECORDS.labels("processors", stage, route.source, route.entity).inc()

    async def record_master(source: str, entity: str, record_id: str, data: dict[str, Any]) -> None:
        """What the source holds, by code: documents naming it may now go to that source.
        Called for every entity some document declares a reference to (masters, and the
        invoices payments apply to)."""
        if data["op"] == "d":
            await xref_topic.send(key=xref_key(source, entity, record_id).encode(), value=None)
        elif (entry := master_entry(source, entity, record_id, data["after"])) is not None:
            await xref_topic.send(key=entry.key.encode(), value=entry.to_json())

    # A canonical entity's fields without a default: enough to name it in a delete.
    keep = {entity: required_fields(entity) for _, entity in routes(settings)}

    async def deliver(route: Route, topic: Any, data: dict[str, Any], key: bytes,
                      parked: Parked, event: Any, routing: Routing) -> None:  # fmt: skip
        entity, record_id = route.entity, key.decode()
        table_key = f"{route.target}|{route.source}|{entity}|{record_id}"
        resolver: Resolver | None = resolver_for.get((route.source, route.target))
        if entity in DOCUMENTS and resolver is not None and data["after"] is not None:
            held = waiting.get(table_key)
            since = parked.since or (held or {}).get("since") or time.time()
            resolved, missing = resolver.resolve(entity, data["after"])
            awaits = [m.describe(route.source, route.target) for m in missing]
            if missing and time.time() - since < resolver.park_timeout:
                waiting[table_key] = parked.entry(route, missing, since)
                await audit("parked", route, record_id, data, awaits=awaits)
                return
            if held is not None:
                del waiting[table_key]
                await audit("released", route, record_id, data, waited_s=round(
                    time.time() - since, 3), still_missing=awaits)  # fmt: skip
            data = {**data, "after": resolved}
        elif entity in DOCUMENTS and waiting.get(table_key) is not None:
            del waiting[table_key]  # deleted at the source: what waited must not follow
        digest = content_hash(data)
        last_hash, identity = remembered(routing.last(table_key))
        if last_hash == digest:
            await audit("deduplicated", route, record_id, data)
            return
        if data["op"] == "d" and data["before"] is None:
            if identity is None:
                return  # never routed there: nothing to delete in that target
            # A source that only says "deleted" (BC) gets the Debezium 'before' from
            # what was last routed: enough for the target to find the record.
            data = {**data, "before": identity}
        # The hash is remembered once the broker acknowledged the send, with the rest of the
        # batch (``routing``): a crash in between re-sends (harmless, sinks upsert) instead
        # of losing the event.
        pending = await topic.send(
            key=key, value=codec.encode(topic.get_topic_name(), entity, data)
        )
        named = data["after"] or data["before"] or {}
        identity = {f: named.get(f) for f in keep[entity]}

        async def routed(sent: Any) -> None:
            await audit("routed", route, record_id, data, topic=topic.get_topic_name(),
                        partition=sent.partition, offset=sent.offset)  # fmt: skip

        routing.sent(event, table_key, {"hash": digest, "identity": identity}, pending, routed)

    async def handle(
        event: Any,
        source: str,
        entity: str,
        sinks: dict[str, tuple[Route, Any]],
        released: str,
        routing: Routing,
    ) -> None:
        """One event of a change or released topic, up to its sends (``routing`` settles)."""
        partition = event.message.partition
        if event.message.topic == released:
            # A parked document whose master arrived (or whose wait ran out).
            marker = json.loads(event.value)
            held = waiting.get(marker["table_key"])
            if held is None:
                return  # routed or replaced since
            parked = Parked.of(held)
            route, topic = sinks[held["target"]]
            await deliver(route, topic, codec.decode(entity, parked.value),
                          event.key, parked, event, routing)  # fmt: skip
            return
        if event.value is None:  # tombstone: nothing to route
            return
        data = codec.decode(entity, event.value)
        if entity in REFERENCED:
            await record_master(source, entity, event.key.decode(), data)
        for route, topic in sinks.values():
            await deliver(route, topic, data, event.key,
                          Parked(event.value, event.key, partition), event, routing)  # fmt: skip

    released_topics: dict[tuple[str, str], Any] = {}
    for (source, entity), targets in routes(settings).items():
        change = topics.change(source, entity)
        sinks = {r.target: (r, raw(topics.sink(r.target, entity))) for r in targets}
        gated = entity in DOCUMENTS and any((source, t) in resolver_for for t in sinks)
        released = topics.released(source, entity)
        channel = raw(change, released) if gated else raw(change)
        if gated:
            released_topics[(source, entity)] = raw(released)

        async def process(
            stream: AsyncIterable[Any],
            source: str = source,
            entity: str = entity,
            sinks: dict[str, tuple[Route, Any]] = sinks,
            released: str = released,
        ) -> None:
            # Faust acks a batch's events once this body is done with it: after ``settle``.
            async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN):  # type: ignore[attr-defined]
                routing = Routing(seen)
                for event in events:
                    as_current(event)
                    try:
                        await handle(event, source, entity, sinks, released, routing)
                    except Exception as exc:  # noqa: BLE001 - any failure: never commit past it
                        stop_loudly(event.message, exc)
                await routing.settle(lambda event, exc: stop_loudly(event.message, exc))

        app.agent(channel, name=f"route-{source}-{entity}")(process)
    if released_topics:
        app.timer(1.0)(release_timer(waiting, xref, resolver_for, released_topics))
    return app
