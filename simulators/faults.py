"""Fault injection shared by every simulator: latency, 5xx, dropped connections, 429 storms.

Clients must survive what real systems do on bad days, and tests must be able to make those
days happen on demand and reproducibly. ``FaultInjector`` holds the settings (set from a
simulator's options at start, changed at run time through ``/_sim/faults``) and draws every
decision from one ``random.Random(seed)``, so a seeded run fails the same requests each time.

API for simulator modules (``base.build_app`` wires all of it; a simulator only supplies an
``ErrorRenderer`` so injected errors carry the system's own error body):

- ``FaultSettings``: ``latency_ms``, ``jitter_ms``, ``error_rate`` (0..1), ``error_status``,
  ``drop_rate`` (0..1), ``seed``.
- ``ErrorRenderer``: ``(status, message, headers) -> Response`` in the system's error shape.
- Targeted failures: ``POST /_sim/faults/targeted {"body_contains": "...", "path_contains":
  "...", "status": 503, "times": 2}`` fails the next ``times`` API calls whose path and raw
  body contain those strings, so a test can make one particular record fail transiently.
- Inspection routes (never affected by faults):
  ``GET /_sim/faults`` settings and storm state; ``PUT /_sim/faults`` partial settings JSON;
  ``POST /_sim/faults/storm {"seconds": n}`` every API call answers 429 with Retry-After for
  n seconds of the simulator clock (0 ends it); ``POST /_sim/faults/expire-tokens`` revokes
  every issued token ("token expiry now").

A dropped connection reads the request to its end, then closes the socket without a response,
so an HTTP client sees a transport error (httpx: ``RemoteProtocolError: Server disconnected
without sending a response``). Uvicorn answers 500 when an app raises before its headers, so the
socket is closed directly instead.
In-process (``httpx.ASGITransport``) there is no socket: the same request raises
``ConnectionDropped``, which *is* an ``httpx.RemoteProtocolError`` for that reason.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from simulators.clock import SimClock

FAULTS_PATH = "/_sim/faults"
# The server's own ``send`` callable, stored by ``base.SimulatorApp`` before any middleware
# wraps it: the only handle on the connection that uvicorn gives an app.
SERVER_SEND_KEY = "sim.server_send"

ErrorRenderer = Callable[[int, str, Mapping[str, str]], Response]


def plain_error(status: int, message: str, headers: Mapping[str, str]) -> Response:
    """Fallback renderer for simulators that supply none."""
    return JSONResponse({"error": message}, status, headers=dict(headers))


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised in-process where no socket can be closed; see the module docstring."""

    def __init__(self) -> None:
        super().__init__("Server disconnected without sending a response.")


