"""What every simulator shares: its state, request log, inspection routes and app wiring.

The simulators stand in for systems users cannot hand us, so the pieces here exist for tests
and demos to observe and steer them (advance the clock to expire tokens, count calls per route)
without touching the vendor-shaped API surface. Inspection routes live under ``/_sim/``, need no
auth and are left out of the request log, so counting API calls is never skewed by the
observer.

Shared inspection routes: ``GET /_sim/requests[?since=<iso>]`` (``DELETE`` clears it),
``GET /_sim/calls[?since=<iso>]`` (counts per method and route template; ``since`` counts only
calls at or after that simulator-clock time, so a test can count calls in a window without
resetting what others see), ``GET|POST /_sim/clock``, ``POST /_sim/tokens/revoke``, plus the
routes of ``faults`` and ``limits``.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulators.clock import SimClock
from simulators.credentials import TokenStore
from simulators.faults import (
    SERVER_SEND_KEY,
    ConnectionDropped,
    ErrorRenderer,
    FaultInjector,
    FaultMiddleware,
    fault_routes,
    plain_error,
)
from simulators.limits import LimitMiddleware, RateLimiter, limit_routes

INSPECTION_PREFIX = "/_sim"


@dataclass(frozen=True)
class LoggedRequest:
    time: str
    method: str
    path: str
    query: str
    route: str | None  # route template, e.g. /api/now/table/{table}; None when nothing matched
    status: int  # 0: the connection was dropped without a response (fault injection)


class RequestLog:
    """Every API call (not inspection calls) with its route template, for call counting."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._entries: list[LoggedRequest] = []
        self._lock = threading.Lock()

    def record(self, method: str, path: str, query: str, route: str | None, status: int) -> None:
        entry = LoggedRequest(self._clock.now().isoformat(), method, path, query, route, status)
        with self._lock:
            self._entries.append(entry)

    def entries(self, since: datetime | None = None) -> list[LoggedRequest]:
        with self._lock:
            entries = list(self._entries)
        if since is None:
            return entries
        return [e for e in entries if datetime.fromisoformat(e.time) >= since]

    def counts(self, since: datetime | None = None) -> Counter[tuple[str, str | None]]:
        return Counter((e.method, e.route) for e in self.entries(since))

    def count(self, method: str, route: str) -> int:
        return self.counts()[(method, route)]

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()


class SimulatorState:
    """Base of each simulator's in-memory store (``app.state.sim``)."""

    def __init__(self) -> None:
        self.clock = SimClock()
        self.tokens = TokenStore(self.clock)
        self.requests = RequestLog(self.clock)
        self.faults = FaultInjector(self.clock)
        self.limits: RateLimiter | None = None  # set by simulators that meter their callers
        # Handlers run on the server thread while tests may poke the store from theirs.
        self.lock = threading.RLock()


class RequestLogMiddleware:
    """Pure ASGI middleware: logs method, path, query, route template and final status."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(INSPECTION_PREFIX):
            await self.app(scope, receive, send)
            return
        status: int | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
            if status is None:
                status = 0  # returned without answering: a dropped connection
        except ConnectionDropped:
            status = 0
            raise
        finally:
            # The router stores the matched route in the shared scope dict.
            route = scope.get("route")
            template = getattr(route, "path", None)
            query = scope.get("query_string", b"").decode("latin-1")
            # No status after an exception: the server's error handler answered 500.
            final = 500 if status is None else status
            self.log.record(scope["method"], scope["path"], query, template, final)


async def read_form(request: Request) -> dict[str, str]:
    """URL-encoded form body without python-multipart (token endpoints only need this)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


class BadJson(Exception):
    pass


async def read_json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise BadJson(str(exc)) from exc


async def read_bounded(request: Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it is known to exceed ``limit`` bytes: uploads are held
    in memory, so the rest is never read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _since(request: Request) -> datetime | None:
    """``?since=<iso>`` (naive means UTC); ValueError when unparsable."""
    text = request.query_params.get("since")
    if not text:
        return None
    value = datetime.fromisoformat(text.replace(" ", "+"))  # a bare "+" arrives as a space
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _inspection_routes(state: SimulatorState) -> list[Route]:
    bad_since = JSONResponse({"error": "since must be an ISO-8601 date and time"}, 400)

    async def list_requests(request: Request) -> Response:
        try:
            entries = state.requests.entries(_since(request))
        except ValueError:
            return bad_since
        return JSONResponse({"requests": [asdict(e) for e in entries]})

    async def reset_requests(request: Request) -> Response:
        state.requests.reset()
        return Response(status_code=204)

    async def list_calls(request: Request) -> Response:
        try:
            counts = state.requests.counts(_since(request))
        except ValueError:
            return bad_since
        calls = [
            {"method": method, "route": route, "count": n}
            for (method, route), n in sorted(counts.items(), key=str)
        ]
        return JSONResponse({"calls": calls, "total": sum(counts.values())})

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await read_json(request)
                state.clock.advance(float(body.get("advance_seconds", 0)))
            except (BadJson, AttributeError, TypeError, ValueError):
                return JSONResponse({"error": 'Body must be {"advance_seconds": <number>}'}, 400)
        return JSONResponse({"now": state.clock.now().isoformat()})

    async def revoke_tokens(request: Request) -> Response:
        return JSONResponse({"revoked": state.tokens.revoke_all()})

    p = INSPECTION_PREFIX
    routes = [
        Route(f"{p}/requests", list_requests, methods=["GET"]),
        Route(f"{p}/requests", reset_requests, methods=["DELETE"]),
        Route(f"{p}/calls", list_calls, methods=["GET"]),
        Route(f"{p}/clock", clock, methods=["GET", "POST"]),
        Route(f"{p}/tokens/revoke", revoke_tokens, methods=["POST"]),
        *fault_routes(state.faults, state.tokens.revoke_all),
    ]
    if state.limits is not None:
        routes += limit_routes(state.limits)
    return routes


class SimulatorApp(Starlette):
    """Starlette that keeps the server's own ``send`` in the scope, before any middleware wraps
    it, so fault injection can reach the connection to drop it (see ``faults``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[SERVER_SEND_KEY] = send
        await super().__call__(scope, receive, send)


def build_app(
    state: SimulatorState,
    routes: Sequence[BaseRoute],
    *,
    not_found: Callable[[Request], Response],
    error: ErrorRenderer = plain_error,
    middleware: Sequence[Middleware] = (),
) -> Starlette:
    """Wire routes, shared inspection routes, request log, faults and limits around a state.

    Layers, outermost first: request log, fault injection (``error`` renders injected errors
    in the system's shape), rate limits (when ``state.limits`` is set), then ``middleware``.
    Everything runs inside the request log, so injected and metered 429/5xx answers are
    logged and counted like real ones.
    """

    async def handle_404(request: Request, exc: Exception) -> Response:
        return not_found(request)

    layers = [
        Middleware(RequestLogMiddleware, log=state.requests),
        Middleware(FaultMiddleware, injector=state.faults, error=error),
    ]
    if state.limits is not None:
        layers.append(Middleware(LimitMiddleware, limiter=state.limits))
    app = SimulatorApp(
        routes=[*_inspection_routes(state), *routes],
        middleware=[*layers, *middleware],
        exception_handlers={404: handle_404},
    )
    app.state.sim = state
    return app
