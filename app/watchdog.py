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

from ml_connector.kafka.admin import group_progress

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
        return group_progress(self.bootstrap, self.group, self.topics)

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
