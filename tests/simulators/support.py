"""Helpers shared by the simulator contract tests: in-process clients and BC tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

BC_TOKEN_PATH = "/sim-tenant/oauth2/v2.0/token"
BC_TOKEN_FORM = {
    "grant_type": "client_credentials",
    "client_id": "mlc-client",
    "client_secret": "mlc-secret",
    "scope": "https://api.businesscentral.dynamics.com/.default",
}
BC_ROOT = "/v2.0/sim-tenant/production/api/v2.0"
BC_COMPANIES = f"{BC_ROOT}/companies"
SN_AUTH = ("mlc.integration", "mlc-password")


@asynccontextmanager
async def client_for(app: Any, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling ``app`` in-process (``kwargs`` as for httpx.AsyncClient)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test", **kwargs) as c:
        yield c


async def bc_headers(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post(BC_TOKEN_PATH, data=BC_TOKEN_FORM)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
