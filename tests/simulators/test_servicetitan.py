"""The ServiceTitan simulator honours the documented V2 token, API, export and webhook contracts.

Requests are shaped as ServiceTitan documents them: a form-encoded client-credentials token
request, ``Authorization: Bearer`` plus ``ST-App-Key`` on every call, the tenant id in the
path, ``page``/``pageSize``/``includeTotal`` paging and ``from`` continuation on exports.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from simulators.server import serve_in_thread
from simulators.servicetitan import ServiceTitanOptions, WebhookSubscription, create_app
from simulators.servicetitan.store import ServiceTitanStore
from tests.simulators.receivers import Receiver
from tests.simulators.support import client_for

TENANT = 1234567
TOKEN_FORM = {
    "grant_type": "client_credentials",
    "client_id": "cid.mlc-sim",
    "client_secret": "cs1.mlc-secret",
}
APP_KEY = "ak1.mlc-app-key"
ACC = f"/accounting/v2/tenant/{TENANT}"
HMAC_KEY = "k" * 40
PROBLEM_KEYS = {"type", "title", "status", "traceId", "errors", "data"}


def make_app(**overrides: Any) -> Any:
    return create_app(ServiceTitanOptions(**overrides))


def store_of(app: Any) -> ServiceTitanStore:
    store: ServiceTitanStore = app.state.sim
    return store


async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post("/connect/token", data=TOKEN_FORM)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "ST-App-Key": APP_KEY}


async def read_pages(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], params: dict[str, str]
) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await client.get(url, headers=headers, params={**params, "page": str(page)})
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body["data"]
        if not body["hasMore"]:
            return rows, page
        page += 1


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) == PROBLEM_KEYS and body["status"] == status and body["title"]
    if field is not None:
        assert body["errors"][field] and all(isinstance(m, str) for m in body["errors"][field])


# -- auth -----------------------------------------------------------------------------------


async def test_token_endpoint() -> None:
    async with client_for(make_app()) as client:
        ok = await client.post("/connect/token", data=TOKEN_FORM)
        bad = await client.post("/connect/token", data={**TOKEN_FORM, "client_secret": "x"})
        grant = await client.post("/connect/token", data={**TOKEN_FORM, "grant_type": "password"})
    assert ok.status_code == 200
    assert ok.json()["expires_in"] == 900 and ok.json()["token_type"] == "Bearer"
    assert set(ok.json()) == {"access_token", "expires_in", "token_type"}
    assert bad.status_code == 400 and bad.json() == {"error": "invalid_client"}
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"


async def test_calls_need_bearer_and_app_key_and_the_right_tenant() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth(client)
        ok = await client.get(f"{ACC}/invoices", headers=headers)
        no_key = await client.get(
            f"{ACC}/invoices", headers={"Authorization": headers["Authorization"]}
        )
        wrong_key = await client.get(f"{ACC}/invoices", headers={**headers, "ST-App-Key": "x"})
        no_token = await client.get(f"{ACC}/invoices", headers={"ST-App-Key": APP_KEY})
        other_tenant = await client.get("/accounting/v2/tenant/999/invoices", headers=headers)
        store_of(app).clock.advance(901)
        expired = await client.get(f"{ACC}/invoices", headers=headers)
    assert ok.status_code == 200
    for response in (no_key, wrong_key, no_token, expired):
        assert_problem(response, 401)
    assert "ST-App-Key" in no_key.json()["title"]
    assert_problem(other_tenant, 403)


# -- lists ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"{ACC}/invoices",
        f"{ACC}/payments",
        f"{ACC}/gl-accounts",
        f"/crm/v2/tenant/{TENANT}/customers",
        f"/pricebook/v2/tenant/{TENANT}/services",
        f"/pricebook/v2/tenant/{TENANT}/materials",
        f"/settings/v2/tenant/{TENANT}/business-units",
        f"/inventory/v2/tenant/{TENANT}/purchase-orders",
        f"/inventory/v2/tenant/{TENANT}/bills",
    ],
)
async def test_every_resource_lists_with_the_paging_envelope(path: str) -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        plain = await client.get(path, headers=headers)
        counted = await client.get(path, headers=headers, params={"includeTotal": "true"})
    body = plain.json()
    assert plain.status_code == 200
    assert set(body) == {"page", "pageSize", "hasMore", "totalCount", "data"}
    assert body["page"] == 1 and body["pageSize"] == 50 and body["totalCount"] is None
    assert body["data"] and all(isinstance(r["id"], int) for r in body["data"])
    assert {"createdOn", "modifiedOn"} <= set(body["data"][0])
    assert counted.json()["totalCount"] >= len(body["data"])


async def test_seed_is_deterministic_and_referentially_consistent() -> None:
    first, second = make_app(), make_app()
    async with client_for(first) as a, client_for(second) as b:
        ha, hb = await auth(a), await auth(b)
        invoices = (await a.get(f"{ACC}/invoices", headers=ha, params={"pageSize": "500"})).json()
        again = (await b.get(f"{ACC}/invoices", headers=hb, params={"pageSize": "500"})).json()
        customers = (
            await a.get(
                f"/crm/v2/tenant/{TENANT}/customers", headers=ha, params={"pageSize": "500"}
            )
        ).json()["data"]
        units = (await a.get(f"/settings/v2/tenant/{TENANT}/business-units", headers=ha)).json()
        payments = (await a.get(f"{ACC}/payments", headers=ha, params={"pageSize": "500"})).json()
    assert invoices == again
    by_id = {i["id"]: i for i in invoices["data"]}
    assert {i["customer"]["id"] for i in by_id.values()} <= {c["id"] for c in customers}
    assert {i["businessUnit"]["id"] for i in by_id.values()} <= {u["id"] for u in units["data"]}
    paid: Counter[int] = Counter()
    for payment in payments["data"]:
        for applied in payment["appliedTo"]:
            paid[applied["appliedTo"]] += applied["appliedAmount"]
    for invoice_id, amount in paid.items():
        invoice = by_id[invoice_id]
        assert round(invoice["total"] - amount, 2) == invoice["balance"]


async def test_paging_visits_every_record_once_with_shared_modified_on() -> None:
    app = make_app(records_per_timestamp=5)
    async with client_for(app) as client:
        headers = await auth(client)
        rows, pages = await read_pages(
            client, f"{ACC}/invoices", headers, {"pageSize": "7", "sort": "+modifiedOn"}
        )
    stamps = Counter(r["modifiedOn"] for r in rows)
    assert max(stamps.values()) == 5
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 60 and pages == 9
    assert [r["modifiedOn"] for r in rows] == sorted(r["modifiedOn"] for r in rows)


async def test_delta_filters_are_inclusive_below_and_exclusive_above() -> None:
    app = make_app(records_per_timestamp=3)
    async with client_for(app) as client:
        headers = await auth(client)
        everything, _ = await read_pages(client, f"{ACC}/invoices", headers, {"pageSize": "25"})
        stamps = sorted({r["modifiedOn"] for r in everything})
        cursor = stamps[4]
        since, _ = await read_pages(
            client, f"{ACC}/invoices", headers, {"modifiedOnOrAfter": cursor, "pageSize": "25"}
        )
        before = await client.get(
            f"{ACC}/invoices", headers=headers, params={"modifiedBefore": cursor, "pageSize": "100"}
        )
        created = await client.get(
            f"{ACC}/invoices",
            headers=headers,
            params={"createdOnOrAfter": stamps[-1], "pageSize": "100"},
        )
    assert {r["id"] for r in since} == {r["id"] for r in everything if r["modifiedOn"] >= cursor}
    assert len(since) == 60 - 12
    assert {r["id"] for r in before.json()["data"]} == {
        r["id"] for r in everything if r["modifiedOn"] < cursor
    }
    assert len(created.json()["data"]) == 3


async def test_ids_sort_and_invoice_filters() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        everything = (
            await client.get(f"{ACC}/invoices", headers=headers, params={"pageSize": "100"})
        ).json()["data"]
        some = [r["id"] for r in everything[:5]]
        by_ids = await client.get(
            f"{ACC}/invoices", headers=headers, params={"ids": ",".join(map(str, some))}
        )
        too_many = await client.get(
            f"{ACC}/invoices",
            headers=headers,
            params={"ids": ",".join(str(10_000_001 + i) for i in range(51))},
        )
        descending = await client.get(
            f"{ACC}/invoices", headers=headers, params={"sort": "-Id", "pageSize": "3"}
        )
        unit = everything[0]["businessUnit"]["id"]
        customer = everything[0]["customer"]["id"]
        filtered = await client.get(
            f"{ACC}/invoices",
            headers=headers,
            params={
                "statuses": "Pending,Posted",
                "businessUnitId": str(unit),
                "customerId": str(customer),
                "pageSize": "100",
            },
        )
    assert [r["id"] for r in by_ids.json()["data"]] == some
    assert_problem(too_many, 400, "ids")
    assert [r["id"] for r in descending.json()["data"]] == [10_000_060, 10_000_059, 10_000_058]
    expected = [
        r["id"]
        for r in everything
        if r["syncStatus"] in ("Pending", "Posted")
        and r["businessUnit"]["id"] == unit
        and r["customer"]["id"] == customer
    ]
    assert [r["id"] for r in filtered.json()["data"]] == expected and expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"pageSize": "0"}, "pageSize"),
        ({"pageSize": "5001"}, "pageSize"),
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"sort": "+total"}, "sort"),
        ({"modifiedOnOrAfter": "yesterday"}, "modifiedOnOrAfter"),
        ({"statuses": "Paid"}, "statuses"),
        ({"ids": "1,x"}, "ids"),
    ],
)
async def test_bad_parameters_are_400_problems(params: dict[str, str], field: str) -> None:
    async with client_for(make_app()) as client:
        response = await client.get(f"{ACC}/invoices", headers=await auth(client), params=params)
    assert_problem(response, 400, field)


async def test_page_size_bounds_are_accepted() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        one = await client.get(f"{ACC}/invoices", headers=headers, params={"pageSize": "1"})
        most = await client.get(f"{ACC}/invoices", headers=headers, params={"pageSize": "5000"})
    assert len(one.json()["data"]) == 1 and one.json()["hasMore"] is True
    assert len(most.json()["data"]) == 60 and most.json()["hasMore"] is False


# -- export feeds ---------------------------------------------------------------------------


async def test_export_feed_continues_and_brings_changed_records_again() -> None:
    app = make_app(export_page_size=25)
    async with client_for(app) as client:
        headers = await auth(client)
        seen: list[int] = []
        token = None
        calls = 0
        while True:
            params = {"from": token} if token else {}
            body = (
                await client.get(f"{ACC}/export/invoices", headers=headers, params=params)
            ).json()
            assert set(body) == {"hasMore", "continueFrom", "data"}
            seen += [r["id"] for r in body["data"]]
            token = body["continueFrom"]
            calls += 1
            if not body["hasMore"]:
                break
        quiet = (
            await client.get(f"{ACC}/export/invoices", headers=headers, params={"from": token})
        ).json()
        await client.patch(f"{ACC}/invoices/{seen[3]}", headers=headers, json={"summary": "edited"})
        after = (
            await client.get(f"{ACC}/export/invoices", headers=headers, params={"from": token})
        ).json()
        bad = await client.get(f"{ACC}/export/invoices", headers=headers, params={"from": "nope"})
        payments = (await client.get(f"{ACC}/export/payments", headers=headers)).json()
        customers = (
            await client.get(f"/crm/v2/tenant/{TENANT}/export/customers", headers=headers)
        ).json()
    assert len(seen) == len(set(seen)) == 60 and calls == 3
    assert quiet["data"] == [] and quiet["continueFrom"] == token and not quiet["hasMore"]
    assert [(r["id"], r["summary"]) for r in after["data"]] == [(seen[3], "edited")]
    assert after["continueFrom"] != token
    assert_problem(bad, 400, "from")
    assert len(payments["data"]) == 20 and not payments["hasMore"]
    assert len(customers["data"]) == 25 and customers["hasMore"]


# -- writes ---------------------------------------------------------------------------------


async def test_patch_invoice() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth(client)
        before = (
            await client.get(f"{ACC}/invoices", headers=headers, params={"ids": "10000002"})
        ).json()["data"][0]
        store_of(app).clock.advance(5)
        patched = await client.patch(
            f"{ACC}/invoices/10000002",
            headers=headers,
            json={"summary": "Posted to BC", "dueDate": "2024-03-01T00:00:00Z"},
        )
        unknown = await client.patch(f"{ACC}/invoices/10000002", headers=headers, json={"total": 1})
        missing = await client.patch(f"{ACC}/invoices/1", headers=headers, json={"summary": "x"})
        no_get = await client.get(f"{ACC}/invoices/10000002", headers=headers)
    assert patched.status_code == 200
    assert patched.json()["summary"] == "Posted to BC"
    assert patched.json()["dueDate"] == "2024-03-01T00:00:00.000Z"
    assert patched.json()["modifiedOn"] > before["modifiedOn"]
    assert patched.json()["createdOn"] == before["createdOn"]
    assert_problem(unknown, 400, "total")
    assert_problem(missing, 404)
    assert_problem(no_get, 405)


async def test_create_payment_applies_to_invoices() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        invoice = (
            await client.get(f"{ACC}/invoices", headers=headers, params={"ids": "10000005"})
        ).json()["data"][0]
        created = await client.post(
            f"{ACC}/payments",
            headers=headers,
            json={
                "typeId": 2,
                "memo": "From BC",
                "paidOn": "2024-02-01T10:00:00Z",
                "checkNumber": "1234",
                "splits": [{"invoiceId": 10000005, "amount": 10.5}],
            },
        )
        after = (
            await client.get(f"{ACC}/invoices", headers=headers, params={"ids": "10000005"})
        ).json()["data"][0]
        bad = await client.post(
            f"{ACC}/payments",
            headers=headers,
            json={"typeId": 99, "splits": [{"invoiceId": 1, "amount": -1}]},
        )
        listed = (
            await client.get(f"{ACC}/payments", headers=headers, params={"includeTotal": "true"})
        ).json()
    body = created.json()
    assert created.status_code == 200
    assert body["type"] == "Check" and body["total"] == 10.5 and body["referenceNumber"] == "1234"
    assert body["appliedTo"][0]["appliedTo"] == 10000005
    assert body["customer"] == invoice["customer"]
    assert after["balance"] == round(invoice["balance"] - 10.5, 2)
    assert_problem(bad, 400, "typeId")
    assert set(bad.json()["errors"]) == {"typeId", "splits[0].invoiceId"}
    assert listed["totalCount"] == 21


@pytest.mark.parametrize("resource", ["services", "materials"])
async def test_pricebook_create_patch_and_unique_code(resource: str) -> None:
    url = f"/pricebook/v2/tenant/{TENANT}/{resource}"
    async with client_for(make_app()) as client:
        headers = await auth(client)
        created = await client.post(
            url,
            headers=headers,
            json={"code": "BC-ITEM-1", "displayName": "From BC", "price": 12.5},
        )
        duplicate = await client.post(
            url, headers=headers, json={"code": "BC-ITEM-1", "displayName": "Again"}
        )
        missing = await client.post(url, headers=headers, json={"displayName": "No code"})
        item_id = created.json()["id"]
        patched = await client.patch(f"{url}/{item_id}", headers=headers, json={"price": 15})
        fetched = await client.get(f"{url}/{item_id}", headers=headers)
        clash = await client.patch(
            f"{url}/{item_id}",
            headers=headers,
            json={"code": "SVC-001" if resource == "services" else "MAT-001"},
        )
        wrong_type = await client.patch(
            f"{url}/{item_id}", headers=headers, json={"price": "cheap"}
        )
    assert created.status_code == 200 and created.json()["active"] is True
    assert_problem(duplicate, 400, "code")
    assert_problem(missing, 400, "code")
    assert patched.status_code == 200 and fetched.json()["price"] == 15
    assert_problem(clash, 400, "code")
    assert_problem(wrong_type, 400, "price")


async def test_bills_are_read_only_and_appear_when_a_po_is_received() -> None:
    app = make_app()
    inventory = f"/inventory/v2/tenant/{TENANT}"
    async with client_for(app) as client:
        headers = await auth(client)
        bills_before = (await client.get(f"{inventory}/bills", headers=headers)).json()["data"]
        orders = (await client.get(f"{inventory}/purchase-orders", headers=headers)).json()["data"]
        sent = next(o for o in orders if o["status"] == "Sent")
        writes = [
            await client.post(f"{inventory}/bills", headers=headers, json={}),
            await client.patch(
                f"{inventory}/bills/{bills_before[0]['id']}", headers=headers, json={}
            ),
            await client.post(f"{inventory}/purchase-orders", headers=headers, json={}),
        ]
        received = await client.post(f"/_sim/purchase-orders/{sent['id']}/receive")
        twice = await client.post(f"/_sim/purchase-orders/{sent['id']}/receive")
        bills_after = (await client.get(f"{inventory}/bills", headers=headers)).json()["data"]
        order = await client.get(f"{inventory}/purchase-orders/{sent['id']}", headers=headers)
    for response in writes:
        assert_problem(response, 405)
    assert received.status_code == 201 and twice.status_code == 409
    new = [b for b in bills_after if b["id"] not in {x["id"] for x in bills_before}]
    assert [b["purchaseOrderId"] for b in new] == [sent["id"]]
    assert new[0]["billAmount"] == sent["total"]
    assert order.json()["status"] == "Received"


# -- webhooks -------------------------------------------------------------------------------


def hook_app(receiver: Receiver, **overrides: Any) -> Any:
    subscription = WebhookSubscription(
        url="https://receiver.test/st/hooks",
        events=("invoice.created", "invoice.updated", "payment.created"),
        hmac_key=HMAC_KEY,
    )
    return make_app(
        webhook_subscriptions=(subscription,),
        auto_dispatch=False,
        delivery_transport=receiver.transport(),
        **overrides,
    )


def expected_signature(body: bytes, encoding: str = "base64") -> str:
    digest = hmac.new(HMAC_KEY.encode(), body, hashlib.sha256).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


async def test_webhooks_are_signed_hmac_sha256_base64_over_the_raw_body() -> None:
    receiver = Receiver()
    app = hook_app(receiver)
    async with client_for(app) as client:
        headers = await auth(client)
        await client.patch(f"{ACC}/invoices/10000003", headers=headers, json={"summary": "x"})
        await client.post(
            f"{ACC}/payments",
            headers=headers,
            json={"typeId": 1, "splits": [{"invoiceId": 10000004, "amount": 5}]},
        )
        await client.post(  # customers are not subscribed: nothing is sent
            f"/pricebook/v2/tenant/{TENANT}/services",
            headers=headers,
            json={"code": "X-1", "displayName": "X"},
        )
        sent = (await client.post("/_sim/deliveries/dispatch")).json()["sent"]
    assert sent == 3
    events = Counter(call.json()["eventType"] for call in receiver.calls)
    assert events == {"invoice.updated": 2, "payment.created": 1}
    for call in receiver.calls:
        assert call.headers["x-servicetitan-signature"] == expected_signature(call.body)
        body = call.json()
        assert body["tenantId"] == TENANT and body["data"]["id"] and body["eventId"]
    updated = next(c.json() for c in receiver.calls if c.json()["data"]["id"] == 10000003)
    assert updated["data"]["summary"] == "x"


async def test_webhook_signature_header_and_hex_are_configurable() -> None:
    receiver = Receiver()
    app = hook_app(receiver, signature_header="X-Signature", signature_encoding="hex")
    async with client_for(app) as client:
        await client.patch("/_sim/entities/invoices/10000001", json={"summary": "from the UI"})
        await client.post("/_sim/deliveries/dispatch")
    call = receiver.calls[0]
    assert call.headers["x-signature"] == expected_signature(call.body, "hex")
    assert "x-servicetitan-signature" not in call.headers


async def test_webhook_retries_10_30_60_300_then_only_manual_replay() -> None:
    receiver = Receiver(500, 500, 500, 500, 500)
    app = hook_app(receiver, retry_scale=0.1)
    store = store_of(app)
    async with client_for(app) as client:
        await client.patch("/_sim/entities/invoices/10000001", json={"summary": "retry me"})
        sent = [(await client.post("/_sim/deliveries/dispatch")).json()["sent"]]
        for delay in (1, 3, 6, 30, 600):
            store.clock.advance(delay - 0.01)
            sent.append((await client.post("/_sim/deliveries/dispatch")).json()["sent"])
            store.clock.advance(0.01)
            sent.append((await client.post("/_sim/deliveries/dispatch")).json()["sent"])
        delivery = (await client.get("/_sim/deliveries")).json()["deliveries"][0]
        replay = await client.post(f"/_sim/deliveries/{delivery['id']}/replay")
        await client.post("/_sim/deliveries/dispatch")
        final = (await client.get(f"/_sim/deliveries/{delivery['id']}")).json()
    assert sent == [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0]
    assert delivery["state"] == "failed" and len(delivery["attempts"]) == 5
    assert [a["status"] for a in delivery["attempts"]] == [500] * 5
    assert replay.status_code == 202
    assert final["state"] == "delivered" and final["attempts"][-1]["status"] == 200
    assert len({c.body for c in receiver.calls}) == 1  # every attempt sends the same bytes


async def test_webhook_subscriptions_validate_the_hmac_key() -> None:
    with pytest.raises(ValueError, match="32 to 64"):
        WebhookSubscription(url="https://r.test", hmac_key="short")
    async with client_for(make_app()) as client:
        short = await client.post(
            "/_sim/webhooks", json={"url": "https://r.test", "hmac_key": "short"}
        )
        unknown = await client.post(
            "/_sim/webhooks", json={"url": "https://r.test", "events": ["nope.created"]}
        )
        ok = await client.post(
            "/_sim/webhooks",
            json={"url": "https://r.test", "events": ["customer.updated"], "hmac_key": "k" * 64},
        )
        listing = (await client.get("/_sim/webhooks")).json()
    assert short.status_code == 400 and unknown.status_code == 400 and ok.status_code == 201
    assert listing["subscriptions"][0]["events"] == ["customer.updated"]
    assert "invoice.created" in listing["events"]


# -- limits and faults ----------------------------------------------------------------------


async def test_rate_limit_per_app_key_and_tenant_answers_429_with_retry_after() -> None:
    app = make_app(rate_limit_requests=5, rate_limit_window_seconds=60)
    async with client_for(app) as client:
        headers = await auth(client)
        responses = [await client.get(f"{ACC}/gl-accounts", headers=headers) for _ in range(6)]
        store_of(app).clock.advance(61)
        later = await client.get(f"{ACC}/gl-accounts", headers=headers)
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    assert_problem(responses[-1], 429)
    assert int(responses[-1].headers["Retry-After"]) >= 1
    assert later.status_code == 200


async def test_dropped_connections_and_5xx_faults() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth(client)
        await client.put("/_sim/faults", json={"error_rate": 1.0, "error_status": 502})
        failing = await client.get(f"{ACC}/gl-accounts", headers=headers)
        await client.put("/_sim/faults", json={"error_rate": 0.0, "drop_rate": 1.0})
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(f"{ACC}/gl-accounts", headers=headers)
    assert_problem(failing, 502)


# -- over real HTTP -------------------------------------------------------------------------


def test_serves_over_real_http_with_signed_webhooks_to_a_real_receiver() -> None:
    receiver = Receiver(503)
    receiver_url, stop_receiver = serve_in_thread(receiver.app)
    subscription = WebhookSubscription(f"{receiver_url}/hooks", ("invoice.updated",), HMAC_KEY)
    app = make_app(webhook_subscriptions=(subscription,), retry_scale=0.01)
    base_url, stop = serve_in_thread(app)
    try:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            access = client.post("/connect/token", data=TOKEN_FORM).json()["access_token"]
            headers = {"Authorization": f"Bearer {access}", "ST-App-Key": APP_KEY}
            ids: list[int] = []
            page = 1
            while True:
                body = client.get(
                    f"{ACC}/invoices", headers=headers, params={"page": page, "pageSize": 16}
                ).json()
                ids += [r["id"] for r in body["data"]]
                if not body["hasMore"]:
                    break
                page += 1
            client.patch(f"{ACC}/invoices/{ids[0]}", headers=headers, json={"summary": "live"})
            deadline = time.monotonic() + 10
            while len(receiver.calls) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        stop()
        stop_receiver()
    assert len(ids) == len(set(ids)) == 60
    assert len(receiver.calls) == 2
    for call in receiver.calls:
        assert call.headers["x-servicetitan-signature"] == expected_signature(call.body)
        assert call.json()["data"]["summary"] == "live"


# -- inspection and the request log --------------------------------------------------------


async def test_inspection_creates_and_deletes_as_a_user_and_calls_are_counted() -> None:
    receiver = Receiver()
    subscription = WebhookSubscription(
        "https://receiver.test/h", ("customer.created", "customer.deleted")
    )
    app = make_app(
        webhook_subscriptions=(subscription,),
        auto_dispatch=False,
        delivery_transport=receiver.transport(),
    )
    customers = f"/crm/v2/tenant/{TENANT}/customers"
    async with client_for(app) as client:
        headers = await auth(client)
        created = await client.post(
            "/_sim/entities/customers", json={"name": "New Customer", "type": "Commercial"}
        )
        new_id = created.json()["id"]
        listed = await client.get(customers, headers=headers, params={"ids": str(new_id)})
        deleted = await client.delete(f"/_sim/entities/customers/{new_id}")
        gone = await client.get(f"{customers}/{new_id}", headers=headers)
        await client.post("/_sim/deliveries/dispatch")
        calls = (await client.get("/_sim/calls")).json()["calls"]
    assert created.status_code == 201 and new_id == 5_000_041
    assert created.json()["createdOn"] == created.json()["modifiedOn"]
    assert [r["name"] for r in listed.json()["data"]] == ["New Customer"]
    assert deleted.status_code == 204
    assert_problem(gone, 404)
    assert [c.json()["eventType"] for c in receiver.calls] == [
        "customer.created",
        "customer.deleted",
    ]
    counted = {(c["method"], c["route"]): c["count"] for c in calls}
    assert counted[("GET", "/crm/v2/tenant/{tenant}/customers")] == 1
    assert counted[("GET", "/crm/v2/tenant/{tenant}/customers/{id}")] == 1
    assert counted[("POST", "/connect/token")] == 1
