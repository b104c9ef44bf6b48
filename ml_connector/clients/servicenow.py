"""ServiceNow client: Table API reads and Import Set API writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml_connector.api.auth import ServiceNowAuth
from ml_connector.api.client import ApiClient
from ml_connector.config import ServiceNowConnection
from ml_connector.secrets import SecretStore


@dataclass(frozen=True)
class ImportResult:
    """One row's outcome of an Import Set transform."""

    status: str  # inserted | updated | ignored | error | skipped
    sys_id: str | None
    table: str | None
    message: str | None

    @property
    def ok(self) -> bool:
        return self.status in {"inserted", "updated", "ignored"}


class ServiceNowClient:
    def __init__(self, connection: ServiceNowConnection, secrets: SecretStore) -> None:
        self.connection = connection
        a = connection.auth
        self.auth = ServiceNowAuth(
            connection.instance_url,
            client_id=a.client_id,
            client_secret=secrets.get(a.client_secret) if a.client_secret else None,
            username=a.username,
            password=secrets.get(a.password) if a.password else None,
        )
        self.client = ApiClient(connection.instance_url.rstrip("/"), self.auth)

    async def import_row(self, staging_table: str, row: dict[str, str]) -> list[ImportResult]:
        """POST one staging row; the transform runs synchronously and reports per target."""
        body = (
            await self.client.request("POST", f"/api/now/import/{staging_table}", json=row)
        ).json()
        return [
            ImportResult(
                status=str(r.get("status", "error")),
                sys_id=r.get("sys_id"),
                table=r.get("table"),
                message=r.get("error_message") or r.get("status_message"),
            )
            for r in body.get("result", [])
        ]

    async def table(
        self, table: str, *, query: str = "", fields: list[str] | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """All rows matching an encoded query, paged by offset (small tables, reconciliation)."""
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            params = {
                "sysparm_query": query,
                "sysparm_limit": str(limit),
                "sysparm_offset": str(offset),
                "sysparm_exclude_reference_link": "true",
            }
            if fields:
                params["sysparm_fields"] = ",".join(fields)
            page = (await self.client.get_json(f"/api/now/table/{table}", params=params))["result"]
            rows.extend(page)
            if len(page) < limit:
                return rows
            offset += limit

    async def aclose(self) -> None:
        await self.client.aclose()
