"""The webhook endpoint Business Central notifies: durable first, then 2xx.

- ``?validationToken=X`` (GET or POST): BC's handshake; the token goes back as plain text.
- A notification is checked item by item (shape, known subscription, clientState); what
  passes is written to ``mlc.hints.<connection>`` and acknowledged by Kafka before the answer.
- Kafka not taking the hints answers 503, so BC retries; a malformed body answers 400 with
  the reason; a clientState that does not match is rejected (403) and counted. A valid
  notification never gets a 4xx, because BC deletes a subscription that answers 4xx.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from producers.subscriptions import ClientStates

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/business_central/{connection}"
_RESOURCE = re.compile(
    r"companies\((?P<company>[0-9a-fA-F-]{36})\)/(?P<set>[A-Za-z]+)(?:\((?P<id>[0-9a-fA-F-]{36})\))?"
)
CHANGE_TYPES = ("created", "updated", "deleted", "collection")


@dataclass(frozen=True)
class Hint:
    """What a notification says changed; the record itself is fetched by the producer."""

    connection: str
    entity_set: str
    change_type: str
    record_id: str | None
    resource: str
    last_modified: str | None

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Hint:
        return cls(**json.loads(data))


@dataclass
class ReceiverStats:
    accepted: int = 0
    rejected_client_state: int = 0
    malformed: int = 0
    unavailable: int = 0


class BadNotification(ValueError):
    """The body is not a BC notification; the message says what is wrong."""


def parse(connection: str, body: Any) -> list[tuple[str, str, Hint]]:
    """(subscriptionId, clientState, hint) per entry, or BadNotification."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise BadNotification('expected a JSON object with a "value" array')
    out = []
    for i, item in enumerate(body["value"]):
        if not isinstance(item, dict):
            raise BadNotification(f"value[{i}] is not an object")
        missing = [k for k in ("subscriptionId", "clientState", "resource", "changeType")
                   if not isinstance(item.get(k), str)]  # fmt: skip
        if missing:
            raise BadNotification(f"value[{i}] lacks {', '.join(missing)}")
        if item["changeType"] not in CHANGE_TYPES:
            raise BadNotification(f"value[{i}].changeType {item['changeType']!r} is unknown")
        match = _RESOURCE.search(item["resource"])
        if match is None:
            raise BadNotification(f"value[{i}].resource {item['resource']!r} names no entity set")
        hint = Hint(connection, match["set"], item["changeType"], match["id"], item["resource"],
                    item.get("lastModifiedDateTime"))  # fmt: skip
        out.append((item["subscriptionId"], item["clientState"], hint))
    return out


def receiver_app(
    client_states: ClientStates,
    write_hints: Callable[[list[Hint]], None],
    stats: ReceiverStats | None = None,
) -> Starlette:
    """``write_hints`` must raise when Kafka did not acknowledge every hint."""
    counts = stats or ReceiverStats()

    async def notify(request: Request) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:
            return PlainTextResponse(token)
        connection = request.path_params["connection"]
        try:
            entries = parse(connection, json.loads(await request.body() or b"null"))
        except (BadNotification, ValueError) as exc:
            counts.malformed += 1
            return JSONResponse({"error": f"not a Business Central notification: {exc}"}, 400)
        valid = [h for sub, state, h in entries if client_states.check(sub, state)]
        rejected = len(entries) - len(valid)
        if rejected:
            counts.rejected_client_state += rejected
            log.warning("%d notification(s) for %s with an unknown subscription or a wrong "
                        "clientState rejected", rejected, connection)  # fmt: skip
        if entries and not valid:
            return JSONResponse({"error": "clientState does not match the subscription"}, 403)
        try:
            await asyncio.to_thread(write_hints, valid)
        except Exception as exc:  # noqa: BLE001 - any failure: not durable, so BC must retry
            counts.unavailable += 1
            log.error("hints for %s not written (%s); answering 503", connection, exc)
            return JSONResponse({"error": "cannot record the notification now"}, 503)
        counts.accepted += len(valid)
        return Response(status_code=202)

    app = Starlette(routes=[Route(WEBHOOK_PATH, notify, methods=["GET", "POST"])])
    app.state.stats = counts
    return app
