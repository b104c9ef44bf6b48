"""Stall detection for workers that are alive but no longer make progress.

A consumer can wedge without dying: after a broker restart, a stream processor may keep its
process up while it never rejoins its group (a failure users report of Python stream
processors). The supervisor cannot see that from the process table, so it watches the
outcome instead: a group that has records waiting on its input topics and has not committed
anything for ``stall_after`` seconds is stalled, and its worker is restarted.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

log = logging.getLogger(__name__)


@dataclass
class ProgressWatch:
    bootstrap: str
    group: str
    topics: list[str]
    stall_after: float = 120.0
    _last: tuple[int, ...] | None = field(default=None, init=False)
    _since: float = field(default=0.0, init=False)

    def _positions(self) -> tuple[tuple[int, ...], int]:
        """(committed offsets, records waiting) for the watched topics."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        meta = admin.list_topics(timeout=5).topics
        partitions = [TopicPartition(t, p) for t in self.topics if t in meta
                      for p in meta[t].partitions]  # fmt: skip
        if not partitions:
            return (), 0
        request = [ConsumerGroupTopicPartitions(self.group, partitions)]
        committed = admin.list_consumer_group_offsets(request)[self.group].result(timeout=5)
        ends = admin.list_offsets({tp: OffsetSpec.latest() for tp in partitions})
        offsets = {(tp.topic, tp.partition): tp.offset for tp in committed.topic_partitions or []}
        lag = 0
        for tp in partitions:
            end = ends[tp].result(timeout=5).offset
            lag += max(0, end - max(offsets.get((tp.topic, tp.partition), 0), 0))
        return tuple(sorted(offsets.values())), lag

    def stalled(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        try:
            positions, lag = self._positions()
        except Exception as exc:  # noqa: BLE001 - the broker may be away; judge next time
            log.debug("cannot check %s: %s", self.group, exc)
            return False
        if lag == 0 or positions != self._last:
            self._last, self._since = positions, now
            return False
        return now - self._since >= self.stall_after

    def reset(self) -> None:
        self._last, self._since = None, time.monotonic()
