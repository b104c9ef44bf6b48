"""Request-rate and concurrency limits per credential, answered with the system's own 429.

Every target the connector writes to meters its callers (BC: 6,000 requests per 5 minutes and 5
at a time per user; ServiceNow: admin rules per hour; ServiceTitan: 60 per second per app and
tenant), and the connector's budget logic is only tested if the simulators meter as well.

API for simulator modules:

- ``RateRule(name, limit, window_seconds, path_pattern)``: a sliding window per credential.
  ``path_pattern`` is a regex searched in the URL path ("" = every API path), so a token
  endpoint can stay unmetered.
- ``ConcurrencyRule(name, max_concurrent, max_queued, queue_timeout_seconds, path_pattern)``:
  up to ``max_concurrent`` requests run per credential, up to ``max_queued`` more wait (a full
  queue is refused at once), and a wait longer than ``queue_timeout_seconds`` is refused 503.
- ``Rejection``: what was exceeded, with ``retry_after`` (whole seconds) and ``reset_at``
  (unix time); a simulator's ``RejectRenderer`` turns it into the system's 429/503 response.
- ``KeyFunction``: ``(scope) -> credential or None`` (None: not metered, e.g. no credentials,
  which the API refuses anyway). ``credential_key(tokens)`` covers bearer and Basic auth.
- ``RateLimiter(clock, rates, concurrency, key_of, reject)``: put it on ``state.limits``
  before ``base.build_app``, which adds ``LimitMiddleware`` inside the request log (so 429s
  are logged and counted) and the routes ``GET /_sim/limits`` (rules and window counts) and
  ``DELETE /_sim/limits`` (forget all counted requests).

Windows run on the simulator clock, so a test can advance it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from simulators.credentials import TokenStore, basic_credentials_from

if TYPE_CHECKING:
    from simulators.clock import SimClock

LIMITS_PATH = "/_sim/limits"


class _PathScoped:
    path_pattern: str

    def applies(self, path: str) -> bool:
        return not self.path_pattern or re.search(self.path_pattern, path) is not None


@dataclass(frozen=True)
class RateRule(_PathScoped):
    name: str
    limit: int
    window_seconds: float
    path_pattern: str = ""


@dataclass(frozen=True)
class ConcurrencyRule(_PathScoped):
    name: str
    max_concurrent: int
    max_queued: int
    queue_timeout_seconds: float = 480.0
    path_pattern: str = ""


@dataclass(frozen=True)
class Rejection:
    rule: str
    status: int  # 429, or 503 for a queue wait that timed out
    limit: int  # requests per window, or concurrent requests
    window_seconds: float | None  # None for a concurrency rule
    retry_after: int  # whole seconds, at least 1
    reset_at: int  # unix time when the window admits a request again
    key: str


RejectRenderer = Callable[[Rejection], Response]
KeyFunction = Callable[[Scope], str | None]


def generic_reject(rejection: Rejection) -> Response:
    headers = {"Retry-After": str(rejection.retry_after)}
    return JSONResponse({"error": f"Limit '{rejection.rule}' exceeded."}, rejection.status, headers)


def credential_key(tokens: TokenStore) -> KeyFunction:
    """The token's subject (client id or user) for Bearer calls, the user name for Basic."""

    def key_of(scope: Scope) -> str | None:
        authorization = Headers(scope=scope).get("authorization", "")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            token = tokens.validate(value.strip())
            return f"subject:{token.subject}" if token else None
        basic = basic_credentials_from(authorization)
        return f"user:{basic[0]}" if basic else None

    return key_of


@dataclass
class _Slots:
    active: int = 0
    waiters: deque[asyncio.Future[None]] | None = None


