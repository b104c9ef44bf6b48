"""Business Central client contract against the BC simulator, over real HTTP."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from ml_connector.api.client import RetryPolicy
from ml_connector.api.errors import Conflict, NotFound, RetryableError
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.secrets import SecretStore
from simulators import business_central
from tests.clients.conftest import Serve, ServeHttps
from tests.clients.connections import bc_connection
from tests.clients.simlog import requests, set_faults, storm


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
    changed = [v["number"] async for page in client.delta("vendors", since) for v in page]
    assert changed == ["MLC-3"]
    await client.aclose()


async def test_a_5000_record_read_survives_a_429_storm_and_20_percent_5xx(
    serve: Serve, secrets: SecretStore
) -> None:
    options = business_central.BusinessCentralOptions(vendor_count=5000)
    url = serve(business_central.create_app(options))
    client = BusinessCentralClient(bc_connection(url, page_size=250), secrets)
    await client.company_id()
    set_faults(url, error_rate=0.2, error_status=503, drop_rate=0.02, seed=7)
    storm(url, 2)
    ids = [v["id"] async for page in client.read("vendors") for v in page]
    log = requests(url)
    counts = Counter(e["status"] for e in log)
    print(f"\nBC 5,000 vendors under faults: {len(ids)} read, statuses {dict(counts)}")
    assert len(ids) == len(set(ids)) == 5000
    assert counts[429] >= 1 and counts[503] >= 1
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
