"""Authenticators against the simulators' token endpoints: caching, renewal, refresh, fallback."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from ml_connector.api.auth import ServiceNowAuth, TokenAuth
from ml_connector.api.errors import FatalError
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.secrets import SecretStore
from simulators import business_central, servicenow
from tests.clients.conftest import Serve
from tests.clients.connections import bc_connection, sn_connection
from tests.clients.simlog import requests


@pytest.fixture
def bc_url(serve: Serve) -> str:
    return serve(business_central.create_app(business_central.BusinessCentralOptions()))


def token_auth(client: BusinessCentralClient) -> TokenAuth:
    auth = client.client.http.auth
    assert isinstance(auth, TokenAuth)
    return auth


async def test_entra_token_is_cached_and_renewed_once_after_revocation(
    bc_url: str, secrets: SecretStore
) -> None:
    client = BusinessCentralClient(bc_connection(bc_url), secrets)
    auth = token_auth(client)
    for _ in range(3):
        await client.companies()
    assert auth.tokens_issued == 1
    httpx.post(f"{bc_url}/_sim/tokens/revoke")
    assert len(await client.companies()) == 1
    assert auth.tokens_issued == 2
    await client.aclose()


async def test_concurrent_calls_on_a_revoked_token_renew_it_once(
    bc_url: str, secrets: SecretStore
) -> None:
    client = BusinessCentralClient(bc_connection(bc_url), secrets)
    auth = token_auth(client)
    await client.companies()
    httpx.post(f"{bc_url}/_sim/faults/expire-tokens")
    results = await asyncio.gather(*(client.companies() for _ in range(5)))
    assert all(len(r) == 1 for r in results)
    assert auth.tokens_issued == 2
    await client.aclose()


async def test_token_is_renewed_a_margin_before_expiry_without_a_401(
    bc_url: str, secrets: SecretStore
) -> None:
    client = BusinessCentralClient(bc_connection(bc_url), secrets)
    auth = token_auth(client)
    now = [1000.0]
    auth.clock = lambda: now[0]
    await client.companies()
    now[0] += 3599 - 61  # inside the last minute of the hour-long token
    await client.companies()
    assert auth.tokens_issued == 1
    now[0] += 2
    await client.companies()
    assert auth.tokens_issued == 2
    assert all(e["status"] != 401 for e in requests(bc_url))
    await client.aclose()


async def test_wrong_secret_is_fatal_and_not_echoed(bc_url: str, secrets: SecretStore) -> None:
    client = BusinessCentralClient(bc_connection(bc_url, secret="wrong"), secrets)
    with pytest.raises(FatalError) as info:
        await client.companies()
    assert "invalid_client" in str(info.value)
    assert "not-the-secret" not in str(info.value)
    await client.aclose()


@pytest.mark.parametrize("grant_enabled", [True, False])
async def test_servicenow_client_credentials_or_basic_fallback(
    serve: Serve, secrets: SecretStore, grant_enabled: bool
) -> None:
    options = servicenow.ServiceNowOptions(client_credentials_enabled=grant_enabled)
    url = serve(servicenow.create_app(options))
    client = ServiceNowClient(sn_connection(url), secrets)
    assert await client.table("sys_user", query="user_name=mlc.integration")
    assert client.auth.use_basic is (not grant_enabled)
    await client.aclose()


async def test_servicenow_password_grant_renews_with_the_refresh_token(
    serve: Serve, secrets: SecretStore
) -> None:
    url = serve(servicenow.create_app())
    client = ServiceNowClient(sn_connection(url, grant="password"), secrets)
    auth = client.auth
    assert isinstance(auth, ServiceNowAuth)
    await client.table("sys_user_role")
    assert (auth.logins, auth.refreshes, auth.use_basic) == (1, 0, False)
    # The access token runs out on the instance while the client still thinks it valid.
    httpx.post(f"{url}/_sim/clock", json={"advance_seconds": 1800})
    await client.table("sys_user_role")
    assert (auth.logins, auth.refreshes) == (1, 1)
    # A revoked refresh token: the refresh is refused and the client logs in again.
    httpx.post(f"{url}/_sim/tokens/revoke")
    await client.table("sys_user_role")
    assert (auth.logins, auth.refreshes) == (2, 1)
    await client.aclose()


async def test_servicenow_wrong_password_with_basic_is_fatal(
    serve: Serve, secrets: SecretStore
) -> None:
    url = serve(servicenow.create_app())
    client = ServiceNowClient(sn_connection(url, oauth=False, password="wrong"), secrets)
    with pytest.raises(FatalError) as info:
        await client.table("sys_user")
    assert info.value.status == 401
    assert "not-the-secret" not in str(info.value)
    await client.aclose()
