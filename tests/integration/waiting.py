"""Waiting for what a broker or a worker does in its own time, without timing anything."""

from __future__ import annotations

import time
from collections.abc import Callable


def until(what: str, predicate: Callable[[], bool], timeout: float = 60) -> None:
    """Return once ``predicate`` holds; fail naming ``what`` if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
