"""Acumatica's licence request rate: past half the per-minute limit requests are delayed.

Acumatica meters the whole instance (the licence), not a user: once more than 50% of the
requests-per-minute limit has been used in the last minute, further requests are held and
released at the licence's pace; when more than 20 are already waiting, or the wait would
pass 10 minutes, the request is refused with 429. Waits run on the simulator clock, so a
test advances the clock instead of sleeping.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from simulators.base import INSPECTION_PREFIX
from simulators.clock import SimClock

_WINDOW_S = 60.0
_POLL_S = 0.01


@dataclass(frozen=True)
class LicenceLimits:
    requests_per_minute: int | None = 600  # None: the licence is not metered
    max_queue: int = 20
    max_wait_seconds: float = 600.0
    path_pattern: str = r"^/entity/"


class LicenceThrottle:
    def __init__(self, clock: SimClock, limits: LicenceLimits) -> None:
        self.clock = clock
        self.limits = limits
        self._slots: deque[float] = deque()  # start times granted in the last minute
        self._next_slot = 0.0
        self._lock = threading.Lock()
        self.waiting = 0
        self.delayed = 0
        self.rejected = 0

    def plan(self) -> tuple[float | None, int, bool]:
        """(sim time the request may start or None to refuse it, Retry-After, queued)."""
        limit = self.limits.requests_per_minute
        now = self.clock.now().timestamp()
        if not limit:
            return now, 0, False
        with self._lock:
            while self._slots and self._slots[0] <= now - _WINDOW_S:
                self._slots.popleft()
            if len(self._slots) < limit / 2 and self._next_slot <= now:
                self._slots.append(now)
                return now, 0, False
            pace = _WINDOW_S / limit  # the licence's even pace
            slot = max(now, self._next_slot, (self._slots[-1] + pace) if self._slots else now)
            if len(self._slots) >= limit:
                slot = max(slot, self._slots[-limit] + _WINDOW_S)
            if self.waiting >= self.limits.max_queue or slot - now > self.limits.max_wait_seconds:
                self.rejected += 1
                return None, max(1, math.ceil(slot - now)), False
            self._next_slot = slot + pace
            self._slots.append(slot)
            queued = slot > now
            if queued:
                self.waiting += 1
                self.delayed += 1
            return slot, 0, queued

    async def wait_until(self, slot: float) -> None:
        try:
            while self.clock.now().timestamp() < slot:
                await asyncio.sleep(_POLL_S)
        finally:
            with self._lock:
                self.waiting -= 1

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests_per_minute": self.limits.requests_per_minute,
                "max_queue": self.limits.max_queue,
                "in_last_minute": len(self._slots),
                "waiting": self.waiting,
                "delayed": self.delayed,
                "rejected": self.rejected,
            }


class LicenceThrottleMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        throttle: LicenceThrottle,
        reject: Callable[[int], Response],
    ) -> None:
        self.app = app
        self.throttle = throttle
        self.reject = reject
        self.pattern = re.compile(throttle.limits.path_pattern)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or path.startswith(INSPECTION_PREFIX)
            or not self.pattern.search(path)
        ):
            await self.app(scope, receive, send)
            return
        slot, retry_after, queued = self.throttle.plan()
        if slot is None:
            await self.reject(retry_after)(scope, receive, send)
            return
        if queued:
            await self.throttle.wait_until(slot)
        await self.app(scope, receive, send)
