"""Dynamics 365 Finance & Operations client: OData data entities under ``/data``.

Records are addressed by natural keys that include the legal entity (``dataAreaId``), and the
service reads only the user's default company unless asked for ``cross-company=true``; so
every read here is cross-company, narrowed to the connection's company when one is set.
Creates rely on the natural key for idempotency: a duplicate-key refusal means an earlier
attempt already wrote the record, which is read back instead (``create_or_read``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ml_connector.api.budget import RateBudget
from ml_connector.api.client import RetryPolicy
from ml_connector.api.errors import AlreadyExists
from ml_connector.api.odata import odata_key, odata_query, odata_string
from ml_connector.clients.base import api_client, entra_auth
from ml_connector.connections.finance_operations import FinanceOperationsConnection
from ml_connector.ping import Needs, Step
from ml_connector.records import Record
from ml_connector.secrets import SecretStore
from ml_connector.streams import Stream, read
from ml_connector.streams.dialects import ODATA
from ml_connector.streams.styles import NEXT_LINK

Key = Mapping[str, Any]


class FinanceOperationsClient:
    def __init__(
        self,
        connection: FinanceOperationsConnection,
        secrets: SecretStore,
        *,
        retry: RetryPolicy | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        self.connection = connection
        auth = entra_auth(connection.auth, secrets)
        self.data_root = connection.base_url.rstrip("/") + "/data"
        self.client = api_client(connection, self.data_root, auth, retry=retry, budget=budget)
        self.company = connection.company
        self.page_size = connection.page_size

    def url(self, entity_set: str, key: Key | None = None) -> str:
        return f"{self.data_root}/{entity_set}{odata_key(key) if key else ''}"

    async def locate(self, path: str) -> str:
        """Where ``ml_connector.streams`` reads a declared data entity."""
        return self.url(path)

    def key_of(self, body: Mapping[str, Any], key_fields: Sequence[str]) -> dict[str, Any]:
        """The natural key of ``body``; dataAreaId defaults to the connection's company."""
        key = {name: body.get(name) for name in key_fields}
        if "dataAreaId" in key and key["dataAreaId"] is None:
            key["dataAreaId"] = self.company
        missing = [name for name, value in key.items() if value is None]
        if missing:
            raise ValueError(f"the record lacks key fields {missing}")
        return key

    # -- reads ---------------------------------------------------------------------------

    async def read(
        self,
        entity_set: str,
        *,
        filter: str | None = None,
        expand: str | None = None,
        select: Sequence[str] | None = None,
    ) -> AsyncIterator[list[Record]]:
        company = f"dataAreaId eq {odata_string(self.company)}" if self.company else None
        lookup = Stream(path=entity_set, dialect=ODATA, paging=NEXT_LINK, filter=company,
                        expand=expand, select=tuple(select or ()),
                        params={"cross-company": "true"})  # fmt: skip
        async for page in read(self, lookup, where=filter):
            yield page

    async def get(self, entity_set: str, key: Key, *, expand: str | None = None) -> Record:
        result: Record = await self.client.get_json(
            self.url(entity_set, key), params=odata_query(expand=expand)
        )
        return result

    # -- writes --------------------------------------------------------------------------

    async def create(self, entity_set: str, body: Record) -> Record:
        """POST a header or a line (the header first: a line needs its header to exist)."""
        if self.company and "dataAreaId" not in body:
            body = {"dataAreaId": self.company, **body}
        result: Record = await self.client.send_json("POST", self.url(entity_set), body)
        return result

    async def patch(self, entity_set: str, key: Key, changes: Record, *, etag: str = "*") -> None:
        """PATCH (F&O answers 204 without a body); posted documents refuse with a FatalError."""
        await self.client.send_json(
            "PATCH", self.url(entity_set, key), changes, headers={"If-Match": etag}
        )

    async def delete(self, entity_set: str, key: Key) -> None:
        await self.client.request("DELETE", self.url(entity_set, key))

    async def create_or_read(
        self, entity_set: str, body: Record, key_fields: Sequence[str]
    ) -> tuple[str, Record]:
        """Create, or when the natural key exists already, read the record back.

        Returns ("created" | "exists", record). The read-back is what lets a sink call a
        retried create done: nothing else tells a lost answer from a failed write.
        """
        try:
            return "created", await self.create(entity_set, body)
        except AlreadyExists:
            return "exists", await self.get(entity_set, self.key_of(body, key_fields))

    async def upsert(
        self, entity_set: str, body: Record, key_fields: Sequence[str]
    ) -> tuple[str, Record]:
        """Create, or bring the existing record in line: ("created"|"updated"|"unchanged")."""
        outcome, record = await self.create_or_read(entity_set, body, key_fields)
        if outcome == "created":
            return outcome, record
        changes = {k: v for k, v in body.items() if k not in key_fields and record.get(k) != v}
        if not changes:
            return "unchanged", record
        key = self.key_of(record, key_fields)
        await self.patch(entity_set, key, changes, etag=str(record.get("@odata.etag", "*")))
        return "updated", await self.get(entity_set, key)

    async def aclose(self) -> None:
        await self.client.aclose()


def probe(client: FinanceOperationsClient, needs: Needs) -> list[Step]:
    async def read() -> str:
        # One row of a standard entity: proves the token and the application's F&O user.
        params = {"$top": "1", "cross-company": "true"}
        body = await client.client.get_json(client.url("VendorsV2"), params=params)
        where = f" (company {client.company})" if client.company else ""
        return f"read {len(body.get('value', []))} vendor{where}"

    return [Step("read", read, "check that the Entra application is registered in F&O "
                 "(System administration > Microsoft Entra applications) with a user")]  # fmt: skip
