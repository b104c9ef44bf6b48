"""The webhook endpoint sources call: durable first, then 2xx.

Business Central notifications (``/webhooks/business_central/<connection>``):

- ``?validationToken=X`` (GET or POST): BC's handshake; the token goes back as plain text.
- A notification is checked item by item (shape, known subscription, clientState); what
  passes is written to ``mlc.hints.<connection>`` and acknowledged by Kafka before the answer.
- Kafka not taking the hints answers 503, so BC retries; a malformed body answers 400 with
  the reason; a clientState that does not match is rejected (403) and counted. A valid
  notification never gets a 4xx, because BC deletes a subscription that answers 4xx.

ServiceNow Business Rule pushes (``/webhooks/servicenow/<connection>``): the admin-defined
body must name ``table`` and ``sys_id``; the configured header must carry the shared secret
(401 without it). The document is read back from the instance, as for BC.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from producers.subscriptions import ClientStates

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/business_central/{connection}"
PUSH_PATH = "/webhooks/servicenow/{connection}"
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


def parse_push(connection: str, body: Any) -> Hint:
    """A ServiceNow push: the admin's payload must at least name the table and the record."""
    if not isinstance(body, dict):
        raise BadNotification("expected a JSON object")
    missing = [k for k in ("table", "sys_id") if not isinstance(body.get(k), str) or not body[k]]
    if missing:
        raise BadNotification(f"lacks {', '.join(missing)}")
    operation = str(body.get("operation") or "update")
    change = "deleted" if operation.lower() == "delete" else "updated"
    return Hint(connection, body["table"], change, body["sys_id"], body["table"], None)


def receiver_app(
    client_states: ClientStates,
    write_hints: Callable[[list[Hint]], None],
    stats: ReceiverStats | None = None,
    push_secrets: Mapping[str, tuple[str, str]] | None = None,
) -> Starlette:
    """``write_hints`` must raise when Kafka did not acknowledge every hint.
    ``push_secrets``: ServiceNow connection -> (header name, shared secret)."""
    counts = stats or ReceiverStats()
    pushes = dict(push_secrets or {})

    async def durable(hints: list[Hint], connection: str) -> Response:
        try:
            await asyncio.to_thread(write_hints, hints)
        except Exception as exc:  # noqa: BLE001 - any failure: not durable, so retry
            counts.unavailable += 1
            log.error("hints for %s not written (%s); answering 503", connection, exc)
            return JSONResponse({"error": "cannot record the notification now"}, 503)
        counts.accepted += len(hints)
        return Response(status_code=202)

    async def push(request: Request) -> Response:
        connection = request.path_params["connection"]
        if connection not in pushes:
            return JSONResponse({"error": f"no push configured for {connection!r}"}, 404)
        header, secret = pushes[connection]
        given = request.headers.get(header, "")
        if not secrets.compare_digest(given.encode(), secret.encode()):
            counts.rejected_client_state += 1
            return JSONResponse({"error": f"missing or wrong {header} header"}, 401)
        try:
            hint = parse_push(connection, json.loads(await request.body() or b"null"))
        except (BadNotification, ValueError) as exc:
            counts.malformed += 1
            return JSONResponse({"error": f"not a push this endpoint understands: {exc}"}, 400)
        return await durable([hint], connection)

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
        return await durable(valid, connection)

    app = Starlette(routes=[
        Route(WEBHOOK_PATH, notify, methods=["GET", "POST"]),
        Route(PUSH_PATH, push, methods=["POST"]),
    ])  # fmt: skip
    app.state.stats = counts
    return app
