"""Business Central webhooks: ``subscriptions`` with the validation handshake, and notifications.

Follows api-reference/v2.0/dynamics-subscriptions: a subscription is created (and renewed) only
after the notification URL echoes ``validationToken`` within the handshake timeout; it expires
three days later by the simulator clock. Changes to a subscribed resource are collected for
``notification_delay_seconds`` after the first one and sent as one ``{"value": [...]}`` POST
with no record data; more than ``collection_threshold`` changes in that window become a single
``collection`` notification whose resource is a delta query. Deliveries go through the shared
``deliveries.Outbox``: BC retries only on 408, 429, 5xx (or no answer) for a window standing in
for 36 hours, and any other error status deletes the subscription.

Inspection (``/_sim/subscriptions``): list, force expiry, delete as BC would, flush pending
notifications now, and the delivery log with every attempt's status.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from simulators.base import INSPECTION_PREFIX, BadJson, read_json
from simulators.business_central.http import ApiContext, Handler, bc_error, odata_response
from simulators.business_central.store import BusinessCentralStore, Change
from simulators.business_central.values import format_datetime, make_etag
from simulators.deliveries import Outbox, OutboxOptions, delivery_routes
from simulators.pump import Pump

if TYPE_CHECKING:
    from simulators.business_central.options import BusinessCentralOptions

RESOURCE_RE = re.compile(r"^/?api/v2\.0/companies\(([0-9a-fA-F-]{36})\)/([A-Za-z]+)$")
_PREFIX = f"{INSPECTION_PREFIX}/subscriptions"


def bc_retries(status: int | None) -> bool:
    """BC retries a notification only when the receiver is unreachable or says 408/429/5xx."""
    return status is None or status in (408, 429) or status >= 500


def retry_schedule(initial: float, window: float) -> tuple[float, ...]:
    """Doubling delays from ``initial`` whose sum reaches ``window`` (BC's 36 hours)."""
    delays: list[float] = []
    delay = max(initial, 0.001)
    while sum(delays) < window:
        delays.append(min(delay, window - sum(delays)))
        delay *= 2
    return tuple(delays)


@dataclass
class Subscription:
    id: str
    company_id: str
    entity_set: str
    notification_url: str
    resource: str
    client_state: str
    expires_at: datetime
    created_at: datetime
    modified_at: datetime
    version: int = 1

    def etag(self) -> str:
        return make_etag(str(uuid.UUID(self.id)), self.version)

    def render(self) -> dict[str, Any]:
        return {
            "@odata.etag": self.etag(),
            "subscriptionId": self.id,
            "notificationUrl": self.notification_url,
            "resource": self.resource,
            "timestamp": self.version,
            "userId": "00000000-0000-0000-0000-000000000001",
            "lastModifiedDateTime": format_datetime(self.modified_at),
            "clientState": self.client_state,
            "expirationDateTime": format_datetime(self.expires_at),
            "systemCreatedAt": format_datetime(self.created_at),
            "systemCreatedBy": "00000000-0000-0000-0000-000000000001",
            "systemModifiedAt": format_datetime(self.modified_at),
            "systemModifiedBy": "00000000-0000-0000-0000-000000000001",
        }


@dataclass
class _Pending:
    first_at: datetime
    changes: list[Change] = field(default_factory=list)


class Webhooks:
    def __init__(self, store: BusinessCentralStore, options: BusinessCentralOptions) -> None:
        self.store = store
        self.options = options
        self.subscriptions: dict[str, Subscription] = {}
        self.outbox = Outbox(
            store.clock,
            OutboxOptions(
                retry_delays=retry_schedule(
                    options.webhook_retry_initial_seconds, options.webhook_retry_window_seconds
                ),
                retry_on=bc_retries,
                transport=options.delivery_transport,
            ),
        )
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.RLock()
        self._pump = Pump(self._flush_due, lambda: bool(self._pending))
        store.listeners.append(self.on_change)

    # -- subscriptions -------------------------------------------------------------------

    def reap(self) -> None:
        """Drop subscriptions whose receiver answered a status BC does not retry."""
        for delivery in self.outbox.all():
            attempts = delivery.attempts
            if delivery.state == "failed" and attempts and not bc_retries(attempts[-1].status):
                with self._lock:
                    self.subscriptions.pop(delivery.meta.get("subscriptionId", ""), None)

    def active(self) -> list[Subscription]:
        self.reap()
        now = self.store.clock.now()
        with self._lock:
            return [s for s in self.subscriptions.values() if s.expires_at > now]

    def _target(self, resource: str) -> tuple[str, str] | str:
        """(company id, entity set) of a subscribable resource, or the refusal message."""
        match = RESOURCE_RE.match(resource)
        if match is None:
            return f"The resource '{resource}' is not a valid subscription resource."
        company_id, entity_set = match.group(1).lower(), match.group(2)
        definition = self.store.entity_sets.get(entity_set)
        if company_id not in self.store.companies or definition is None:
            return f"The resource '{resource}' does not exist."
        if not definition.webhooks:
            return f"Subscriptions are not supported for the entity set '{entity_set}'."
        return company_id, entity_set

    async def handshake(self, url: str) -> bool:
        """BC's validation: the receiver must echo the token as plain text within the timeout."""
        token = secrets.token_urlsafe(16)
        separator = "&" if "?" in url else "?"
        try:
            async with httpx.AsyncClient(
                transport=self.options.delivery_transport,
                timeout=self.options.handshake_timeout_seconds,
            ) as client:
                response = await client.request(
                    self.options.handshake_method, f"{url}{separator}validationToken={token}"
                )
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.text.strip() == token

    def _refused_handshake(self) -> Response:
        return bc_error(
            400,
            "BadRequest",
            "The subscription was not created: the notification URL did not answer the "
            "validation request with the validation token.",
        )

    async def create(self, ctx: ApiContext) -> Response:
        self.reap()
        try:
            body = await read_json(ctx.request)
        except BadJson as exc:
            return bc_error(400, "BadRequest", f"The request body is not valid JSON: {exc}")
        if not isinstance(body, dict) or not isinstance(body.get("notificationUrl"), str):
            return bc_error(400, "BadRequest", "notificationUrl and resource are required.")
        target = self._target(str(body.get("resource", "")))
        if isinstance(target, str):
            return bc_error(400, "BadRequest", target)
        if len(self.subscriptions) >= self.options.max_subscriptions:
            return bc_error(
                400,
                "BadRequest",
                f"The maximum number of subscriptions ({self.options.max_subscriptions}) "
                "has been reached.",
            )
        if not await self.handshake(body["notificationUrl"]):
            return self._refused_handshake()
        now = self.store.clock.now()
        subscription = Subscription(
            id=uuid.uuid4().hex,
            company_id=target[0],
            entity_set=target[1],
            notification_url=body["notificationUrl"],
            resource=str(body["resource"]),
            client_state=str(body.get("clientState") or ""),
            expires_at=now + timedelta(seconds=self.options.subscription_lifetime_seconds),
            created_at=now,
            modified_at=now,
        )
        with self._lock:
            self.subscriptions[subscription.id] = subscription
        return self._entity(ctx, subscription, 201)

    def _entity(self, ctx: ApiContext, subscription: Subscription, status: int = 200) -> Response:
        body = {"@odata.context": f"{ctx.root}/$metadata#subscriptions/$entity"}
        body |= subscription.render()
        return odata_response(body, status, {"ETag": subscription.etag()})

    def _find(self, ctx: ApiContext) -> Subscription | Response:
        self.reap()
        subscription = self.subscriptions.get(ctx.request.path_params["subscription_id"])
        if subscription is None:
            return bc_error(404, "BadRequest_NotFound", "The subscription does not exist.")
        return subscription

    async def list_all(self, ctx: ApiContext) -> Response:
        self.reap()
        with self._lock:
            rows = [s.render() for s in self.subscriptions.values()]
        return odata_response(
            {"@odata.context": f"{ctx.root}/$metadata#subscriptions", "value": rows}
        )

    async def get(self, ctx: ApiContext) -> Response:
        found = self._find(ctx)
        return found if isinstance(found, Response) else self._entity(ctx, found)

    async def renew(self, ctx: ApiContext) -> Response:
        """PATCH with If-Match: a new handshake, then a new expiry three days out."""
        found = self._find(ctx)
        if isinstance(found, Response):
            return found
        match = ctx.request.headers.get("if-match")
        if match is None or match.strip() not in ("*", found.etag()):
            status = 400 if match is None else 412
            return bc_error(
                status, "Request_EntityChanged", "The If-Match header is missing or stale."
            )
        try:
            body = await read_json(ctx.request) or {}
        except BadJson as exc:
            return bc_error(400, "BadRequest", f"The request body is not valid JSON: {exc}")
        url = str(body.get("notificationUrl") or found.notification_url)
        if not await self.handshake(url):
            return self._refused_handshake()
        now = self.store.clock.now()
        with self._lock:
            found.notification_url = url
            if "clientState" in body:
                found.client_state = str(body["clientState"] or "")
            found.expires_at = now + timedelta(seconds=self.options.subscription_lifetime_seconds)
            found.modified_at = now
            found.version += 1
        return self._entity(ctx, found)

    async def delete(self, ctx: ApiContext) -> Response:
        found = self._find(ctx)
        if isinstance(found, Response):
            return found
        with self._lock:
            self.subscriptions.pop(found.id, None)
            self._pending.pop(found.id, None)
        return Response(status_code=204)

    # -- notifications -------------------------------------------------------------------

    def on_change(self, change: Change) -> None:
        with self._lock:
            subscriptions = list(self.subscriptions.values())
        now = self.store.clock.now()
        hit = False
        for s in subscriptions:
            if s.company_id != change.company_id or s.entity_set != change.entity_set:
                continue
            if s.expires_at <= now:
                continue  # expired subscriptions stop notifying
            with self._lock:
                pending = self._pending.setdefault(s.id, _Pending(now))
                pending.changes.append(change)
            hit = True
        if hit:
            self._pump.kick()

    def flush(self, force: bool = False) -> int:
        """Send every batch whose window has passed (all of them when ``force``)."""
        self.reap()
        now = self.store.clock.now()
        delay = timedelta(seconds=self.options.notification_delay_seconds)
        with self._lock:
            due = [
                (sid, p) for sid, p in self._pending.items() if force or p.first_at + delay <= now
            ]
            for sid, _ in due:
                del self._pending[sid]
        sent = 0
        for sid, pending in due:
            subscription = self.subscriptions.get(sid)
            if subscription is None or subscription.expires_at <= now:
                continue
            body = {"value": self._entries(subscription, pending.changes)}
            self.outbox.enqueue(
                "notification",
                subscription.notification_url,
                json.dumps(body).encode(),
                {},
                {"subscriptionId": sid},
            )
            sent += 1
        return sent

    def _entries(self, subscription: Subscription, changes: list[Change]) -> list[dict[str, Any]]:
        base = f"api/v2.0/companies({subscription.company_id})/{subscription.entity_set}"
        common = {
            "subscriptionId": subscription.id,
            "clientState": subscription.client_state,
            "expirationDateTime": format_datetime(subscription.expires_at),
        }
        if len(changes) > self.options.collection_threshold:
            since = min(c.stamp for c in changes) - timedelta(milliseconds=1)
            query = quote(f"lastModifiedDateTime gt {format_datetime(since)}", safe=":")
            return [
                {
                    **common,
                    "resource": f"{base}?$filter={query}",
                    "changeType": "collection",
                    "lastModifiedDateTime": format_datetime(max(c.stamp for c in changes)),
                }
            ]
        # One entry per record: created then changed stays "created", anything then deleted
        # is "deleted", as the record's final state is what a receiver can fetch.
        per_record: dict[str, Change] = {}
        for change in changes:
            earlier = per_record.get(change.row_id)
            if (
                earlier is not None
                and earlier.change_type == "created"
                and change.change_type == "updated"
            ):
                change = Change(
                    change.company_id, change.entity_set, change.row_id, "created", change.stamp
                )
            per_record[change.row_id] = change
        return [
            {
                **common,
                "resource": f"{base}({c.row_id})",
                "changeType": c.change_type,
                "lastModifiedDateTime": format_datetime(c.stamp),
            }
            for c in per_record.values()
        ]

    async def _flush_due(self) -> None:
        self.flush()

    # -- routes --------------------------------------------------------------------------

    def api_routes(self, prefix: str, wrap: Any) -> list[BaseRoute]:
        """Environment-level routes under one ``.../api/v2.0`` root; ``wrap`` authenticates."""
        handlers: list[tuple[str, Handler, str]] = [
            (f"{prefix}/subscriptions", self.list_all, "GET"),
            (f"{prefix}/subscriptions", self.create, "POST"),
            (f"{prefix}/subscriptions('{{subscription_id}}')", self.get, "GET"),
            (f"{prefix}/subscriptions('{{subscription_id}}')", self.renew, "PATCH"),
            (f"{prefix}/subscriptions('{{subscription_id}}')", self.delete, "DELETE"),
        ]
        return [Route(path, wrap(h), methods=[method]) for path, h, method in handlers]

    def inspection_routes(self) -> list[BaseRoute]:
        async def listing(request: Request) -> Response:
            self.reap()
            with self._lock:
                rows = [
                    {
                        **s.render(),
                        "pendingChanges": len(
                            self._pending.get(s.id, _Pending(s.created_at)).changes
                        ),
                    }
                    for s in self.subscriptions.values()
                ]
            return JSONResponse({"subscriptions": rows})

        async def expire(request: Request) -> Response:
            subscription = self.subscriptions.get(request.path_params["id"])
            if subscription is None:
                return JSONResponse({"error": "No such subscription."}, 404)
            try:
                body = await read_json(request) or {}
                text = body.get("expirationDateTime")
                at = (
                    datetime.fromisoformat(text.replace("Z", "+00:00"))
                    if text
                    else self.store.clock.now()
                )
            except (BadJson, AttributeError, ValueError):
                return JSONResponse(
                    {"error": 'Body: {"expirationDateTime": "<iso>"} or none.'}, 400
                )
            subscription.expires_at = at
            return JSONResponse(subscription.render())

        async def remove(request: Request) -> Response:
            with self._lock:
                gone = self.subscriptions.pop(request.path_params["id"], None)
            return Response(status_code=204 if gone else 404)

        async def flush(request: Request) -> Response:
            return JSONResponse({"sent": self.flush(force=True)})

        return [
            Route(_PREFIX, listing, methods=["GET"]),
            Route(f"{_PREFIX}/flush", flush, methods=["POST"]),
            *delivery_routes(self.outbox, f"{_PREFIX}/deliveries"),
            Route(f"{_PREFIX}/{{id}}/expire", expire, methods=["POST"]),
            Route(f"{_PREFIX}/{{id}}", remove, methods=["DELETE"]),
        ]
