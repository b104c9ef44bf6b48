"""ServiceTitan V2 client: tenant API with page/hasMore reads, export feeds, code look-ups.

Every call goes to ``{api}/{module}/v2/tenant/{tenantId}/{resource}`` with a bearer token and
the ``ST-App-Key`` header (``ServiceTitanAuth``). Resources are declared once with their module,
so callers name only the resource. ServiceTitan has no upsert and no idempotency key: pricebook
writes are made idempotent by looking the record up by its ``code`` first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping

from ml_connector.api.auth import ServiceTitanAuth
from ml_connector.api.batch import chunks
from ml_connector.api.budget import RateBudget
from ml_connector.api.client import RetryPolicy
from ml_connector.api.errors import AlreadyExists
from ml_connector.api.paging import ContinuationToken, Page, PageRequest, pages
from ml_connector.clients.base import api_client
from ml_connector.connections.servicetitan import ServiceTitanConnection
from ml_connector.ping import Needs, Step
from ml_connector.records import Record
from ml_connector.secrets import SecretStore
from ml_connector.streams import Stream, read
from ml_connector.streams.dialects import SERVICETITAN_QUERY
from ml_connector.streams.styles import PAGE_NUMBERS

# resource -> module, as the API reference groups them.
MODULES: Mapping[str, str] = {
    "invoices": "accounting",
    "payments": "accounting",
    "gl-accounts": "accounting",
    "customers": "crm",
    "services": "pricebook",
    "materials": "pricebook",
    "business-units": "settings",
    "purchase-orders": "inventory",
    "bills": "inventory",
    "vendors": "inventory",
}
MAX_IDS = 50  # the ids filter takes at most 50


class ServiceTitanClient:
    def __init__(
        self,
        connection: ServiceTitanConnection,
        secrets: SecretStore,
        *,
        retry: RetryPolicy | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        self.connection = connection
        a = connection.auth
        self.auth = ServiceTitanAuth(
            a.token_url, a.client_id, secrets.get(a.client_secret), secrets.get(a.app_key)
        )
        api = connection.api_url.rstrip("/")
        self.client = api_client(connection, api, self.auth, retry=retry, budget=budget)
        self.api = api
        self.page_size = connection.page_size

    def url(
        self, resource: str, record_id: int | str | None = None, *, export: bool = False
    ) -> str:
        module = MODULES[resource]
        path = f"export/{resource}" if export else resource
        tail = f"/{record_id}" if record_id is not None else ""
        return f"{self.api}/{module}/v2/tenant/{self.connection.tenant_id}/{path}{tail}"

    async def locate(self, path: str) -> str:
        """Where ``ml_connector.streams`` reads a declared resource."""
        return self.url(path)

    # -- reads ---------------------------------------------------------------------------

    async def read(self, resource: str, **filters: str) -> AsyncIterator[list[Record]]:
        """Pages of a resource; ``filters`` are the API's (``modifiedOnOrAfter``, ``active``,
        ``statuses``, ``sort`` ...)."""
        lookup = Stream(path=resource, dialect=SERVICETITAN_QUERY, paging=PAGE_NUMBERS,
                        params=filters)  # fmt: skip
        async for page in read(self, lookup):
            yield page

    async def by_ids(self, resource: str, ids: Iterable[int]) -> list[Record]:
        """Records by id, 50 per call (invoices and payments have no single-record GET)."""
        found: list[Record] = []
        for chunk in chunks(list(ids), MAX_IDS):
            params = {"ids": ",".join(str(i) for i in chunk), "active": "any"}
            async for page in self.read(resource, **params):
                found += page
        return found

    async def get(self, resource: str, record_id: int) -> Record:
        result: Record = await self.client.get_json(self.url(resource, record_id))
        return result

    async def export(self, resource: str, continue_from: str | None = None) -> AsyncIterator[Page]:
        """The export feed: every change since ``continue_from`` (None: from the start).

        Each page's ``cursor`` is the token to store once its records are safe; resuming
        from it never skips a change, however the records moved meanwhile.
        """
        params = {"from": continue_from} if continue_from else {}
        first = PageRequest(self.url(resource, export=True), params)
        async for page in pages(self.client, ContinuationToken(), first):
            yield page

    # -- writes --------------------------------------------------------------------------

    async def create(self, resource: str, body: Record) -> Record:
        result: Record = await self.client.send_json("POST", self.url(resource), body)
        return result

    async def patch(self, resource: str, record_id: int, changes: Record) -> Record:
        result: Record = await self.client.send_json(
            "PATCH", self.url(resource, record_id), changes
        )
        return result

    async def find_by_code(self, resource: str, code: str) -> Record | None:
        """A pricebook record by its code (codes compare case-insensitively in the UI).

        The API has no code filter, so this pages through the resource, active or not.
        """
        wanted = code.casefold()
        async for page in self.read(resource, active="any", pageSize="5000"):
            for record in page:
                if str(record.get("code", "")).casefold() == wanted:
                    return record
        return None

    async def upsert_by_code(self, resource: str, body: Record) -> tuple[str, Record]:
        """Idempotent pricebook write: ("created" | "updated" | "unchanged", record).

        A create that finds the code taken (another writer, or a lost answer) looks again.
        """
        for attempt in range(2):
            existing = await self.find_by_code(resource, str(body["code"]))
            if existing is None:
                try:
                    return "created", await self.create(resource, body)
                except AlreadyExists:
                    if attempt:
                        raise
                    continue
            changes = {k: v for k, v in body.items() if existing.get(k) != v}
            if not changes:
                return "unchanged", existing
            return "updated", await self.patch(resource, int(existing["id"]), changes)
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self.client.aclose()


def probe(client: ServiceTitanClient, needs: Needs) -> list[Step]:
    async def read() -> str:
        params = {"page": "1", "pageSize": "1"}
        body = await client.client.get_json(client.url("business-units"), params=params)
        return (
            f"tenant {client.connection.tenant_id}: read {len(body.get('data', []))} business unit"
        )

    return [Step("read", read, "check tenant_id, the app key and that the tenant granted "
                 "the app access")]  # fmt: skip
