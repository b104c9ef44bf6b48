"""``ml-connector status``: what the pipeline has done and what waits, read from Kafka itself.

Everything here comes from the topics the workers already write (cursors, subscriptions and
the workers' own announcements on the state topic, committed offsets of the consumer groups,
the DLQ topics, and the audit trail for what was routed and written), so it shows the truth
of a running deployment from any machine that reaches the brokers, asking no worker.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import OffsetSpec

from app.audit_index import AuditIndex
from app.pipeline import components
from ml_connector import presence
from ml_connector.config import Settings
from ml_connector.flows import PollTask
from ml_connector.kafka.clients import admin as admin_client
from ml_connector.kafka.tasks import read_placement
from ml_connector.state import StateStore
from ml_connector.topics import Topics

TIMEOUT = 10.0


@dataclass
class StreamStatus:
    flow: str
    connection: str
    entity: str
    cursor: str | None = None  # modified time of the newest record read
    polls: int = 0
    records_read: int = 0
    events_produced: int = 0
    last_poll_at: str | None = None
    last_error: str | None = None  # of the last poll; None when it succeeded
    failed_polls: int = 0
    # The producer instance running this poll task (its client id), None while unassigned.
    polled_by: str | None = None
    polled_from: str | None = None  # the host the group saw that instance connect from
    # Sink side, from the audit trail: outcomes (not distinct records) toward the flow's target.
    target: str = ""
    routed: int = 0
    written: int = 0
    retried: int = 0
    dead: int = 0
    last_written_at: str | None = None
    last_sink_error: str | None = None  # the newest retry or dead letter, in the target's words
    last_sink_error_at: str | None = None


@dataclass
class GroupStatus:
    group: str
    members: int
    lag: int  # records on its topics it has not committed past
    lag_by_topic: dict[str, int] = field(default_factory=dict)


@dataclass
class TargetStatus:
    target: str
    retry_waiting: int  # records on the retry topics not yet taken back
    dead: int  # records in the dead-letter topic


@dataclass
class WorkerStatus:
    component: str
    worker: str | None  # host:pid; None for a component no worker ever announced
    state: str  # up | down | stopped | never seen
    last_seen: str | None = None
    seconds_since: float | None = None
    started_at: str | None = None
    problems: list[str] = field(default_factory=list)  # what its readiness would name


@dataclass
class Status:
    streams: list[StreamStatus]
    groups: list[GroupStatus]
    targets: list[TargetStatus]
    subscriptions: list[dict[str, Any]]
    workers: list[WorkerStatus] = field(default_factory=list)
    # False while the audit index has not reached the audit topic's end (a first catch-up of
    # a long trail): the sink-side counts are then short of the truth.
    audit_caught_up: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Offsets:
    """Committed offsets and ends of topics, through one admin client."""

    def __init__(self, bootstrap: str) -> None:
        self.admin = admin_client(bootstrap, log_level=0)
        self.meta = self.admin.list_topics(timeout=TIMEOUT).topics

    def partitions(self, topics: list[str]) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t in topics if t in self.meta
                for p in self.meta[t].partitions]  # fmt: skip

    def ends(self, partitions: list[TopicPartition], spec: OffsetSpec) -> dict[Any, int]:
        if not partitions:
            return {}
        answers = self.admin.list_offsets({tp: spec for tp in partitions})
        return {(tp.topic, tp.partition): f.result(timeout=TIMEOUT).offset
                for tp, f in answers.items()}  # fmt: skip

    def size(self, topics: list[str]) -> int:
        parts = self.partitions(topics)
        latest, earliest = (
            self.ends(parts, OffsetSpec.latest()),
            self.ends(parts, OffsetSpec.earliest()),
        )
        return sum(latest[k] - earliest[k] for k in latest)

    def group(self, group: str, topics: list[str]) -> GroupStatus:
        parts = self.partitions(topics)
        described = self.admin.describe_consumer_groups([group])[group].result(timeout=TIMEOUT)
        members = len(described.members or [])
        if not parts:
            return GroupStatus(group, members, 0)
        request = [ConsumerGroupTopicPartitions(group, parts)]
        answer = self.admin.list_consumer_group_offsets(request)[group].result(timeout=TIMEOUT)
        committed = {(tp.topic, tp.partition): tp.offset for tp in answer.topic_partitions or []}
        # Nothing committed yet: everything since the earliest offset is still to do.
        earliest = self.ends(parts, OffsetSpec.earliest())
        by_topic: dict[str, int] = {}
        for key, end in self.ends(parts, OffsetSpec.latest()).items():
            done = committed.get(key, -1)
            behind = end - (done if done >= 0 else earliest[key])
            by_topic[key[0]] = by_topic.get(key[0], 0) + max(0, behind)
        return GroupStatus(group, members, sum(by_topic.values()), by_topic)


def task_holders(bootstrap: str, offsets: Offsets, topics: Topics) -> dict[str, tuple[str, str]]:
    """task -> (instance, host) of the producers' group members, from the group's assignment
    of the tasks topic's partitions, as the group coordinator knows it."""
    placement = read_placement(bootstrap, topics.tasks) if topics.tasks in offsets.meta else {}
    by_partition = {p: t for t, p in placement.items()}
    group = topics.producer_group
    described = offsets.admin.describe_consumer_groups([group])[group].result(timeout=TIMEOUT)
    holders = {}
    for member in described.members or []:
        assigned = member.assignment.topic_partitions if member.assignment else []
        for tp in assigned:
            if tp.topic == topics.tasks and tp.partition in by_partition:
                holders[by_partition[tp.partition]] = (member.client_id, member.host)
    return holders


