"""Business Central webhook subscriptions: handshake, expiry, renewal, batched notifications.

The receiver below behaves like a subscriber written from dynamics-subscriptions.md: it echoes
``validationToken`` as plain text and records notification POSTs, answering scripted statuses.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from simulators.business_central import BusinessCentralOptions, create_app
from simulators.business_central.store import BusinessCentralStore
from simulators.server import serve_in_thread
from tests.simulators.support import (
    BC_ROOT,
    BC_TOKEN_FORM,
    BC_TOKEN_PATH,
    bc_headers,
    client_for,
)

HOOK_URL = "http://receiver.test/hooks/bc"


class Subscriber:
    """Echoes validation tokens (unless told not to) and records notifications."""

    def __init__(self, *statuses: int, echo: bool = True) -> None:
        self.echo = echo
        self.script = list(statuses)
        self.validations: list[str] = []
        self.notifications: list[Any] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/hooks/bc", self.handle, methods=["GET", "POST"])])

    async def handle(self, request: Request) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:
            self.validations.append(request.method)
            return PlainTextResponse(token if self.echo else "nope")
        body = await request.json()
        with self._lock:
            self.notifications.append(body)
            status = self.script.pop(0) if self.script else 202
        return Response(status_code=status)


def make_app(subscriber: Subscriber, **overrides: Any) -> Any:
    options = BusinessCentralOptions(
        vendor_count=6,
        delivery_transport=httpx.ASGITransport(app=subscriber.app),
        **{"notification_delay_seconds": 0.0, **overrides},
    )
    return create_app(options)


def company_id(app: Any) -> str:
    store: BusinessCentralStore = app.state.sim
    return store.default_company_id()


def resource(app: Any, entity_set: str = "vendors") -> str:
    return f"/api/v2.0/companies({company_id(app)})/{entity_set}"


async def subscribe(
    client: httpx.AsyncClient, app: Any, h: dict[str, str], entity_set: str = "vendors"
) -> httpx.Response:
    return await client.post(
        f"{BC_ROOT}/subscriptions",
        headers=h,
        json={
            "notificationUrl": HOOK_URL,
            "resource": resource(app, entity_set),
            "clientState": "secret-state",
        },
    )


async def until(condition: Any, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def first_vendor(client: httpx.AsyncClient, app: Any, h: dict[str, str]) -> Any:
    url = f"{BC_ROOT}/companies({company_id(app)})/vendors"
    # A seeded vendor by number: a vendor a test created may sort first by its random id.
    params = {"$filter": "number eq 'V00010'"}
    return (await client.get(url, headers=h, params=params)).json()["value"][0]


async def rename(client: httpx.AsyncClient, app: Any, h: dict[str, str], name: str) -> Any:
    vendor = await first_vendor(client, app, h)
    url = f"{BC_ROOT}/companies({company_id(app)})/vendors({vendor['id']})"
    response = await client.patch(url, headers={**h, "If-Match": "*"}, json={"displayName": name})
    assert response.status_code == 200
    return response.json()


async def test_create_after_handshake_then_get_and_list() -> None:
    subscriber = Subscriber()
    app = make_app(subscriber)
    async with client_for(app) as client:
        h = await bc_headers(client)
        now = datetime.fromisoformat((await client.get("/_sim/clock")).json()["now"])
        created = await subscribe(client, app, h)
        sub_id = created.json()["subscriptionId"]
        one = await client.get(f"{BC_ROOT}/subscriptions('{sub_id}')", headers=h)
        listed = await client.get(f"{BC_ROOT}/subscriptions", headers=h)
    assert created.status_code == 201, created.text
    body = created.json()
    assert subscriber.validations == ["POST"]
    assert body["@odata.etag"].startswith('W/"')
    assert body["clientState"] == "secret-state"
    assert body["resource"] == resource(app)
    expires = datetime.fromisoformat(body["expirationDateTime"].replace("Z", "+00:00"))
    assert abs(expires - (now + timedelta(days=3))) < timedelta(seconds=5)
    assert one.json()["subscriptionId"] == sub_id
    assert [s["subscriptionId"] for s in listed.json()["value"]] == [sub_id]


async def test_refusals_handshake_ineligible_resource_and_limit() -> None:
    silent = Subscriber(echo=False)
    app = make_app(silent, max_subscriptions=1)
    async with client_for(app) as client:
        h = await bc_headers(client)
        no_echo = await subscribe(client, app, h)
        silent.echo = True
        orders = await subscribe(client, app, h, "purchaseOrders")
        unknown = await subscribe(client, app, h, "nonsense")
        first = await subscribe(client, app, h, "customers")
        over = await subscribe(client, app, h, "items")
        listed = await client.get(f"{BC_ROOT}/subscriptions", headers=h)
    for refused in (no_echo, orders, unknown, over):
        assert refused.status_code == 400
        assert "CorrelationId" in refused.json()["error"]["message"]
    assert "purchaseOrders" in orders.json()["error"]["message"]
    assert first.status_code == 201
    assert len(listed.json()["value"]) == 1


async def test_api_change_is_notified_without_record_data() -> None:
    subscriber = Subscriber()
    app = make_app(subscriber)
    async with client_for(app) as client:
        h = await bc_headers(client)
        sub_id = (await subscribe(client, app, h)).json()["subscriptionId"]
        vendor = await rename(client, app, h, "Notified Inc.")
        await until(lambda: subscriber.notifications)
    [notification] = subscriber.notifications
    [entry] = notification["value"]
    assert entry == {
        "subscriptionId": sub_id,
        "clientState": "secret-state",
        "expirationDateTime": entry["expirationDateTime"],
        "resource": f"api/v2.0/companies({company_id(app)})/vendors({vendor['id']})",
        "changeType": "updated",
        "lastModifiedDateTime": vendor["lastModifiedDateTime"],
    }


async def test_changes_in_the_window_are_batched_after_the_delay() -> None:
    subscriber = Subscriber()
    app = make_app(subscriber, notification_delay_seconds=30)
    async with client_for(app) as client:
        h = await bc_headers(client)
        await subscribe(client, app, h)
        url = f"{BC_ROOT}/companies({company_id(app)})/vendors"
        created = (await client.post(url, headers=h, json={"displayName": "New"})).json()
        await client.patch(
            f"{url}({created['id']})", headers={**h, "If-Match": "*"}, json={"city": "Oslo"}
        )
        await rename(client, app, h, "Renamed")
        await client.delete(f"{url}({created['id']})", headers={**h, "If-Match": "*"})
        await asyncio.sleep(0.1)
        assert subscriber.notifications == []  # still inside BC's 30 s window
        await client.post("/_sim/clock", json={"advance_seconds": 30})
        await until(lambda: subscriber.notifications)
    [notification] = subscriber.notifications
    kinds = {e["resource"].rsplit("(", 1)[1][:-1]: e["changeType"] for e in notification["value"]}
    assert kinds[created["id"]] == "deleted"
    assert sorted(kinds.values()) == ["deleted", "updated"]


async def test_more_changes_than_the_threshold_become_one_collection() -> None:
    subscriber = Subscriber()
    app = make_app(subscriber, notification_delay_seconds=10, collection_threshold=2)
    async with client_for(app) as client:
        h = await bc_headers(client)
        await subscribe(client, app, h)
        url = f"{BC_ROOT}/companies({company_id(app)})/vendors"
        for name in ("A", "B", "C"):
            await client.post(url, headers=h, json={"displayName": name})
        await client.post("/_sim/clock", json={"advance_seconds": 10})
        await until(lambda: subscriber.notifications)
        [entry] = subscriber.notifications[0]["value"]
        assert entry["changeType"] == "collection"
        path, _, query = entry["resource"].partition("?")
        delta = await client.get(f"/v2.0/sim-tenant/production/{path}?{query}", headers=h)
    assert path == f"api/v2.0/companies({company_id(app)})/vendors"
    assert query.startswith("$filter=lastModifiedDateTime%20gt%20")
    assert sorted(v["displayName"] for v in delta.json()["value"]) == ["A", "B", "C"]


async def test_line_changes_and_inspection_edits_notify() -> None:
    subscriber = Subscriber()
    app = make_app(subscriber)
    async with client_for(app) as client:
        h = await bc_headers(client)
        await subscribe(client, app, h, "purchaseInvoices")
        base = f"{BC_ROOT}/companies({company_id(app)})"
        drafts = await client.get(
            f"{base}/purchaseInvoices",
            headers=h,
            params={"$filter": "status eq 'Draft'", "$expand": "purchaseInvoiceLines"},
        )
        invoice = drafts.json()["value"][0]
        line = invoice["purchaseInvoiceLines"][0]
        await client.patch(
            f"{base}/purchaseInvoices({invoice['id']})/purchaseInvoiceLines({line['id']})",
            headers={**h, "If-Match": "*"},
            json={"quantity": 42},
        )
        await until(lambda: subscriber.notifications)
        await client.patch(
            f"/_sim/entities/purchaseInvoices/{invoice['id']}", json={"vendorInvoiceNumber": "UI"}
        )
        await until(lambda: len(subscriber.notifications) == 2)
    for notification in subscriber.notifications:
        [entry] = notification["value"]
        assert entry["resource"].endswith(f"/purchaseInvoices({invoice['id']})")
        assert entry["changeType"] == "updated"


async def test_retries_on_503_and_deletes_the_subscription_on_404() -> None:
    subscriber = Subscriber(503, 404)
    app = make_app(subscriber, webhook_retry_initial_seconds=60)
    async with client_for(app) as client:
        h = await bc_headers(client)
        sub_id = (await subscribe(client, app, h)).json()["subscriptionId"]
        await rename(client, app, h, "First")
        await until(lambda: len(subscriber.notifications) == 1)
        await client.post("/_sim/clock", json={"advance_seconds": 60})
        await until(lambda: len(subscriber.notifications) == 2)
        deliveries = (await client.get("/_sim/subscriptions/deliveries")).json()["deliveries"]
        gone = await client.get(f"{BC_ROOT}/subscriptions('{sub_id}')", headers=h)
        await rename(client, app, h, "Second")
        await client.post("/_sim/subscriptions/flush")
    assert [a["status"] for a in deliveries[0]["attempts"]] == [503, 404]
    assert deliveries[0]["state"] == "failed"
    assert gone.status_code == 404
    assert len(subscriber.notifications) == 2  # nothing more after the deletion


async def test_renewal_needs_if_match_and_a_new_handshake() -> None:
    subscriber = Subscriber()
    app = make_app(subscriber)
    async with client_for(app) as client:
        h = await bc_headers(client)
        created = (await subscribe(client, app, h)).json()
        url = f"{BC_ROOT}/subscriptions('{created['subscriptionId']}')"
        await client.post("/_sim/clock", json={"advance_seconds": 86400})
        h = await bc_headers(client)  # the first token expired with the day
        missing = await client.patch(url, headers=h, json={})
        stale = await client.patch(url, headers={**h, "If-Match": 'W/"old"'}, json={})
        renewed = await client.patch(
            url, headers={**h, "If-Match": created["@odata.etag"]}, json={}
        )
        subscriber.echo = False
        refused = await client.patch(url, headers={**h, "If-Match": "*"}, json={})
        deleted = await client.delete(url, headers=h)
        after = await client.get(url, headers=h)
    assert missing.status_code == 400
    assert stale.status_code == 412
    assert renewed.status_code == 200
    assert renewed.json()["expirationDateTime"] > created["expirationDateTime"]
    assert renewed.json()["@odata.etag"] != created["@odata.etag"]
    assert subscriber.validations == ["POST", "POST", "POST"]
    assert refused.status_code == 400
    assert deleted.status_code == 204
    assert after.status_code == 404


async def test_expired_subscriptions_stop_notifying() -> None:
    subscriber = Subscriber()
    app = make_app(subscriber)
    async with client_for(app) as client:
        h = await bc_headers(client)
        sub_id = (await subscribe(client, app, h)).json()["subscriptionId"]
        expired = await client.post(f"/_sim/subscriptions/{sub_id}/expire")
        await rename(client, app, h, "Too late")
        flushed = await client.post("/_sim/subscriptions/flush")
        listing = (await client.get("/_sim/subscriptions")).json()["subscriptions"]
        removed = await client.delete(f"/_sim/subscriptions/{sub_id}")
        gone = await client.get(f"{BC_ROOT}/subscriptions('{sub_id}')", headers=h)
    assert expired.status_code == 200
    assert flushed.json() == {"sent": 0}
    assert subscriber.notifications == []
    assert listing[0]["subscriptionId"] == sub_id
    assert removed.status_code == 204
    assert gone.status_code == 404


def test_handshake_and_notification_over_real_http() -> None:
    subscriber = Subscriber()
    receiver_url, stop_receiver = serve_in_thread(subscriber.app)
    app = create_app(BusinessCentralOptions(vendor_count=3, notification_delay_seconds=0))
    url, stop = serve_in_thread(app)
    try:
        with httpx.Client(base_url=url) as client:
            token = client.post(BC_TOKEN_PATH, data=BC_TOKEN_FORM).json()["access_token"]
            h = {"Authorization": f"Bearer {token}"}
            created = client.post(
                f"{BC_ROOT}/subscriptions",
                headers=h,
                json={"notificationUrl": f"{receiver_url}/hooks/bc", "resource": resource(app)},
            )
            vendors = client.get(f"{BC_ROOT}/companies({company_id(app)})/vendors", headers=h)
            vendor_id = vendors.json()["value"][0]["id"]
            client.patch(
                f"{BC_ROOT}/companies({company_id(app)})/vendors({vendor_id})",
                headers={**h, "If-Match": "*"},
                json={"displayName": "Over HTTP"},
            )
            deadline = time.monotonic() + 5
            while not subscriber.notifications and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        stop()
        stop_receiver()
    assert created.status_code == 201
    [entry] = subscriber.notifications[0]["value"]
    assert entry["resource"].endswith(f"/vendors({vendor_id})")


async def test_a_rolled_back_batch_notifies_nobody() -> None:
    subscriber = Subscriber()
    app = make_app(subscriber)
    async with client_for(app) as client:
        h = await bc_headers(client)
        await subscribe(client, app, h)
        vendors = f"companies({company_id(app)})/vendors"
        existing = (await first_vendor(client, app, h))["number"]

        def batch(*numbers: str) -> dict[str, Any]:
            return {
                "requests": [
                    {"id": str(i), "method": "POST", "url": vendors, "body": {"number": n}}
                    for i, n in enumerate(numbers)
                ]
            }

        atomic = {**h, "Isolation": "snapshot"}
        failed = await client.post(f"{BC_ROOT}/$batch", headers=atomic, json=batch("N1", existing))
        await client.post("/_sim/subscriptions/flush")
        await asyncio.sleep(0.05)
        assert subscriber.notifications == []
        done = await client.post(f"{BC_ROOT}/$batch", headers=atomic, json=batch("N2", "N3"))
        await until(lambda: subscriber.notifications)
    assert [r["status"] for r in failed.json()["responses"]] == [424, 400]
    assert [r["status"] for r in done.json()["responses"]] == [201, 201]
    entries = subscriber.notifications[0]["value"]
    assert sorted(e["changeType"] for e in entries) == ["created", "created"]
