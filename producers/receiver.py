"""The webhook endpoint sources notify: durable first, then 2xx.

One route, ``/webhooks/<system>/<connection>``, for every system that registers notifications
(``producers.registry``). What a request must look like is the system's own business (its
``Notifier``); what every system gets alike is here: hints are written to
``mlc.hints.<connection>`` and acknowledged by Kafka before the answer, Kafka not taking them
answers 503 so the sender retries, and a malformed body answers 400 with the reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ml_connector.metrics import WEBHOOKS_REFUSED
from producers.hint import Hint

log = logging.getLogger(__name__)

NOTIFY_PATH = "/webhooks/{system}/{connection}"
# A notification names a few records; anything much larger is not one (and is not buffered).
MAX_BODY = 1 << 20
BODY_SECONDS = 10.0


def notify_path(system: str, connection: str) -> str:
    return NOTIFY_PATH.format(system=system, connection=connection)


@dataclass
class ReceiverStats:
    accepted: int = 0
    rejected_client_state: int = 0
    malformed: int = 0
    unavailable: int = 0


class BadNotification(ValueError):
    """The body is not what the system sends; the message says what is wrong."""


class Intake:
    """What a notifier does with a request it has checked: hand hints on, or refuse."""

    def __init__(
        self, connection: str, write_hints: Callable[[list[Hint]], None], counts: ReceiverStats
    ) -> None:
        self.connection = connection
        self._write = write_hints
        self.counts = counts

    async def accept(self, hints: list[Hint]) -> Response:
        try:
            await asyncio.to_thread(self._write, hints)
        except Exception as exc:  # noqa: BLE001 - any failure: not durable, so retry
            self.counts.unavailable += 1
            log.error("hints for %s not written (%s); answering 503", self.connection, exc)
            return JSONResponse({"error": "cannot record the notification now"}, 503)
        self.counts.accepted += len(hints)
        return Response(status_code=202)

    def malformed(self, reason: str) -> Response:
        self.counts.malformed += 1
        WEBHOOKS_REFUSED.labels(self.connection, "malformed").inc()
        return JSONResponse({"error": reason}, 400)

    def refused(self, count: int, status: int, reason: str) -> Response:
        """Entries from someone who does not hold the connection's secret."""
        self.counts.rejected_client_state += count
        WEBHOOKS_REFUSED.labels(self.connection, "unauthenticated").inc(count)
        return JSONResponse({"error": reason}, status)


async def json_body(request: Request) -> Any:
    """The body as JSON (None when empty); BadNotification when it is not JSON, too big, too
    deeply nested, or trickles in slower than a sender that means it."""
    return parse_json(await raw_body(request))


async def raw_body(request: Request) -> bytes:
    """The body as sent (what a signature is computed over), bounded in size and time."""
    try:
        return await asyncio.wait_for(_read(request), BODY_SECONDS)
    except TimeoutError:
        raise BadNotification(f"the body did not arrive within {BODY_SECONDS:.0f} s") from None


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except RecursionError:
        raise BadNotification("the JSON is nested too deeply") from None
    except ValueError as exc:  # not JSON, or not UTF-8
        raise BadNotification(str(exc)) from None


async def _read(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BadNotification(f"the body is larger than {MAX_BODY} bytes")
    return body


class Notifier(Protocol):
    """One connection's notifications: checks requests, and keeps the sender sending."""

    async def handle(self, request: Request, intake: Intake) -> Response: ...

    async def maintain(self) -> None:
        """Called every ``webhooks.check_interval`` (subscriptions to create or renew)."""
        ...


def receiver_app(
    notifiers: Mapping[tuple[str, str], Notifier],
    write_hints: Callable[[list[Hint]], None],
    stats: ReceiverStats | None = None,
) -> Starlette:
    """``notifiers``: (system, connection) -> its notifier. ``write_hints`` must raise when
    Kafka did not acknowledge every hint."""
    counts = stats or ReceiverStats()

    async def endpoint(request: Request) -> Response:
        system, connection = request.path_params["system"], request.path_params["connection"]
        notifier = notifiers.get((system, connection))
        if notifier is None:
            return JSONResponse(
                {"error": f"no notifications configured for {system} connection {connection!r}"},
                404,
            )
        return await notifier.handle(request, Intake(connection, write_hints, counts))

    async def refused(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        reason = "no such endpoint" if status == 404 else f"{request.method} is not accepted here"
        return JSONResponse({"error": reason}, status)

    app = Starlette(
        routes=[Route(NOTIFY_PATH, endpoint, methods=["GET", "POST"])],
        exception_handlers={404: refused, 405: refused},
    )
    app.state.stats = counts
    return app
