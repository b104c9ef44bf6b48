"""Outbound HTTP deliveries (webhooks, business events, push notifications) with retries.

Each simulator decides what to send, to which URL, with which headers (signature, shared
secret); this module only keeps the queue, sends, records every attempt and schedules retries
on the simulator's clock. Body bytes are fixed at enqueue time so a retry or a manual replay
sends exactly what was signed.

Sending happens in the event loop serving the app: a pump task starts on the first enqueue
and stops once nothing is pending (``auto_dispatch``). Tests that want full control turn that
off and call ``dispatch_due`` (or ``POST /_sim/deliveries/dispatch``) after moving the clock.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulators.base import INSPECTION_PREFIX
from simulators.clock import SimClock
from simulators.pump import Pump

State = Literal["pending", "delivered", "failed"]
RetryPolicy = Callable[[int | None], bool]  # status (None: no answer) -> worth retrying?


def retry_on_any_failure(status: int | None) -> bool:
    return True


def retry_on_server_errors(status: int | None) -> bool:
    return status is None or status >= 500 or status == 429


@dataclass
class Attempt:
    at: datetime
    status: int | None
    error: str | None = None

    def render(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "status": self.status, "error": self.error}


@dataclass
class Delivery:
    id: str
    event: str
    url: str
    headers: dict[str, str]
    body: bytes
    created_at: datetime
    next_at: datetime | None
    state: State = "pending"
    attempts: list[Attempt] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.event,
            "url": self.url,
            "headers": self.headers,
            "body": self.body.decode("utf-8", errors="replace"),
            "state": self.state,
            "created_at": self.created_at.isoformat(),
            "next_attempt_at": self.next_at.isoformat() if self.next_at else None,
            "attempts": [a.render() for a in self.attempts],
            **self.meta,
        }


@dataclass
class OutboxOptions:
    # Seconds to wait after failed attempt n (1-based) before attempt n+1; its length plus
    # one is the number of attempts before a delivery is given up.
    retry_delays: Sequence[float] = (10, 30, 60, 300)
    retry_scale: float = 1.0  # tests shrink the schedule instead of sleeping
    retry_on: RetryPolicy = retry_on_any_failure
    timeout_seconds: float = 10.0
    auto_dispatch: bool = True
    # Lets tests deliver to an in-process receiver app (httpx.ASGITransport).
    transport: httpx.AsyncBaseTransport | None = None


class Outbox:
    def __init__(self, clock: SimClock, options: OutboxOptions) -> None:
        self.clock = clock
        self.options = options
        self._deliveries: dict[str, Delivery] = {}
        self._lock = threading.Lock()
        self._pump = Pump(self.dispatch_due, self._pending)
        self._sending: set[str] = set()

    def enqueue(
        self,
        event: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        meta: Mapping[str, Any] | None = None,
    ) -> Delivery:
        now = self.clock.now()
        delivery = Delivery(
            id=str(uuid.uuid4()),
            event=event,
            url=url,
            headers={"Content-Type": "application/json", **headers},
            body=body,
            created_at=now,
            next_at=now,
            meta=dict(meta or {}),
        )
        with self._lock:
            self._deliveries[delivery.id] = delivery
        self.kick()
        return delivery

    def all(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries.values())

    def get(self, delivery_id: str) -> Delivery | None:
        with self._lock:
            return self._deliveries.get(delivery_id)

    def replay(self, delivery_id: str) -> Delivery | None:
        """Manual redelivery (what an admin does once retries are exhausted)."""
        with self._lock:
            delivery = self._deliveries.get(delivery_id)
            if delivery is None:
                return None
            delivery.state = "pending"
            delivery.next_at = self.clock.now()
        self.kick()
        return delivery

    def clear(self) -> None:
        with self._lock:
            self._deliveries.clear()

    # -- sending -------------------------------------------------------------------------

    def _due(self) -> list[Delivery]:
        now = self.clock.now()
        with self._lock:
            return [
                d
                for d in self._deliveries.values()
                if d.state == "pending"
                and d.next_at is not None
                and d.next_at <= now
                and d.id not in self._sending
            ]

    def _pending(self) -> bool:
        with self._lock:
            return any(d.state == "pending" for d in self._deliveries.values())

    async def dispatch_due(self) -> int:
        """Send every delivery that is due by the simulator clock; returns how many."""
        due = self._due()
        if not due:
            return 0
        with self._lock:
            self._sending.update(d.id for d in due)
        try:
            async with httpx.AsyncClient(
                transport=self.options.transport, timeout=self.options.timeout_seconds
            ) as client:
                await asyncio.gather(*(self._attempt(client, d) for d in due))
        finally:
            with self._lock:
                self._sending.difference_update(d.id for d in due)
        return len(due)

    async def _attempt(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        status: int | None = None
        error: str | None = None
        try:
            response = await client.post(
                delivery.url, content=delivery.body, headers=delivery.headers
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        now = self.clock.now()
        with self._lock:
            delivery.attempts.append(Attempt(now, status, error))
            if status is not None and 200 <= status < 300:
                delivery.state, delivery.next_at = "delivered", None
                return
            failed = len(delivery.attempts)
            delays = self.options.retry_delays
            if failed > len(delays) or not self.options.retry_on(status):
                delivery.state, delivery.next_at = "failed", None
                return
            wait = delays[failed - 1] * self.options.retry_scale
            delivery.next_at = now + timedelta(seconds=wait)

    def kick(self) -> None:
        """Make sure a pump runs in the serving loop (no-op when auto dispatch is off)."""
        if self.options.auto_dispatch:
            self._pump.kick()


class DeliverySettings(Protocol):
    """The delivery fields each simulator's options carry (tests shrink and redirect)."""

    retry_scale: float
    auto_dispatch: bool
    delivery_transport: httpx.AsyncBaseTransport | None


