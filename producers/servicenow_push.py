"""ServiceNow Business Rule pushes (``/webhooks/servicenow/<connection>``).

The admin-defined body must name ``table`` and ``sys_id``; the configured header must carry
the shared secret (401 without it). The document is read back from the instance, as for BC.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ml_connector.connections.servicenow import ServiceNowConnection
from producers.hint import Hint
from producers.notifications import NotifierContext
from producers.receiver import BadNotification, Intake, json_body
from producers.shared_secret import SharedSecret

# What ServiceNow's identifiers look like; anything else could smuggle encoded-query syntax
# (``^NQ``: OR a new condition) into the read-back and widen it past the source's filter.
SYS_ID = re.compile(r"[0-9a-f]{32}")
TABLE = re.compile(r"[a-z][a-z0-9_]{0,79}")
OPERATIONS = {"insert": "updated", "update": "updated", "delete": "deleted"}


def parse_push(connection: str, body: Any) -> Hint:
    """A ServiceNow push: the admin's payload must at least name the table and the record."""
    if not isinstance(body, dict):
        raise BadNotification("expected a JSON object")
    missing = [k for k in ("table", "sys_id") if not isinstance(body.get(k), str) or not body[k]]
    if missing:
        raise BadNotification(f"lacks {', '.join(missing)}")
    if not SYS_ID.fullmatch(body["sys_id"]):
        raise BadNotification("sys_id is not a ServiceNow sys_id (32 hexadecimal characters)")
    if not TABLE.fullmatch(body["table"]):
        raise BadNotification("table is not a ServiceNow table name")
    operation = body.get("operation") or "update"
    if not isinstance(operation, str) or operation.lower() not in OPERATIONS:
        raise BadNotification(f"operation must be one of {', '.join(OPERATIONS)}")
    change = OPERATIONS[operation.lower()]
    return Hint(connection, body["table"], change, body["sys_id"], body["table"], None)


class ServiceNowPushNotifier:
    def __init__(self, secret: SharedSecret) -> None:
        self.secret = secret

    async def handle(self, request: Request, intake: Intake) -> Response:
        if request.method != "POST":
            return JSONResponse({"error": "pushes are POSTed"}, 405)
        if not self.secret.accepts(request):
            return intake.refused(1, 401, self.secret.refusal)
        try:
            hint = parse_push(intake.connection, await json_body(request))
        except BadNotification as exc:
            return intake.malformed(f"not a push this endpoint understands: {exc}")
        return await intake.accept([hint])

    async def maintain(self) -> None:
        """Pushes need nothing kept alive: the Business Rule posts on every change."""


def notifier(ctx: NotifierContext) -> ServiceNowPushNotifier | None:
    conn = ctx.connection
    if not isinstance(conn, ServiceNowConnection) or conn.push is None:
        return None
    return ServiceNowPushNotifier(SharedSecret.of(ctx, conn.push))
