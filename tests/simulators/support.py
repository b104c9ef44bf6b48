"""Helpers shared by the simulator contract tests: in-process clients, BC tokens, and HTTPS
clients of a BC company and of an F&O environment."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
from starlette.applications import Starlette

from simulators.server import serve_in_thread

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
FNO_TOKEN_FORM = {
    "grant_type": "client_credentials",
    "client_id": "mlc-client",
    "client_secret": "mlc-secret",
    "scope": "https://mlc-sim.operations.dynamics.com/.default",
}


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


@contextmanager
def bc_company_over_https(app: Starlette) -> Iterator[httpx.Client]:
    """A client of ``app`` served over HTTPS on a real socket, holding a bearer token, whose
    base URL is the first company's (``vendors`` reads that company's vendors)."""
    served = serve_in_thread(app, tls=True)
    assert served.cert_path is not None
    trust = ssl.create_default_context(cafile=served.cert_path)
    try:
        with httpx.Client(base_url=served.url, verify=trust) as client:
            token = client.post(BC_TOKEN_PATH, data=BC_TOKEN_FORM).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            company = client.get(BC_COMPANIES).json()["value"][0]["id"]
            client.base_url = httpx.URL(f"{served.url}{BC_COMPANIES}({company})/")
            yield client
    finally:
        served.stop()


@contextmanager
def fno_over_https(app: Starlette) -> Iterator[httpx.Client]:
    """A client of the F&O ``app`` served over HTTPS on a real socket, holding a bearer token
    for the environment's ``/.default`` scope."""
    served = serve_in_thread(app, tls=True)
    assert served.cert_path is not None
    trust = ssl.create_default_context(cafile=served.cert_path)
    try:
        with httpx.Client(base_url=served.url, verify=trust) as client:
            token = client.post("/sim-tenant/oauth2/v2.0/token", data=FNO_TOKEN_FORM).json()
            client.headers["Authorization"] = f"Bearer {token['access_token']}"
            yield client
    finally:
        served.stop()
