"""ServiceTitan V2 webhooks: per-app subscriptions, HMAC-SHA256 signatures, timed retries.

An app subscribes a callback URL to events such as ``invoice.created``, ``invoice.updated``
or ``payment.created`` (``{resource}.{created|updated|deleted}``), optionally with an HMAC key
of 32 to 64 characters. Each delivery carries the HMAC-SHA256 of the raw body in
``x-servicetitan-signature`` (header name and hex/base64 configurable: UNCONFIRMED in
apis.md, base64 by default). A receiver must answer 2xx; otherwise ServiceTitan retries after
10, 30, 60 and 300 seconds, and after that only a manual replay sends it again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from starlette.routing import Route

from simulators.base import INSPECTION_PREFIX
from simulators.deliveries import Outbox, subscription_routes
from simulators.records import Change
from simulators.servicetitan.entities import ResourceDef
from simulators.servicetitan.options import WebhookSubscription
from simulators.servicetitan.store import render

EVENT_KINDS = ("created", "updated", "deleted")


def sign(key: str, body: bytes, encoding: str) -> str:
    digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


class Webhooks:
    def __init__(
        self,
        outbox: Outbox,
        subscriptions: list[WebhookSubscription],
        resources: Mapping[str, ResourceDef],
        tenant_id: int,
        signature_header: str,
        signature_encoding: str,
    ) -> None:
        if signature_encoding not in ("base64", "hex"):
            raise ValueError("signature_encoding must be 'base64' or 'hex'")
        self.outbox = outbox
        self.subscriptions = subscriptions
        self.resources = resources
        self.tenant_id = tenant_id
        self.signature_header = signature_header
        self.signature_encoding = signature_encoding

    def event_names(self) -> list[str]:
        return [f"{r.event}.{kind}" for r in self.resources.values() for kind in EVENT_KINDS]

    def on_change(self, change: Change) -> None:
        resource = self.resources.get(change.table)
        record = change.after if change.after is not None else change.before
        if resource is None or record is None:
            return
        event = f"{resource.event}.{change.kind}"
        targets = [s for s in self.subscriptions if event in s.events]
        if not targets:
            return
        body = json.dumps(
            {
                "eventId": str(uuid.uuid4()),
                "eventType": event,
                "tenantId": self.tenant_id,
                "createdOn": render(change.at),
                "data": render(record),
            }
        ).encode()
        for subscription in targets:
            headers = {}
            if subscription.hmac_key:
                signature = sign(subscription.hmac_key, body, self.signature_encoding)
                headers[self.signature_header] = signature
            self.outbox.enqueue(event, subscription.url, body, headers, {"record_id": record["id"]})


def webhook_routes(webhooks: Webhooks) -> list[Route]:
    """The app's webhook settings: list, subscribe (with validation), remove all."""

    def parse(body: dict[str, Any]) -> WebhookSubscription:
        if not isinstance(body.get("url"), str):
            raise ValueError('The body must be {"url": ..., "events": [...], "hmac_key": ...}')
        events = tuple(body.get("events") or WebhookSubscription.events)
        unknown = [e for e in events if e not in webhooks.event_names()]
        if unknown:
            raise ValueError(f"Unknown events: {unknown}")
        return WebhookSubscription(body["url"], events, body.get("hmac_key"))

    def settings() -> dict[str, Any]:
        return {
            "events": webhooks.event_names(),
            "signature_header": webhooks.signature_header,
            "signature_encoding": webhooks.signature_encoding,
        }

    path = f"{INSPECTION_PREFIX}/webhooks"
    return subscription_routes(path, webhooks.subscriptions, parse, asdict, settings)
