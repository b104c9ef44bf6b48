"""The project's API clients against the simulators, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ml_connector.api.errors import FatalError
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.config import BusinessCentralConnection, ServiceNowConnection
from ml_connector.secrets import SecretStore, generate_key
from simulators import business_central, servicenow
from simulators.server import serve_in_thread


@pytest.fixture
def secrets(tmp_path: Path) -> SecretStore:
    store = SecretStore(tmp_path / "secrets.json", generate_key())
    store.set("secret", "mlc-secret")
    store.set("password", "mlc-password")
    store.set("wrong", "not-the-secret")
    return store


@pytest.fixture
def bc_url() -> Iterator[str]:
    options = business_central.BusinessCentralOptions(vendor_count=120)
    url, stop = serve_in_thread(business_central.create_app(options))
    yield url
    stop()


def bc_connection(
    url: str, secret: str = "secret", page_size: int = 50
) -> BusinessCentralConnection:
    return BusinessCentralConnection.model_validate(
        {
            "system": "business_central", "base_url": url, "tenant": "sim-tenant",
            "environment": "production", "page_size": page_size,
            "auth": {"kind": "entra_client_credentials",
                     "token_url": f"{url}/sim-tenant/oauth2/v2.0/token",
                     "client_id": "mlc-client", "client_secret": {"secret": secret}},
        }
    )  # fmt: skip


async def test_bc_pages_through_every_vendor_once(bc_url: str, secrets: SecretStore) -> None:
    client = BusinessCentralClient(bc_connection(bc_url), secrets)
    pages = [page async for page in client.read("vendors")]
    ids = [v["id"] for page in pages for v in page]
    assert len(pages) == 3  # 120 vendors, 50 per page
    assert len(ids) == len(set(ids)) == 120
    await client.aclose()


async def test_bc_token_is_cached_and_renewed_once_after_revocation(
    bc_url: str, secrets: SecretStore
) -> None:
    client = BusinessCentralClient(bc_connection(bc_url), secrets)
    auth = client.client.http.auth
    for _ in range(3):
        await client.companies()
    assert auth.tokens_issued == 1  # type: ignore[union-attr]
    httpx.post(f"{bc_url}/_sim/tokens/revoke")
    assert len(await client.companies()) == 1
    assert auth.tokens_issued == 2  # type: ignore[union-attr]
    await client.aclose()


async def test_bc_wrong_secret_is_fatal_and_not_echoed(bc_url: str, secrets: SecretStore) -> None:
    client = BusinessCentralClient(bc_connection(bc_url, secret="wrong"), secrets)
    with pytest.raises(FatalError) as info:
        await client.companies()
    assert "invalid_client" in str(info.value)
    assert "not-the-secret" not in str(info.value)
    await client.aclose()


def sn_connection(url: str, oauth: bool = True) -> ServiceNowConnection:
    auth: dict[str, object] = {"kind": "servicenow", "username": "mlc.integration",
                               "password": {"secret": "password"}}  # fmt: skip
    if oauth:
        auth |= {"client_id": "mlc-client", "client_secret": {"secret": "secret"}}
    return ServiceNowConnection.model_validate(
        {"system": "servicenow", "instance_url": url, "auth": auth}
    )


@pytest.mark.parametrize("grant_enabled", [True, False])
async def test_servicenow_import_coalesces_with_oauth_or_basic_fallback(
    secrets: SecretStore, grant_enabled: bool
) -> None:
    options = servicenow.ServiceNowOptions(client_credentials_enabled=grant_enabled)
    url, stop = serve_in_thread(servicenow.create_app(options))
    try:
        client = ServiceNowClient(sn_connection(url), secrets)
        row = {"u_vendor_number": "V1", "u_name": "Acme"}
        first = await client.import_row("sn_fcms_intg_imp_supplier", row)
        again = await client.import_row("sn_fcms_intg_imp_supplier", row)
        changed = await client.import_row("sn_fcms_intg_imp_supplier", {**row, "u_name": "Acme 2"})
        assert [r.status for r in first + again + changed] == ["inserted", "ignored", "updated"]
        assert client.auth.use_basic is (not grant_enabled)
        vendors = await client.table("core_company", query="u_vendor_number=V1")
        assert [v["name"] for v in vendors] == ["Acme 2"]
        await client.aclose()
    finally:
        stop()