def outbox_for(
    clock: SimClock,
    settings: DeliverySettings,
    retry_delays: Sequence[float],
    retry_on: RetryPolicy = retry_on_any_failure,
) -> Outbox:
    return Outbox(
        clock,
        OutboxOptions(
            retry_delays=retry_delays,
            retry_scale=settings.retry_scale,
            retry_on=retry_on,
            auto_dispatch=settings.auto_dispatch,
            transport=settings.delivery_transport,
        ),
    )


T = TypeVar("T")


def subscription_routes(
    path: str,
    items: list[T],
    parse: Callable[[dict[str, Any]], T],
    render: Callable[[T], dict[str, Any]],
    listing_extra: Callable[[], dict[str, Any]] | None = None,
    key: str = "subscriptions",
) -> list[Route]:
    """List, add and clear what a simulator delivers to (webhook subscriptions, event
    endpoints, push notification definitions), as an admin does on the system's setup form.
    ``parse`` raises ValueError or TypeError for a bad definition (answered 400)."""

    async def listing(request: Request) -> Response:
        extra = listing_extra() if listing_extra else {}
        return JSONResponse({key: [render(item) for item in items], **extra})

    async def add(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"null")
            if not isinstance(body, dict):
                raise ValueError("The body must be a JSON object.")
            item = parse(body)
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        items.append(item)
        return JSONResponse(render(item), 201)

    async def clear(request: Request) -> Response:
        items.clear()
        return Response(status_code=204)

    return [
        Route(path, listing, methods=["GET"]),
        Route(path, add, methods=["POST"]),
        Route(path, clear, methods=["DELETE"]),
    ]


def delivery_routes(outbox: Outbox, prefix: str = f"{INSPECTION_PREFIX}/deliveries") -> list[Route]:
    """List deliveries with their attempts, send what is due now, replay one by hand."""

    async def list_deliveries(request: Request) -> Response:
        event = request.query_params.get("event")
        state = request.query_params.get("state")
        rows = [
            d.render()
            for d in outbox.all()
            if (event is None or d.event == event) and (state is None or d.state == state)
        ]
        return JSONResponse({"deliveries": rows})

    async def get_delivery(request: Request) -> Response:
        delivery = outbox.get(request.path_params["id"])
        if delivery is None:
            return JSONResponse({"error": "No such delivery."}, 404)
        return JSONResponse(delivery.render())

    async def dispatch(request: Request) -> Response:
        return JSONResponse({"sent": await outbox.dispatch_due()})

    async def replay(request: Request) -> Response:
        delivery = outbox.replay(request.path_params["id"])
        if delivery is None:
            return JSONResponse({"error": "No such delivery."}, 404)
        return JSONResponse(delivery.render(), 202)

    async def clear(request: Request) -> Response:
        outbox.clear()
        return Response(status_code=204)

    return [
        Route(prefix, list_deliveries, methods=["GET"]),
        Route(prefix, clear, methods=["DELETE"]),
        Route(f"{prefix}/dispatch", dispatch, methods=["POST"]),
        Route(f"{prefix}/{{id}}", get_delivery, methods=["GET"]),
        Route(f"{prefix}/{{id}}/replay", replay, methods=["POST"]),
    ]