class RateLimiter:
    def __init__(
        self,
        clock: SimClock,
        *,
        rates: Sequence[RateRule] = (),
        concurrency: ConcurrencyRule | None = None,
        key_of: KeyFunction,
        reject: RejectRenderer = generic_reject,
    ) -> None:
        self.clock = clock
        self.rates = tuple(rates)
        self.concurrency = concurrency
        self.key_of = key_of
        self.reject = reject
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._slots: dict[str, _Slots] = {}
        self._lock = threading.Lock()

    # -- sliding windows -----------------------------------------------------------------

    def admit(self, key: str, path: str) -> Rejection | None:
        """Count one request against every applicable window, or refuse it (not counted)."""
        now = self.clock.now().timestamp()
        with self._lock:
            windows = []
            for rule in self.rates:
                if not rule.applies(path):
                    continue
                hits = self._hits.setdefault((rule.name, key), deque())
                while hits and hits[0] <= now - rule.window_seconds:
                    hits.popleft()
                if len(hits) >= rule.limit:
                    free_at = hits[0] + rule.window_seconds
                    return Rejection(
                        rule.name,
                        429,
                        rule.limit,
                        rule.window_seconds,
                        max(1, math.ceil(free_at - now)),
                        math.ceil(free_at),
                        key,
                    )
                windows.append(hits)
            for hits in windows:
                hits.append(now)
        return None

    # -- concurrency ---------------------------------------------------------------------

    async def acquire(self, key: str, rule: ConcurrencyRule) -> Rejection | None:
        """Take a slot, waiting in the bounded queue if need be; a Rejection when refused."""
        with self._lock:
            slots = self._slots.setdefault(key, _Slots(waiters=deque()))
            assert slots.waiters is not None
            if slots.active < rule.max_concurrent:
                slots.active += 1
                return None
            if len(slots.waiters) >= rule.max_queued:
                return self._concurrency_rejection(rule, key, 429)
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            slots.waiters.append(waiter)
        try:
            # A released slot passes straight to the waiter, so ``active`` is already counted.
            await asyncio.wait_for(asyncio.shield(waiter), rule.queue_timeout_seconds)
            return None
        except TimeoutError:
            with self._lock:
                if waiter.done():  # the slot arrived as the wait timed out: give it back
                    self._release_locked(key)
                else:
                    waiter.cancel()
                    slots.waiters.remove(waiter)
            return self._concurrency_rejection(rule, key, 503)

    def release(self, key: str) -> None:
        with self._lock:
            self._release_locked(key)

    def _release_locked(self, key: str) -> None:
        slots = self._slots[key]
        assert slots.waiters is not None
        while slots.waiters:
            waiter = slots.waiters.popleft()
            if not waiter.done():
                waiter.get_loop().call_soon_threadsafe(_wake, waiter)
                return
        slots.active -= 1

    def _concurrency_rejection(self, rule: ConcurrencyRule, key: str, status: int) -> Rejection:
        now = self.clock.now().timestamp()
        return Rejection(rule.name, status, rule.max_concurrent, None, 1, math.ceil(now) + 1, key)

    # -- inspection ----------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        now = self.clock.now().timestamp()
        with self._lock:
            windows = [
                {
                    "rule": rule,
                    "key": key,
                    "count": sum(1 for t in hits if t > now - self._window(rule)),
                }
                for (rule, key), hits in self._hits.items()
            ]
            active = {key: s.active for key, s in self._slots.items()}
        return {
            "rates": [asdict(r) for r in self.rates],
            "concurrency": asdict(self.concurrency) if self.concurrency else None,
            "windows": windows,
            "active": active,
        }

    def _window(self, name: str) -> float:
        return next(r.window_seconds for r in self.rates if r.name == name)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class LimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        key = self.limiter.key_of(scope) if scope["type"] == "http" else None
        if key is None or path.startswith("/_sim"):
            await self.app(scope, receive, send)
            return
        rejection = self.limiter.admit(key, path)
        if rejection is not None:
            await self.limiter.reject(rejection)(scope, receive, send)
            return
        rule = self.limiter.concurrency
        if rule is None or not rule.applies(path):
            await self.app(scope, receive, send)
            return
        rejection = await self.limiter.acquire(key, rule)
        if rejection is not None:
            await self.limiter.reject(rejection)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.limiter.release(key)


def limit_routes(limiter: RateLimiter) -> list[Route]:
    async def describe(request: Request) -> Response:
        return JSONResponse(limiter.describe())

    async def reset(request: Request) -> Response:
        limiter.reset()
        return Response(status_code=204)

    return [
        Route(LIMITS_PATH, describe, methods=["GET"]),
        Route(LIMITS_PATH, reset, methods=["DELETE"]),
    ]
