"""The simulators' clock: wall-clock UTC plus an offset that tests move instead of sleeping.

Everything that expires or is metered (tokens, rate windows, storms, delivery retries) reads this
clock, so one ``advance`` moves them all together.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class SimClock:
    """Wall-clock UTC plus an adjustable offset, so tests expire tokens without sleeping."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()
