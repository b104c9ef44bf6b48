"""ServiceTitan webhooks V2 (``/webhooks/servicetitan/<connection>``).

The signature is checked first, over the raw body as it arrived and before it is parsed:
HMAC-SHA256 with the app's key, in ``x-servicetitan-signature`` (base64 by default), compared
in constant time. A missing or wrong signature answers 401 and is counted
(``mlc_webhooks_refused``); ServiceTitan retries it, then gives up, and the poll brings the
change anyway. A signed event becomes a hint naming its record; the producer reads the record
back, so nothing of the delivery's data is trusted beyond its id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ml_connector.connections.base import describe_secret
from ml_connector.connections.servicetitan import ServiceTitanConnection, ServiceTitanWebhooks
from producers.hint import Hint
from producers.notifications import NotifierContext
from producers.receiver import BadNotification, Intake, parse_json, raw_body

KEY_LENGTHS = range(32, 65)  # what ServiceTitan's app settings accept
# Event prefixes (``invoice`` of ``invoice.created``) -> the resource the record is read from.
RESOURCES = {"invoice": "invoices", "payment": "payments", "customer": "customers",
             "business-unit": "business-units"}  # fmt: skip


class Signature:
    def __init__(self, settings: ServiceTitanWebhooks, key: str) -> None:
        self.header = settings.signature_header
        self.encoding = settings.signature_encoding
        self._key = key.encode()

    def expected(self, body: bytes) -> bytes:
        digest = hmac.new(self._key, body, hashlib.sha256).digest()
        return (
            digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode()
        ).encode()

    def accepts(self, request: Request, body: bytes) -> bool:
        given = request.headers.get(self.header, "").strip().encode("latin-1", "replace")
        if self.encoding == "hex":
            given = given.lower()
        return bool(given) and hmac.compare_digest(given, self.expected(body))


def parse_event(connection: str, body: Any) -> Hint:
    if not isinstance(body, dict):
        raise BadNotification("expected a JSON object")
    event = body.get("eventType")
    if not isinstance(event, str) or "." not in event:
        raise BadNotification("lacks eventType (such as invoice.created)")
    prefix, _, change = event.rpartition(".")
    resource = RESOURCES.get(prefix)
    if resource is None:
        raise BadNotification(f"event {event!r} names nothing read here "
                              f"(known: {', '.join(f'{p}.*' for p in RESOURCES)})")  # fmt: skip
    data = body.get("data")
    record_id = data.get("id") if isinstance(data, dict) else None
    if (
        isinstance(record_id, bool)
        or not isinstance(record_id, int | str)
        or not str(record_id).isdigit()
    ):
        raise BadNotification(f"event {event!r} carries no record id (data.id)")
    modified = data.get("modifiedOn") if isinstance(data, dict) else None
    return Hint(connection, resource, change, str(record_id), event,
                modified if isinstance(modified, str) else None)  # fmt: skip


class ServiceTitanNotifier:
    def __init__(self, signature: Signature) -> None:
        self.signature = signature

    async def handle(self, request: Request, intake: Intake) -> Response:
        if request.method != "POST":
            return JSONResponse({"error": "webhooks are POSTed"}, 405)
        try:
            body = await raw_body(request)
        except BadNotification as exc:
            return intake.malformed(str(exc))
        if not self.signature.accepts(request, body):
            return intake.refused(1, 401, f"missing or wrong {self.signature.header} signature")
        try:
            hint = parse_event(intake.connection, parse_json(body))
        except BadNotification as exc:
            return intake.malformed(f"not a ServiceTitan webhook event: {exc}")
        return await intake.accept([hint])

    async def maintain(self) -> None:
        """Nothing to renew: webhooks are configured once in the app's settings."""


def notifier(ctx: NotifierContext) -> ServiceTitanNotifier | None:
    conn = ctx.connection
    if not isinstance(conn, ServiceTitanConnection) or conn.webhooks is None:
        return None
    key = ctx.secrets.get(conn.webhooks.hmac_key).get_secret_value()
    if len(key) not in KEY_LENGTHS:
        where = describe_secret(conn.webhooks.hmac_key)
        raise ValueError(
            f"connections.{ctx.name}.webhooks.hmac_key: the {where} must be 32 to 64 "
            "characters, as ServiceTitan's webhook settings require"
        )
    return ServiceTitanNotifier(Signature(conn.webhooks, key))
