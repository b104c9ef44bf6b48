"""Business Central client contract against the BC simulator, over real HTTP."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ml_connector.api.batch import BatchOperation
from ml_connector.api.client import RetryPolicy
from ml_connector.api.errors import AlreadyExists, Conflict, FatalError, NotFound, RetryableError
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.secrets import SecretStore
from ml_connector.streams import read
from producers.business_central import STREAMS
from simulators import business_central
from tests.clients.conftest import Serve, ServeHttps
from tests.clients.connections import bc_connection
from tests.clients.simlog import read_under_faults, requests


@pytest.fixture
async def client(serve: Serve, secrets: SecretStore) -> BusinessCentralClient:
    url = serve(business_central.create_app(business_central.BusinessCentralOptions()))
    return BusinessCentralClient(bc_connection(url), secrets)


async def test_create_get_patch_with_etag_and_delete(client: BusinessCentralClient) -> None:
    created = await client.create("vendors", {"number": "MLC-1", "displayName": "Acme"})
    vid = created["id"]
    assert (await client.get("vendors", vid))["displayName"] == "Acme"
    patched = await client.patch("vendors", vid, {"city": "Atlanta"}, etag=created["@odata.etag"])
    assert patched["city"] == "Atlanta"
    with pytest.raises(Conflict):  # the etag read before the patch is stale now
        await client.patch("vendors", vid, {"city": "Macon"}, etag=created["@odata.etag"])
    await client.delete("vendors", vid, etag=patched["@odata.etag"])
    with pytest.raises(NotFound):
        await client.get("vendors", vid)
    await client.aclose()


async def test_find_and_upsert_by_number_are_idempotent(client: BusinessCentralClient) -> None:
    body = {"number": "MLC-2", "displayName": "Beta"}
    assert await client.find("vendors", "number", "MLC-2") is None
    op1, first = await client.upsert("vendors", "number", body)
    op2, second = await client.upsert("vendors", "number", body)
    op3, third = await client.upsert("vendors", "number", {**body, "displayName": "Beta 2"})
    assert (op1, op2, op3) == ("created", "unchanged", "updated")
    assert first["id"] == second["id"] == third["id"]
    assert third["displayName"] == "Beta 2"
    await client.aclose()


async def test_delta_reads_changes_since_a_cursor(client: BusinessCentralClient) -> None:
    since = datetime.now(UTC)
    await client.create("vendors", {"number": "MLC-3", "displayName": "Gamma"})
    changed = [v["number"] async for page in read(client, STREAMS["vendor"], since) for v in page]
    assert changed == ["MLC-3"]
    await client.aclose()


async def test_a_5000_record_read_survives_a_429_storm_and_20_percent_5xx(
    serve: Serve, secrets: SecretStore
) -> None:
    options = business_central.BusinessCentralOptions(vendor_count=5000)
    url = serve(business_central.create_app(options))
    client = BusinessCentralClient(bc_connection(url, page_size=250), secrets)
    await client.company_id()

    async def read() -> list[str]:
        return [v["id"] async for page in client.read("vendors") for v in page]

    ids = await read_under_faults(url, "BC 5,000 vendors", read)
    assert len(ids) == len(set(ids)) == 5000
    statuses = Counter(e["status"] for e in requests(url))
    assert statuses[429] >= 1 and statuses[503] >= 1
    await client.aclose()


async def test_https_with_the_simulator_certificate_as_ca_bundle(
    serve_https: ServeHttps, secrets: SecretStore
) -> None:
    url, cert = serve_https(business_central.create_app())
    trusted = BusinessCentralClient(bc_connection(url, verify=cert), secrets)
    assert len(await trusted.companies()) == 1
    await trusted.aclose()
    untrusted = BusinessCentralClient(bc_connection(url), secrets, retry=RetryPolicy(attempts=1))
    with pytest.raises(RetryableError, match="CERTIFICATE_VERIFY_FAILED"):
        await untrusted.companies()
    await untrusted.aclose()


async def first(client: BusinessCentralClient, entity_set: str) -> dict[str, Any]:
    async for page in client.read(entity_set):
        return page[0]
    raise AssertionError(f"no {entity_set}")


async def test_deep_insert_expand_and_receive_and_invoice(client: BusinessCentralClient) -> None:
    vendor, item = await first(client, "vendors"), await first(client, "items")
    line = {"lineType": "Item", "lineObjectNumber": item["number"], "quantity": 2,
            "directUnitCost": 10}  # fmt: skip
    order = await client.create(
        "purchaseOrders",
        {"vendorNumber": vendor["number"], "purchaseOrderLines": [line, {**line, "quantity": 3}]},
    )
    read = await client.get("purchaseOrders", order["id"], expand="purchaseOrderLines")
    assert [ln["quantity"] for ln in read["purchaseOrderLines"]] == [2, 3]
    expanded = [o async for page in client.read("purchaseOrders", expand="purchaseOrderLines",
                                                filter=f"number eq '{order['number']}'")
                for o in page]  # fmt: skip
    assert len(expanded[0]["purchaseOrderLines"]) == 2
    await client.receive_and_invoice(order["id"])
    await client.aclose()


async def test_posting_a_purchase_invoice_once(client: BusinessCentralClient) -> None:
    vendor, item = await first(client, "vendors"), await first(client, "items")
    invoice = await client.create(
        "purchaseInvoices",
        {"vendorNumber": vendor["number"], "vendorInvoiceNumber": "EXT-1",
         "purchaseInvoiceLines": [{"lineType": "Item", "lineObjectNumber": item["number"],
                                   "quantity": 1, "unitCost": 5}]},
    )  # fmt: skip
    assert invoice["status"] == "Draft"
    assert await client.post_once("purchaseInvoices", invoice["id"]) == "posted"
    assert (await client.get("purchaseInvoices", invoice["id"]))["status"] == "Open"
    assert await client.post_once("purchaseInvoices", invoice["id"]) == "already posted"
    with pytest.raises(FatalError):  # BC itself refuses a second post
        await client.post_document("purchaseInvoices", invoice["id"])
    with pytest.raises(FatalError):
        await client.patch("purchaseInvoices", invoice["id"], {"vendorInvoiceNumber": "EXT-2"})
    await client.aclose()


async def test_batch_splits_into_hundreds_and_sorts_each_result(
    serve: Serve, secrets: SecretStore
) -> None:
    url = serve(business_central.create_app(business_central.BusinessCentralOptions()))
    client = BusinessCentralClient(bc_connection(url), secrets)
    company = await client.company_path()
    ops = [BatchOperation("POST", f"{company}/vendors",
                          {"number": f"B{i:03}", "displayName": f"Batch {i}"})
           for i in range(150)]  # fmt: skip
    results = await client.batch(ops)
    assert len(results) == 150 and all(r.status == 201 for r in results)
    assert [e["path"].endswith("$batch") for e in requests(url)].count(True) == 2
    again = await client.batch(ops[:2])
    with pytest.raises(AlreadyExists):
        again[0].raise_for_status()
    await client.aclose()


async def test_atomic_batch_is_all_or_nothing(client: BusinessCentralClient) -> None:
    company = await client.company_path()
    ops = [
        BatchOperation("POST", f"{company}/vendors", {"number": "AT-1", "displayName": "A"}),
        BatchOperation("POST", f"{company}/vendors", {"number": "AT-2", "nonsense": 1}),
    ]
    results = await client.batch(ops, atomic=True)
    assert not any(r.ok for r in results)
    assert await client.find("vendors", "number", "AT-1") is None
    await client.aclose()


def handshake_receiver() -> tuple[Starlette, list[str]]:
    """A webhook endpoint as the connector's receiver answers BC: echo validationToken."""
    seen: list[str] = []

    async def hook(request: Request) -> Response:
        token = request.query_params.get("validationToken")
        seen.append(request.method if token else "notification")
        return PlainTextResponse(token or "", 200)

    return Starlette(routes=[Route("/hook", hook, methods=["GET", "POST"])]), seen


async def test_subscriptions_create_list_renew_delete(serve: Serve, secrets: SecretStore) -> None:
    receiver, seen = handshake_receiver()
    hook_url = serve(receiver) + "/hook"
    url = serve(business_central.create_app(business_central.BusinessCentralOptions()))
    client = BusinessCentralClient(bc_connection(url), secrets)
    created = await client.create_subscription(hook_url, "vendors", "mlc-state")
    assert created["clientState"] == "mlc-state" and created["subscriptionId"]
    assert [s["subscriptionId"] for s in await client.subscriptions()] == [
        created["subscriptionId"]
    ]
    renewed = await client.renew_subscription(created)
    assert renewed["expirationDateTime"] >= created["expirationDateTime"]
    assert len(seen) == 2  # one handshake to create, one to renew
    await client.delete_subscription(renewed)
    assert await client.subscriptions() == []
    await client.aclose()
