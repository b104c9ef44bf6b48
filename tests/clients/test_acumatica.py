"""Acumatica client contract: pinned versions, wrapped values, PUT upserts, actions, auth."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest

from ml_connector.api.auth import AcumaticaOAuth
from ml_connector.api.errors import Conflict, FatalError, InvalidFields
from ml_connector.api.session_auth import CookieSessionAuth
from ml_connector.clients.acumatica import AcumaticaClient, EndpointVersionNotFound
from ml_connector.secrets import SecretStore
from ml_connector.streams import read
from producers.acumatica import STREAMS
from simulators import acumatica
from tests.clients.conftest import Serve
from tests.clients.connections import acumatica_connection
from tests.clients.simlog import read_under_faults, requests


@pytest.fixture
def url(serve: Serve) -> str:
    return serve(acumatica.create_app(acumatica.AcumaticaOptions(action_seconds=1)))


async def test_unserved_version_is_named_on_404(url: str, secrets: SecretStore) -> None:
    client = AcumaticaClient(acumatica_connection(url, version="99.999.001"), secrets)
    with pytest.raises(EndpointVersionNotFound) as info:
        await client.get("Vendor", "V000001")
    assert "Default/99.999.001" in str(info.value) and "Default/24.200.001" in str(info.value)
    with pytest.raises(EndpointVersionNotFound):
        [page async for page in client.read("Vendor")]
    await client.aclose()


async def test_put_upserts_on_key_fields_with_plain_values(url: str, secrets: SecretStore) -> None:
    client = AcumaticaClient(acumatica_connection(url), secrets)
    created = await client.put("Vendor", {"VendorID": "MLC001", "VendorName": "Acme"})
    assert created["VendorName"] == "Acme" and created["Status"] == "Active"
    updated = await client.put("Vendor", {"VendorID": "MLC001", "VendorName": "Acme 2"})
    assert updated["id"] == created["id"]
    assert (await client.get("Vendor", "MLC001"))["VendorName"] == "Acme 2"
    with pytest.raises(Conflict):  # update-only, and there is nothing to update
        await client.put("Vendor", {"VendorID": "NOPE", "VendorName": "X"}, update_only=True)
    with pytest.raises(InvalidFields) as info:
        await client.put("Vendor", {"VendorID": "MLC002", "VendorName": ""})
    assert "VendorName" in info.value.fields
    await client.delete("Vendor", "MLC001")
    await client.aclose()


async def test_bill_with_lines_released_by_a_polled_action(url: str, secrets: SecretStore) -> None:
    client = AcumaticaClient(acumatica_connection(url), secrets)
    bill = await client.put(
        "Bill", {"Vendor": "V000004", "VendorRef": "INV-9", "Details": [{"Qty": 2, "UnitCost": 40}]}
    )
    assert bill["Status"] == "Balanced" and bill["Details"][0]["Amount"] == 80
    await client.action("Bill", "ReleaseBill", {"Type": bill["Type"],
                                                "ReferenceNbr": bill["ReferenceNbr"]},
                        poll_interval=0.2)  # fmt: skip
    released = await client.get("Bill", bill["Type"], bill["ReferenceNbr"], expand="Details")
    assert released["Status"] == "Open" and len(released["Details"]) == 1
    with pytest.raises(FatalError):  # released once; a second release fails while polled
        await client.action("Bill", "ReleaseBill", {"id": bill["id"]}, poll_interval=0.2)
    await client.aclose()


async def test_delta_and_top_skip_paging(url: str, secrets: SecretStore) -> None:
    client = AcumaticaClient(acumatica_connection(url, page_size=7), secrets)
    vendors = [v["VendorID"] async for page in client.read("Vendor") for v in page]
    assert len(vendors) == len(set(vendors)) == 50
    since = datetime.now(UTC)
    await client.put("Vendor", {"VendorID": "MLC003", "VendorName": "Delta"})
    changed = [v["VendorID"] async for page in read(client, STREAMS["vendor"], since) for v in page]
    assert changed == ["MLC003"]
    await client.aclose()


async def test_oauth_refresh_then_relogin_when_the_chain_is_broken(
    url: str, secrets: SecretStore
) -> None:
    client = AcumaticaClient(acumatica_connection(url), secrets)
    auth = client.auth
    assert isinstance(auth, AcumaticaOAuth)
    await client.get("Vendor", "V000001")
    httpx.post(f"{url}/_sim/clock", json={"advance_seconds": 3600})
    await client.get("Vendor", "V000001")
    assert (auth.logins, auth.refreshes) == (1, 1)
    httpx.post(f"{url}/_sim/tokens/revoke")  # access and refresh tokens both gone
    await client.get("Vendor", "V000001")
    assert (auth.logins, auth.refreshes) == (2, 1)
    await client.aclose()


async def test_cookie_session_relogin_on_401_and_logout_on_close(
    url: str, secrets: SecretStore
) -> None:
    client = AcumaticaClient(acumatica_connection(url, cookie=True), secrets)
    auth = client.auth
    assert isinstance(auth, CookieSessionAuth)
    await client.get("Vendor", "V000001")
    httpx.post(f"{url}/_sim/clock", json={"advance_seconds": 1300})  # the session idles out
    await client.get("Vendor", "V000001")
    assert auth.logins == 2
    await client.aclose()
    paths = Counter(e["path"] for e in requests(url))
    assert paths["/entity/auth/login"] == 2 and paths["/entity/auth/logout"] == 1
    # Logged out: the licence's two API seats are free for two more clients.
    for _ in range(2):
        other = AcumaticaClient(acumatica_connection(url, cookie=True), secrets)
        await other.get("Vendor", "V000001")
        await other.aclose()


async def test_5000_vendors_read_once_each_under_faults(serve: Serve, secrets: SecretStore) -> None:
    url = serve(acumatica.create_app(acumatica.AcumaticaOptions(vendor_count=5000)))
    client = AcumaticaClient(acumatica_connection(url, page_size=500), secrets)
    await client.get("Vendor", "V000001")

    async def read() -> list[str]:
        return [v["VendorID"] async for page in client.read("Vendor") for v in page]

    ids = await read_under_faults(url, "Acumatica 5,000 vendors", read)
    assert len(ids) == len(set(ids)) == 5000
    await client.aclose()
