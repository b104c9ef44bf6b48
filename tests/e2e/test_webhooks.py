"""Business Central change notifications: subscriptions kept alive, changes arrive by hint."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer

pytestmark = pytest.mark.kafka


def subscriptions(p: Any) -> list[dict[str, Any]]:
    return list(p.bc.get("/_sim/subscriptions").json()["subscriptions"])


def test_changes_arrive_by_webhook_and_subscriptions_stay_alive(
    pipeline_factory: Callable[..., Any],
) -> None:
    # Polling every 10 minutes: within this test only a notification can carry a change.
    p = pipeline_factory(vendors=20, poll_interval=600.0, webhooks=True,
                         bc_options={"notification_delay_seconds": 0.2})  # fmt: skip
    p.wait("the first poll's vendors", lambda: len(p.sn_vendor_counts()) >= 20)
    p.wait("a vendors subscription", lambda: len(subscriptions(p)) == 1)
    [sub] = subscriptions(p)
    assert sub["resource"].endswith("/vendors")

    vendor = p.bc_vendors()[5]
    r = p.bc.patch(f"/_sim/entities/vendors/{vendor['id']}", json={"displayName": "Hooked"})
    assert r.status_code == 200
    p.wait("the notified change in ServiceNow",
           lambda: p.sn_vendors()[vendor["number"]]["name"] == "Hooked", 60)  # fmt: skip
    stages = [r.stage for r in p.audit_trail(vendor["id"])]
    assert "received" in stages  # it came by webhook, not by poll

    # Close to expiry: renewed. Deleted by BC: recreated.
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    p.bc.post(f"/_sim/subscriptions/{sub['subscriptionId']}/expire",
              json={"expirationDateTime": soon})  # fmt: skip
    p.wait("the renewal", lambda: _expires_after(subscriptions(p)[0], days=2))
    assert subscriptions(p)[0]["subscriptionId"] == sub["subscriptionId"]
    assert p.bc.delete(f"/_sim/subscriptions/{sub['subscriptionId']}").status_code == 204
    p.wait("a new subscription", lambda: len(subscriptions(p)) == 1)
    assert subscriptions(p)[0]["subscriptionId"] != sub["subscriptionId"]


def test_the_receiver_checks_what_it_is_sent(pipeline_factory: Callable[..., Any]) -> None:
    p = pipeline_factory(vendors=5, poll_interval=600.0, webhooks=True)
    p.wait("a subscription", lambda: len(subscriptions(p)) == 1)
    hooks = p.settings.webhooks
    url = f"{hooks.public_url}/webhooks/business_central/bc"
    echo = httpx.post(f"{url}?validationToken=abc123")
    assert (echo.status_code, echo.text) == (200, "abc123")
    item = {"subscriptionId": subscriptions(p)[0]["subscriptionId"], "clientState": "guess",
            "resource": "api/v2.0/companies(11111111-1111-1111-1111-111111111111)/vendors",
            "changeType": "updated", "lastModifiedDateTime": "2026-01-01T00:00:00Z"}  # fmt: skip
    forged = httpx.post(url, json={"value": [item]})
    assert forged.status_code == 403 and "clientState" in forged.text
    malformed = httpx.post(url, content=b"{not json")
    assert malformed.status_code == 400 and "not a Business Central notification" in malformed.text
    missing = httpx.post(url, json={"value": [{"changeType": "updated"}]})
    assert missing.status_code == 400 and "subscriptionId" in missing.text


def _expires_after(subscription: dict[str, Any], *, days: int) -> bool:
    expiry = datetime.fromisoformat(subscription["expirationDateTime"].replace("Z", "+00:00"))
    return expiry - datetime.now(UTC) > timedelta(days=days)


def test_a_vendor_deleted_in_business_central_is_retired_in_servicenow(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(vendors=10, poll_interval=600.0, webhooks=True,
                         bc_options={"notification_delay_seconds": 0.2})  # fmt: skip
    p.wait("the vendors", lambda: len(p.sn_vendor_counts()) >= 10)
    p.wait("a vendors subscription", lambda: len(subscriptions(p)) == 1)
    vendor = p.bc_vendors()[2]
    assert p.sn_vendors()[vendor["number"]]["u_active"] == "true"

    r = p.bc.delete(f"/_sim/entities/vendors/{vendor['id']}")
    assert r.status_code in (200, 204), r.text
    p.wait("the vendor retired in ServiceNow",
           lambda: p.sn_vendors()[vendor["number"]]["u_active"] == "false", 60)  # fmt: skip
    assert p.sn_vendor_counts()[vendor["number"].casefold()] == 1  # kept, not duplicated
    assert p.sn_vendors()[vendor["number"]]["name"] == vendor["displayName"]  # not blanked

    # The change topic carries the delete event and then a tombstone for the key.
    c = Consumer({"bootstrap.servers": p.box.bootstrap, "group.id": "t-delete",
                  "auto.offset.reset": "earliest"})  # fmt: skip
    c.subscribe([p.topics.change("bc", "vendor")])
    mine: list[bytes | None] = []
    deadline = time.monotonic() + 30
    while len(mine) < 3 and time.monotonic() < deadline:
        msg = c.poll(1)
        if msg is not None and msg.error() is None and msg.key() == vendor["id"].encode():
            mine.append(msg.value())
    c.close()
    assert mine[-1] is None  # tombstone last
    assert len(mine) >= 3  # first poll's event, the delete event, the tombstone
