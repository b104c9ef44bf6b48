"""Topic creation, written once: every process ensures the topics it touches exist."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, OffsetSpec

from ml_connector.config import Settings
from ml_connector.flows import poll_tasks, returned_documents
from ml_connector.kafka.clients import admin as admin_client
from ml_connector.xref import DOCUMENTS

COMPACTED = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "segment.ms": "600000"}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 3
    config: dict[str, str] = field(default_factory=dict)
    at_least: bool = False  # more partitions than asked is right too (the tasks topic grows)


def ensure_topics(
    bootstrap: str, specs: Iterable[TopicSpec], replication_factor: int = 1, timeout: float = 30
) -> None:
    admin = admin_client(bootstrap)
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [
        NewTopic(s.name, num_partitions=s.partitions, replication_factor=replication_factor,
                 config=dict(s.config))
        for s in specs
        if s.name not in existing
    ]  # fmt: skip
    if not wanted:
        return
    for name, future in admin.create_topics(wanted, operation_timeout=timeout).items():
        try:
            future.result()
        except Exception as exc:
            # Another process may have created it between list and create.
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise RuntimeError(f"cannot create topic {name}: {exc}") from exc


def topic_differences(
    bootstrap: str, specs: Iterable[TopicSpec], replication_factor: int, timeout: float = 30
) -> list[str]:
    """One line per topic that is missing, or whose partitions, replication or cleanup policy
    differ from what the design needs (a compacted topic that deletes loses state)."""
    admin = admin_client(bootstrap)
    metadata = admin.list_topics(timeout=timeout).topics
    specs = list(specs)
    found = [f"{s.name}: missing" for s in specs if s.name not in metadata]
    present = [s for s in specs if s.name in metadata]
    resources = [ConfigResource(ConfigResource.Type.TOPIC, s.name) for s in present]
    configs = admin.describe_configs(resources, request_timeout=timeout) if resources else {}
    by_name = {r.name: future.result() for r, future in configs.items()}
    for s in present:
        topic = metadata[s.name]
        partitions = len(topic.partitions)
        if partitions < s.partitions or (partitions > s.partitions and not s.at_least):
            found.append(f"{s.name}: {partitions} partitions, {s.partitions} needed")
        replicas = min((len(p.replicas) for p in topic.partitions.values()), default=0)
        if replicas < replication_factor:
            found.append(f"{s.name}: replication {replicas}, {replication_factor} configured")
        wanted = s.config.get("cleanup.policy", "delete")
        actual = by_name[s.name]["cleanup.policy"].value
        if actual != wanted:
            found.append(f"{s.name}: cleanup.policy {actual}, {wanted} needed")
    return found


def pipeline_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic the configured flows use, with the right partitioning and cleanup."""
    topics = settings.kafka.topics
    parts = settings.kafka.partitions
    specs = [
        TopicSpec(topics.state, 1, COMPACTED),
        TopicSpec(topics.schemas, 1, COMPACTED),
        TopicSpec(topics.xref, parts, COMPACTED),
        TopicSpec(topics.audit, parts),
    ]
    specs += [TopicSpec(topics.hints(name), 1) for name in settings.webhook_connections()]
    # One partition per poll task; tasks added later get partitions added (never removed).
    specs.append(TopicSpec(topics.tasks, max(1, len(poll_tasks(settings))), COMPACTED, True))
    for name, flow in settings.flows.items():
        specs.append(TopicSpec(topics.dlq(flow.target), parts))
        # Retry topics share the sink topics' partition count, so a key sits on the same
        # partition number everywhere and one consumer owns all of a key's records.
        specs += [
            TopicSpec(topics.retry(flow.target, t), parts) for t in settings.delivery.tier_names
        ]
        for entity in flow.entities:
            specs.append(TopicSpec(topics.change(flow.source, entity), parts))
            specs.append(TopicSpec(topics.sink(flow.target, entity), parts))
            # Documents to create may wait for masters in the processors.
            if entity in DOCUMENTS - returned_documents(settings, name):
                specs.append(TopicSpec(topics.released(flow.source, entity), parts))
    unique = {s.name: s for s in specs}
    return list(unique.values())


def partition_lag(
    admin: AdminClient, group: str, topics: list[str], timeout: float = 5.0
) -> dict[tuple[str, int], tuple[int, int]]:
    """(topic, partition) -> (the group's committed offset, records it has not committed past),
    for every partition of ``topics`` that exists. Nothing committed counts from offset 0."""
    meta = admin.list_topics(timeout=timeout).topics
    partitions = [TopicPartition(t, p) for t in topics if t in meta for p in meta[t].partitions]
    if not partitions:
        return {}
    request = [ConsumerGroupTopicPartitions(group, partitions)]
    committed = admin.list_consumer_group_offsets(request)[group].result(timeout=timeout)
    ends = admin.list_offsets({tp: OffsetSpec.latest() for tp in partitions})
    offsets = {(tp.topic, tp.partition): tp.offset for tp in committed.topic_partitions or []}
    found = {}
    for tp in partitions:
        key = (tp.topic, tp.partition)
        end = ends[tp].result(timeout=timeout).offset
        done = offsets.get(key, 0)
        found[key] = (done, max(0, end - max(done, 0)))
    return found


def group_progress(bootstrap: str, group: str, topics: list[str]) -> tuple[tuple[int, ...], int]:
    """(the group's committed offsets, records on ``topics`` it has not committed past)."""
    admin = admin_client(bootstrap, log_level=0)
    found = partition_lag(admin, group, topics)
    return tuple(sorted(done for done, _ in found.values())), sum(lag for _, lag in found.values())


def group_lag(bootstrap: str, group: str, topics: list[str]) -> int:
    return group_progress(bootstrap, group, topics)[1]