def status(settings: Settings, bootstrap: str) -> Status:
    topics = settings.kafka.topics
    state = StateStore(bootstrap, topics.state).load_all()
    offsets = Offsets(bootstrap)
    holders = task_holders(bootstrap, offsets, topics)
    streams = []
    for name, flow in settings.flows.items():
        for entity in flow.entities:
            held = holders.get(PollTask(name, flow.source, entity).id, (None, None))
            saved = state.get(f"cursor|{flow.source}|{entity}") or {}
            totals, last = saved.get("totals", {}), saved.get("last_poll") or {}
            streams.append(StreamStatus(
                name, flow.source, entity, (saved.get("cursor") or {}).get("modified_at"),
                totals.get("polls", 0), totals.get("records_read", 0),
                totals.get("events_produced", 0), last.get("at"), last.get("error"),
                totals.get("failed_polls", 0), *held,
            ))  # fmt: skip
    flows = settings.flows.values()
    changes = sorted({topics.change(f.source, e) for f in flows for e in f.entities})
    groups = [offsets.group(topics.processor_app(), changes)]
    targets = []
    for target in sorted({f.target for f in flows}):
        retries = [topics.retry(target, t) for t in settings.delivery.tier_names]
        sinks = sorted({topics.sink(target, e) for f in flows if f.target == target
                        for e in f.entities})  # fmt: skip
        group = offsets.group(topics.sink_group(target), sinks + retries)
        groups.append(group)
        waiting = sum(group.lag_by_topic.get(t, 0) for t in retries)
        targets.append(TargetStatus(target, waiting, offsets.size([topics.dlq(target)])))
    groups.append(offsets.group(topics.audit_group, [topics.audit]))
    subscriptions = [
        {"connection": key.split("|")[1], "entity_set": key.split("|")[2],
         "id": value.get("id"), "expires": value.get("expires")}
        for key, value in sorted(state.items()) if key.startswith("subscription|")
    ]  # fmt: skip
    index = AuditIndex(settings.audit.database)
    try:  # caught up first: incremental, as for ``audit`` (the same index and group)
        index.sync(bootstrap, topics.audit, topics.audit_cli_group, timeout=AUDIT_SECONDS)
        _sink_side(settings, index, streams)
    finally:
        index.engine.dispose()  # the status page asks every few seconds
    return Status(streams, groups, targets, subscriptions, workers(settings, state),
                  index.caught_up)  # fmt: skip


AUDIT_SECONDS = 60.0  # the most one status spends catching up the audit index


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat("T", "seconds")


COUNTED = ("routed", "written", "retried", "dead")


def _sink_side(settings: Settings, index: AuditIndex, streams: list[StreamStatus]) -> None:
    """Routed and written per flow entity, and the last error its target gave: read from the
    audit trail (every stage outcome is audited once), so no worker needs to be asked."""
    outcomes = index.outcomes(COUNTED)
    errors = index.newest(("retried", "dead"))
    for s in streams:
        s.target = target = settings.flows[s.flow].target
        for stage in COUNTED:
            found = outcomes.get((s.connection, s.entity, target, stage))
            setattr(s, stage, found.count if found else 0)
            if stage == "written" and found:
                s.last_written_at = _iso(found.newest_ms)
        error = errors.get((s.connection, s.entity, target))
        if error is not None:
            said = error.detail.get("error") or error.detail.get("error_class") or error.stage
            s.last_sink_error = f"{error.stage}: {said}"
            s.last_sink_error_at = _iso(error.ts_ms)


def workers(settings: Settings, state: dict[str, dict[str, Any]]) -> list[WorkerStatus]:
    """Every worker up, every worker down that none replaced, and each component this
    configuration needs that no worker ever announced (see ``presence``)."""
    now = time.time()
    seen = presence.seen(state, now)
    shown: list[WorkerStatus] = []
    for component in sorted({w.component for w in seen} | set(components(settings))):
        mine = [w for w in seen if w.component == component]  # newest first
        up = [w for w in mine if w.state == "up"]
        # A restart leaves its predecessor's key behind, last seen before the newest worker
        # started: that one was replaced. One lost later is a peer missing: it is shown.
        lost = [w for w in mine if w.state != "up"
                and (not up or w.last_seen > max(u.started_at for u in up))]  # fmt: skip
        listed = up + (lost if up else lost[:1])
        shown += [_worker(w, now) for w in listed] or [WorkerStatus(component, None, "never seen")]
    return shown


def _worker(w: presence.Seen, now: float) -> WorkerStatus:
    return WorkerStatus(w.component, w.worker, w.state, _iso(int(w.last_seen * 1000)),
                        round(now - w.last_seen, 1), _iso(int(w.started_at * 1000)),
                        w.problems)  # fmt: skip
