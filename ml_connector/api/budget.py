"""A client-side rate budget per connection: a moving request window plus a concurrency cap.

Every system publishes a ceiling (BC 6,000 requests per 5 minutes and 5 at a time, ServiceTitan
60 per second, ...). Staying under it costs nothing; crossing it costs 429 storms and, for some
APIs, penalty boxes. So every request on the wire (token requests and retries included) first
takes a slot here, and the server's own signals tighten the budget further:

- ``X-RateLimit-Remaining`` / ``X-RateLimit-Reset``: once the server says nothing is left, no
  caller starts a request before the reset time;
- a 429 with ``Retry-After``: every caller of the connection pauses for that long, not only the
  one that was refused, since the others would only collect 429s of their own.

A request counts against the window from the moment it starts until ``per_seconds`` after it
finishes. Counting from the start alone would let the server, which sees a request some time
after we send it, observe more than ``requests`` in one of its windows; holding the slot until
the answer came back makes the guarantee hold on the server's side of the wire too, and
``SETTLE_SECONDS`` more covers the moment between a server sending its answer and counting
(or logging) the request as done.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

import httpx

from ml_connector.api.errors import retry_after_seconds
from ml_connector.metrics import API_CALLS, API_SECONDS, THROTTLED, THROTTLED_SECONDS

log = logging.getLogger(__name__)

SETTLE_SECONDS = 0.05


@dataclass(frozen=True)
class Rate:
    """``requests`` per moving ``per_seconds``, ``concurrency`` at once (None: no cap)."""

    requests: int | None = None
    per_seconds: float = 1.0
    concurrency: int | None = None


# The longest a server's own word (Retry-After, X-RateLimit-Reset) pauses a connection: a
# server asking for a day is either wrong or down, and the next answer will say so again.
MAX_SERVER_PAUSE = 600.0


class _Slot:
    __slots__ = ("finished_at",)

    def __init__(self) -> None:
        self.finished_at = math.inf  # in flight: counts until it finishes, then per_seconds more


class RateBudget:
    """Shared by every request of one connection; safe for any number of concurrent tasks."""

    def __init__(
        self,
        rate: Rate,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_pause: float = MAX_SERVER_PAUSE,
    ) -> None:
        self.rate = rate
        self.max_pause = max_pause
        self._clock = clock
        self._window: list[_Slot] = []
        self._paused_until = 0.0
        self._server_remaining: int | None = None
        self._server_reset = 0.0
        self._changed: asyncio.Condition | None = None
        self._concurrency: asyncio.Semaphore | None = None
        self.requests_started = 0
        self.pauses = 0

    def _condition(self) -> asyncio.Condition:
        # Created lazily so a budget may be built outside the event loop that uses it.
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    def _semaphore(self) -> asyncio.Semaphore | None:
        if self._concurrency is None and self.rate.concurrency:
            self._concurrency = asyncio.Semaphore(self.rate.concurrency)
        return self._concurrency

    def _wait_needed(self, now: float) -> float | None:
        """0 when a request may start now; seconds to wait; None to wait for a finish."""
        if now < self._paused_until:
            return self._paused_until - now
        if self._server_remaining is not None:
            if now >= self._server_reset:
                self._server_remaining = None
            elif self._server_remaining <= 0:
                return self._server_reset - now
        limit = self.rate.requests
        if limit is None:
            return 0.0
        horizon = now - self.rate.per_seconds - SETTLE_SECONDS
        self._window = [s for s in self._window if s.finished_at > horizon]
        if len(self._window) < limit:
            return 0.0
        finished = [s.finished_at for s in self._window if s.finished_at != math.inf]
        return min(finished) - horizon if finished else None

    async def _admit(self) -> _Slot:
        changed = self._condition()
        async with changed:
            while (wait := self._wait_needed(self._clock())) != 0.0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), wait)
            slot = _Slot()
            self._window.append(slot)
            if self._server_remaining is not None:
                self._server_remaining -= 1
            self.requests_started += 1
            return slot

    async def _finish(self, slot: _Slot) -> None:
        slot.finished_at = self._clock()
        changed = self._condition()
        async with changed:
            changed.notify_all()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a place in the window (and a concurrency permit) for one request."""
        semaphore = self._semaphore()
        if semaphore is not None:
            await semaphore.acquire()
        try:
            slot = await self._admit()
            try:
                yield
            finally:
                await self._finish(slot)
        finally:
            if semaphore is not None:
                semaphore.release()

    def observe(self, response: httpx.Response, host: str = "") -> None:
        """Tighten the budget from what the server said about its own."""
        now = self._clock()
        remaining = response.headers.get("X-RateLimit-Remaining")
        reset = response.headers.get("X-RateLimit-Reset")
        if remaining is not None and reset is not None:
            try:
                # Reset is Unix time (ServiceNow); turn it into our monotonic clock.
                until = min(max(0.0, float(reset) - time.time()), self.max_pause)
                self._server_reset = now + until
                self._server_remaining = int(remaining)
            except ValueError:
                pass
        if response.status_code == 429:
            asked = retry_after_seconds(response)
            wait = None if asked is None else min(asked, self.max_pause)
            if wait is not None and now + wait > self._paused_until:
                # Only the time this answer adds: overlapping 429s do not count twice.
                THROTTLED_SECONDS.labels(host).inc(now + wait - max(self._paused_until, now))
                self._paused_until = now + wait
                self.pauses += 1
                THROTTLED.labels(host).inc()
                log.warning("%s answered 429: requests to it wait %.1f s", host, wait,
                            extra={"host": host, "wait_seconds": wait})  # fmt: skip


class BudgetedTransport(httpx.AsyncBaseTransport):
    """Puts every request of an httpx client through a budget, auth and retries included."""

    def __init__(self, inner: httpx.AsyncBaseTransport, budget: RateBudget) -> None:
        self.inner = inner
        self.budget = budget

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        async with self.budget.slot():
            started = time.monotonic()
            try:
                response = await self.inner.handle_async_request(request)
            except Exception:
                API_CALLS.labels(host, request.method, "error").inc()
                raise
            API_SECONDS.labels(host).observe(time.monotonic() - started)
            API_CALLS.labels(host, request.method, str(response.status_code)).inc()
            # Read the body inside the slot: the server is busy with us until it is sent.
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        self.budget.observe(response, host)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
