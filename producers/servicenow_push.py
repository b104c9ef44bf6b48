"""ServiceNow Business Rule pushes (``/webhooks/servicenow/<connection>``).

The admin-defined body must name ``table`` and ``sys_id``; the configured header must carry
the shared secret (401 without it). The document is read back from the instance, as for BC.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ml_connector.connections.servicenow import ServiceNowConnection
from producers.hint import Hint
from producers.notifications import NotifierContext
from producers.receiver import BadNotification, Intake, json_body


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


class ServiceNowPushNotifier:
    def __init__(self, header: str, secret: str) -> None:
        self.header = header
        self._secret = secret

    async def handle(self, request: Request, intake: Intake) -> Response:
        if request.method != "POST":
            return JSONResponse({"error": "pushes are POSTed"}, 405)
        given = request.headers.get(self.header, "")
        if not secrets.compare_digest(given.encode(), self._secret.encode()):
            return intake.refused(1, 401, f"missing or wrong {self.header} header")
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
    secret = ctx.secrets.get(conn.push.secret).get_secret_value()
    return ServiceNowPushNotifier(conn.push.header, secret)
