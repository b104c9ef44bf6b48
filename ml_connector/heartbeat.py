"""Whether each loop of a worker still comes round: the "loop not stalled" of readiness.

A loop beats each time round, saying how long it may take before the next beat (a worker
loop's batch, a flow's poll interval plus the poll itself). Readiness names a loop whose
last beat is older than that; ``mlc_loop_heartbeat_seconds`` exports the beats, so a
dashboard can show the seconds since each loop last came round.
"""

from __future__ import annotations

import threading
import time

from ml_connector.metrics import HEARTBEAT

_beats: dict[str, tuple[float, float]] = {}  # loop -> (last beat, seconds allowed until next)
_lock = threading.Lock()


def beat(loop: str, within: float) -> None:
    """``loop`` came round; it is stalled if it does not again within ``within`` seconds."""
    now = time.time()
    with _lock:
        _beats[loop] = (now, within)
    HEARTBEAT.labels(loop).set(now)


def stalled(now: float | None = None) -> list[str]:
    """What readiness says of each loop overdue."""
    at = time.time() if now is None else now
    with _lock:
        beats = dict(_beats)
    return [f"{loop} has not come round for {at - last:.0f} s (allowed {within:.0f} s)"
            for loop, (last, within) in sorted(beats.items()) if at - last > within]  # fmt: skip


def forget(loop: str) -> None:
    """A loop that ended on purpose is not stalled."""
    with _lock:
        _beats.pop(loop, None)
