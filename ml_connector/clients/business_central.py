"""Business Central API v2.0 (OData v4) client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ml_connector.api.auth import EntraClientCredentials
from ml_connector.api.client import ApiClient
from ml_connector.api.paging import odata_pages
from ml_connector.config import BusinessCentralConnection
from ml_connector.secrets import SecretStore


class BusinessCentralClient:
    def __init__(self, connection: BusinessCentralConnection, secrets: SecretStore) -> None:
        self.connection = connection
        auth = EntraClientCredentials(
            connection.auth.token_url,
            connection.auth.client_id,
            secrets.get(connection.auth.client_secret),
            connection.auth.scope,
        )
        tenant = f"/{connection.tenant}" if connection.tenant else ""
        self.api_root = (
            f"{connection.base_url.rstrip('/')}/v2.0{tenant}/{connection.environment}"
            f"/api/{connection.api_version}"
        )
        self.client = ApiClient(self.api_root, auth)
        self._company_id = connection.company_id

    async def companies(self) -> list[dict[str, Any]]:
        body = await self.client.get_json(f"{self.api_root}/companies")
        return list(body["value"])

    async def company_id(self) -> str:
        if self._company_id is None:
            companies = await self.companies()
            if not companies:
                raise RuntimeError("the Business Central environment has no company")
            self._company_id = str(companies[0]["id"])
        return self._company_id

    async def entity_url(self, entity_set: str) -> str:
        return f"{self.api_root}/companies({await self.company_id()})/{entity_set}"

    async def read(
        self, entity_set: str, *, filter: str | None = None, expand: str | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of an entity set, optionally filtered (e.g. a lastModifiedDateTime delta)."""
        params = {}
        if filter:
            params["$filter"] = filter
        if expand:
            params["$expand"] = expand
        url = await self.entity_url(entity_set)
        async for page in odata_pages(
            self.client, url, params or None, page_size=self.connection.page_size
        ):
            yield page

    async def get(self, entity_set: str, record_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.client.get_json(
            f"{await self.entity_url(entity_set)}({record_id})"
        )
        return result

    async def aclose(self) -> None:
        await self.client.aclose()
