"""NAV / BC on-premises client: API v2.0 on the server URL shape, and legacy OData V4 pages."""

from __future__ import annotations

import pytest

from ml_connector.api.errors import Conflict, FatalError, NotFound
from ml_connector.clients.nav import NavClient
from ml_connector.secrets import SecretStore
from simulators import nav
from tests.clients.conftest import Serve
from tests.clients.connections import nav_connection
from tests.clients.simlog import requests


@pytest.fixture
def url(serve: Serve) -> str:
    return serve(nav.create_app(nav.NavOptions(vendor_count=120)))


async def test_api_v2_under_the_server_instance_with_access_key(
    url: str, secrets: SecretStore
) -> None:
    client = NavClient(nav_connection(url), secrets)
    vendors = [v async for page in client.read("vendors") for v in page]
    assert len(vendors) == 120
    created = await client.create("vendors", {"number": "NAV-1", "displayName": "On prem"})
    await client.patch("vendors", created["id"], {"city": "Oslo"}, etag=created["@odata.etag"])
    with pytest.raises(Conflict):
        await client.patch("vendors", created["id"], {"city": "X"}, etag=created["@odata.etag"])
    assert all(e["path"].startswith("/BC/api/v2.0/") for e in requests(url))
    await client.aclose()


async def test_wrong_access_key_is_fatal(url: str, secrets: SecretStore) -> None:
    client = NavClient(nav_connection(url, key="wrong"), secrets)
    with pytest.raises(FatalError) as info:
        await client.companies()
    assert info.value.status == 401 and "not-the-secret" not in str(info.value)
    await client.aclose()


async def test_legacy_pages_read_and_write_with_page_field_names(
    url: str, secrets: SecretStore
) -> None:
    client = NavClient(nav_connection(url), secrets)
    rows = [r async for page in client.page_read("VendorList") for r in page]
    assert len(rows) == 120 and {"No", "Name"} <= set(rows[0])
    created = await client.page_create("Vendor_Card", {"No": "NAV-2", "Name": "Legacy"})
    assert created["No"] == "NAV-2"
    changed = await client.page_patch("Vendor_Card", {"No": "NAV-2"}, {"City": "Bergen"})
    assert changed["City"] == "Bergen"
    # The same row through API v2.0: one store behind both surfaces, as on a real server.
    assert (await client.find("vendors", "number", "NAV-2"))["city"] == "Bergen"  # type: ignore[index]
    found = [r async for page in client.page_read("VendorList", filter="No eq 'NAV-2'")
             for r in page]  # fmt: skip
    assert [r["Name"] for r in found] == ["Legacy"]
    await client.page_delete("Vendor_Card", {"No": "NAV-2"})
    with pytest.raises(NotFound):
        await client.page_get("Vendor_Card", {"No": "NAV-2"})
    await client.aclose()
