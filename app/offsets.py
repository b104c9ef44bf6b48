"""Replay by moving a stopped consumer group's offsets, through the admin API.

Refuses while the group has members: moving offsets under a running consumer is silently
undone by its next commit, which is the worst kind of replay (it looks done, and is not).
Once the consumers run again, ``follow`` reports them re-reading what was moved back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from ml_connector.kafka.clients import admin as admin_client


class ReplayRefused(Exception):
    """The group cannot be reset as asked; the message says why and what to do."""


class GroupRunning(ReplayRefused):
    """The request was sound, but the group has members: stop them, then ask again."""


@dataclass(frozen=True)
class Moved:
    topic: str
    partition: int
    before: int | None  # None: the group had committed nothing there
    after: int

    @property
    def replayed(self) -> int:
        """Records the group will read again (none where it had committed nothing)."""
        return max(0, self.before - self.after) if self.before is not None else 0


def _partitions(admin: AdminClient, topics: list[str]) -> list[TopicPartition]:
    meta = admin.list_topics(timeout=10).topics
    missing = [t for t in topics if t not in meta]
    if missing:
        raise ReplayRefused(f"no such topic: {', '.join(missing)}")
    return [TopicPartition(t, p) for t in topics for p in meta[t].partitions]


def _committed_topics(admin: AdminClient, group: str) -> list[str]:
    result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
    partitions = result[group].result().topic_partitions or []
    return sorted({tp.topic for tp in partitions if tp.topic})


_STOPPED = (ConsumerGroupState.EMPTY, ConsumerGroupState.DEAD)


def group_stopped(bootstrap: str, group: str) -> bool:
    """No member is running (offsets may be moved now)."""
    admin = admin_client(bootstrap)
    return admin.describe_consumer_groups([group])[group].result().state in _STOPPED


def one_position(to_earliest: bool, to_datetime: datetime | None, to_offset: int | None) -> None:
    """Where to move to is said exactly once."""
    if sum((to_earliest, to_datetime is not None, to_offset is not None)) != 1:
        raise ReplayRefused("give exactly one of --to-earliest, --to-datetime, --to-offset")


def reset_group(
    bootstrap: str,
    group: str,
    *,
    topics: list[str] | None = None,
    to_earliest: bool = False,
    to_datetime: datetime | None = None,
    to_offset: int | None = None,
) -> list[Moved]:
    """Move ``group`` on ``topics`` (default: every topic it has committed) and report."""
    one_position(to_earliest, to_datetime, to_offset)
    admin = admin_client(bootstrap)
    description = admin.describe_consumer_groups([group])[group].result()
    if description.state not in _STOPPED:
        members = ", ".join(m.client_id for m in description.members) or "?"
        raise GroupRunning(
            f"group {group} is {description.state.name.lower()} with members {members}: "
            "stop its consumers first"
        )
    topics = topics or _committed_topics(admin, group)
    if not topics:
        raise ReplayRefused(f"group {group} has no committed offsets; name the topics")
    partitions = _partitions(admin, topics)
    targets = _target_offsets(admin, partitions, to_earliest, to_datetime, to_offset)
    request = ConsumerGroupTopicPartitions(group, partitions)
    current = admin.list_consumer_group_offsets([request])[group].result().topic_partitions or []
    before = {(tp.topic, tp.partition): tp.offset for tp in current if tp.offset >= 0}
    new = [TopicPartition(t, p, o) for (t, p), o in targets.items()]
    admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, new)])[group].result()
    return [Moved(t, p, before.get((t, p)), o) for (t, p), o in sorted(targets.items())]


def _target_offsets(
    admin: AdminClient, partitions: list[TopicPartition], to_earliest: bool,
    to_datetime: datetime | None, to_offset: int | None,
) -> dict[tuple[str, int], int]:  # fmt: skip
    if to_offset is not None:
        return {(tp.topic, tp.partition): to_offset for tp in partitions}
    if to_earliest:
        spec = OffsetSpec.earliest()
    else:
        assert to_datetime is not None
        spec = OffsetSpec.for_timestamp(int(to_datetime.timestamp() * 1000))
    listed = admin.list_offsets({tp: spec for tp in partitions})
    latest = admin.list_offsets({tp: OffsetSpec.latest() for tp in partitions})
    targets = {}
    for tp in partitions:
        offset = listed[tp].result().offset
        # No record at or after the time: the end, so nothing is replayed there.
        targets[(tp.topic, tp.partition)] = offset if offset >= 0 else latest[tp].result().offset
    return targets


def reread(bootstrap: str, group: str, moved: list[Moved]) -> int:
    """Records of a replay the group has committed past again (up to where it was)."""
    again = [m for m in moved if m.replayed]
    if not again:
        return 0
    admin = admin_client(bootstrap, log_level=0)
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(m.topic, m.partition)
                                                   for m in again])  # fmt: skip
    answer = admin.list_consumer_group_offsets([request])[group].result(timeout=10)
    at = {(tp.topic, tp.partition): tp.offset for tp in answer.topic_partitions or []}
    return sum(min(m.replayed, max(0, at.get((m.topic, m.partition), -1) - m.after))
               for m in again)  # fmt: skip


def follow(bootstrap: str, group: str, moved: list[Moved], on_progress: Callable[[int], None],
           *, every: float = 1.0, stop: Callable[[], bool] = lambda: False) -> int:  # fmt: skip
    """Report the group re-reading a replay until it is back where it was (or ``stop``);
    the group's consumers, stopped for the reset, are started by the operator meanwhile."""
    total = sum(m.replayed for m in moved)
    done = 0
    while True:
        done = reread(bootstrap, group, moved)
        on_progress(done)
        if done >= total or stop():
            return done
        time.sleep(every)