@dataclass(frozen=True)
class FaultSettings:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0  # uniform extra delay in [0, jitter_ms)
    error_rate: float = 0.0  # share of API calls answered with error_status
    error_status: int = 503
    drop_rate: float = 0.0  # share of API calls whose connection is closed unanswered
    seed: int | None = None  # None: unseeded, different failures each run

    def __post_init__(self) -> None:
        self.validated()

    def validated(self) -> FaultSettings:
        for name in ("error_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("latency_ms and jitter_ms must not be negative")
        if not 500 <= self.error_status <= 599:
            raise ValueError("error_status must be a 5xx status")
        return self


@dataclass
class TargetedFault:
    body_contains: str = ""
    path_contains: str = ""
    status: int = 503
    times: int = 1

    def matches(self, path: str, body: bytes) -> bool:
        return self.path_contains in path and self.body_contains.encode() in body


@dataclass(frozen=True)
class Decision:
    delay_s: float
    drop: bool
    error_status: int | None
    storm_retry_after: int | None  # seconds left of a 429 storm, when one is on


class FaultInjector:
    """Settings plus the seeded random stream; thread-safe (tests poke it from their thread)."""

    def __init__(self, clock: SimClock, settings: FaultSettings | None = None) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._storm_until: datetime | None = None
        self._targeted: list[TargetedFault] = []
        self.settings = FaultSettings()
        self._rng = random.Random()
        self.configure(settings or FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        settings = settings.validated()
        with self._lock:
            self.settings = settings
            self._rng = random.Random(settings.seed)

    def update(self, changes: Mapping[str, Any]) -> FaultSettings:
        """Apply a partial settings object (PUT /_sim/faults); ValueError on bad names/values."""
        known = {f.name: f.type for f in fields(FaultSettings)}
        unknown = set(changes) - set(known)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        typed: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "seed":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ValueError("seed must be an integer or null")
                typed[name] = value
            elif name == "error_status":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError("error_status must be an integer")
                typed[name] = value
            else:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{name} must be a number")
                typed[name] = float(value)
        self.configure(replace(self.settings, **typed))
        return self.settings

    def add_targeted(self, fault: TargetedFault) -> None:
        if fault.times < 1 or not 400 <= fault.status <= 599:
            raise ValueError("times must be at least 1 and status a 4xx or 5xx")
        with self._lock:
            self._targeted.append(fault)

    @property
    def has_targeted(self) -> bool:
        return bool(self._targeted)

    def targeted_status(self, path: str, body: bytes) -> int | None:
        """The status of the first targeted fault this call matches, using one of its times."""
        with self._lock:
            for fault in self._targeted:
                if fault.matches(path, body):
                    fault.times -= 1
                    if fault.times == 0:
                        self._targeted.remove(fault)
                    return fault.status
        return None

    def start_storm(self, seconds: float) -> None:
        with self._lock:
            self._storm_until = self.clock.now() + timedelta(seconds=seconds) if seconds else None

    def storm_seconds_left(self) -> float:
        with self._lock:
            until = self._storm_until
        if until is None:
            return 0.0
        return max(0.0, (until - self.clock.now()).total_seconds())

    def decide(self) -> Decision:
        """One request's fate; draws happen in a fixed order so seeded runs repeat exactly."""
        storm = self.storm_seconds_left()
        with self._lock:
            s, rng = self.settings, self._rng
            delay_ms = s.latency_ms + (rng.uniform(0, s.jitter_ms) if s.jitter_ms else 0.0)
            drop = bool(s.drop_rate) and rng.random() < s.drop_rate
            error = bool(s.error_rate) and rng.random() < s.error_rate
        return Decision(
            delay_s=delay_ms / 1000.0,
            drop=drop,
            error_status=s.error_status if error else None,
            storm_retry_after=max(1, math.ceil(storm)) if storm > 0 else None,
        )

    def describe(self) -> dict[str, Any]:
        with self._lock:
            targeted = [asdict(t) for t in self._targeted]
        return {**asdict(self.settings), "storm_seconds_left": self.storm_seconds_left(),
                "targeted": targeted}  # fmt: skip


async def drop_connection(scope: Scope, receive: Receive) -> None:
    """Close the client's socket without a response (see the module docstring for why)."""
    # The request is read first: a socket closed with request bytes unread, or still on their
    # way, is answered by the kernel with a reset, which clients report as "connection reset"
    # (httpx.ReadError) rather than a server that disconnected without answering. Handlers run
    # as soon as the headers are in, so a body sent in its own segment may not have arrived.
    await _read_body(receive)
    server_send = scope.get(SERVER_SEND_KEY)
    cycle = getattr(server_send, "__self__", None)  # uvicorn's RequestResponseCycle
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(transport, "close"):
        raise ConnectionDropped()
    transport.close()
    # Let connection_lost run so the server sees a disconnect and sends no fallback 500.
    for _ in range(10):
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0)


class FaultMiddleware:
    """Pure ASGI middleware applying ``FaultInjector`` decisions to every non-``/_sim`` call."""

    def __init__(
        self, app: ASGIApp, injector: FaultInjector, error: ErrorRenderer = plain_error
    ) -> None:
        self.app = app
        self.injector = injector
        self.error = error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sim"):
            await self.app(scope, receive, send)
            return
        decision = self.injector.decide()
        if decision.delay_s:
            await asyncio.sleep(decision.delay_s)
        if decision.storm_retry_after is not None:
            retry = str(decision.storm_retry_after)
            response = self.error(429, "Too many requests.", {"Retry-After": retry})
            await response(scope, receive, send)
            return
        if decision.drop:
            await drop_connection(scope, receive)
            return
        if decision.error_status is not None:
            status = decision.error_status
            response = self.error(status, "The service is temporarily unavailable.", {})
            await response(scope, receive, send)
            return
        if self.injector.has_targeted:
            body, receive = await _buffered(receive)
            targeted = self.injector.targeted_status(scope["path"], body)
            if targeted is not None:
                response = self.error(targeted, "The service is temporarily unavailable.", {})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    """The whole request body (empty after a disconnect)."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole request body, and a ``receive`` that hands it to the app again."""
    body = await _read_body(receive)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # after the body: disconnects and the like
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


def fault_routes(injector: FaultInjector, expire_tokens: Callable[[], int]) -> list[Route]:
    """``/_sim/faults`` routes; ``expire_tokens`` revokes every issued token, returns a count."""

    async def body_of(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise ValueError(f"body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        return body

    async def get_settings(request: Request) -> Response:
        return JSONResponse(injector.describe())

    async def put_settings(request: Request) -> Response:
        try:
            injector.update(await body_of(request))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(injector.describe())

    async def storm(request: Request) -> Response:
        try:
            seconds = (await body_of(request)).get("seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise ValueError('body must be {"seconds": <non-negative number>}')
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        injector.start_storm(float(seconds))
        return JSONResponse(injector.describe())

    async def expire(request: Request) -> Response:
        return JSONResponse({"revoked": expire_tokens()})

    async def targeted(request: Request) -> Response:
        try:
            body = await body_of(request)
            injector.add_targeted(TargetedFault(**body))
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(injector.describe())

    return [
        Route(FAULTS_PATH, get_settings, methods=["GET"]),
        Route(FAULTS_PATH, put_settings, methods=["PUT"]),
        Route(f"{FAULTS_PATH}/storm", storm, methods=["POST"]),
        Route(f"{FAULTS_PATH}/expire-tokens", expire, methods=["POST"]),
        Route(f"{FAULTS_PATH}/targeted", targeted, methods=["POST"]),
    ]
