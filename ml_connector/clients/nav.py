"""Dynamics NAV / Business Central on-premises: the BC client on the server's URL shape, plus
the legacy OData V4 web services of published pages.

API v2.0 lives at ``https://{host}:7048/{serverInstance}/api/v2.0`` and behaves as BC online,
so everything there is inherited. Older integrations read published pages instead,
``/{serverInstance}/ODataV4/Company('{name}')/{ServiceName}``, whose fields carry the page's
names (``No``, ``Name``) and whose keys are the page's (``No='V00010'``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from ml_connector.api.auth import BasicAuth
from ml_connector.api.budget import RateBudget
from ml_connector.api.client import RetryPolicy
from ml_connector.api.odata import odata_key, odata_query, odata_string
from ml_connector.api.paging import odata_pages
from ml_connector.clients.base import api_client, entra_auth
from ml_connector.clients.business_central import BusinessCentralClient, Record
from ml_connector.connections.nav import NavBasicAuth, NavConnection
from ml_connector.ping import Needs, Step
from ml_connector.secrets import SecretStore


class NavClient(BusinessCentralClient):
    def __init__(
        self,
        connection: NavConnection,
        secrets: SecretStore,
        *,
        retry: RetryPolicy | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        a = connection.auth
        auth: httpx.Auth = (
            BasicAuth(a.username, secrets.get(a.access_key))
            if isinstance(a, NavBasicAuth)
            else entra_auth(a, secrets)
        )
        server = f"{connection.base_url.rstrip('/')}/{connection.server_instance}"
        api_root = f"{server}/api/{connection.api_version}"
        client = api_client(connection, api_root, auth, retry=retry, budget=budget)
        self._setup(client, api_root, connection.company_id, connection.page_size)
        self.nav_connection = connection
        self.legacy_root = f"{server}/ODataV4"
        self._company_name = connection.company_name

    # -- legacy OData V4 pages -----------------------------------------------------------

    async def company_name(self) -> str:
        """The company the pages are read in: configured, else the server's first."""
        if self._company_name is None:
            body = await self.client.get_json(f"{self.legacy_root}/Company")
            if not body["value"]:
                raise RuntimeError("the NAV server instance has no company")
            self._company_name = str(body["value"][0]["Name"])
        return self._company_name

    async def page_url(self, service: str, key: Mapping[str, Any] | None = None) -> str:
        company = quote(odata_string(await self.company_name()), safe="'")
        return f"{self.legacy_root}/Company({company})/{service}{odata_key(key) if key else ''}"

    async def page_read(
        self,
        service: str,
        *,
        filter: str | None = None,
        select: Sequence[str] | None = None,
    ) -> AsyncIterator[list[Record]]:
        """Pages of a published page (``VendorList``), server-paged by ``@odata.nextLink``."""
        url = await self.page_url(service)
        params = odata_query(filter=filter, select=select)
        async for page in odata_pages(self.client, url, params, page_size=self.page_size):
            yield page

    async def page_get(self, service: str, key: Mapping[str, Any]) -> Record:
        result: Record = await self.client.get_json(await self.page_url(service, key))
        return result

    async def page_create(self, service: str, body: Record) -> Record:
        result: Record = await self.client.send_json("POST", await self.page_url(service), body)
        return result

    async def page_patch(
        self, service: str, key: Mapping[str, Any], changes: Record, *, etag: str = "*"
    ) -> Record:
        url = await self.page_url(service, key)
        result: Record = await self.client.send_json(
            "PATCH", url, changes, headers={"If-Match": etag}
        )
        return result

    async def page_delete(self, service: str, key: Mapping[str, Any], *, etag: str = "*") -> None:
        url = await self.page_url(service, key)
        await self.client.request("DELETE", url, headers={"If-Match": etag})


def probe(client: NavClient, needs: Needs) -> list[Step]:
    async def company() -> str:
        return f"company {await client.company_id()} on {client.nav_connection.server_instance}"

    return [Step("company", company, "check server_instance, the user and its web service "
                 "access key, and company_id / company_name")]  # fmt: skip
