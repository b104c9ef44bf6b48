"""Business Central API v2.0 (OData v4) client; NAV / BC on-premises reuses it (``nav``).

Entity sets are addressed by name (``vendors``, ``purchaseInvoices`` ...), so one set of
methods covers all of them. Writes follow BC's rules: PATCH and DELETE carry ``If-Match`` (an
etag, or ``*`` to overwrite), a stale etag is a ``Conflict``; ``$batch`` takes at most 100
operations, so ``batch`` splits longer lists.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ml_connector.api.batch import BatchOperation, BatchResult, chunks, parse_batch
from ml_connector.api.budget import RateBudget
from ml_connector.api.client import ApiClient, RetryPolicy
from ml_connector.api.errors import AlreadyExists, Conflict, FatalError, NotFound
from ml_connector.api.odata import odata_literal, odata_query
from ml_connector.clients.base import api_client, entra_auth
from ml_connector.connections.business_central import BusinessCentralConnection
from ml_connector.ping import Needs, Step
from ml_connector.records import Record
from ml_connector.secrets import SecretStore
from ml_connector.streams import Stream, read
from ml_connector.streams.dialects import ODATA
from ml_connector.streams.styles import NEXT_LINK

MAX_BATCH = 100  # BC refuses a $batch with more operations


class BusinessCentralClient:
    """Entity sets of one company; ``nav.NavClient`` reuses all of it on-premises."""

    def __init__(
        self,
        connection: BusinessCentralConnection,
        secrets: SecretStore,
        *,
        retry: RetryPolicy | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        auth = entra_auth(connection.auth, secrets)
        tenant = f"/{connection.tenant}" if connection.tenant else ""
        api_root = (
            f"{connection.base_url.rstrip('/')}/v2.0{tenant}/{connection.environment}"
            f"/api/{connection.api_version}"
        )
        client = api_client(connection, api_root, auth, retry=retry, budget=budget)
        self._setup(client, api_root, connection.company_id, connection.page_size)
        self.connection = connection

    def _setup(
        self, client: ApiClient, api_root: str, company_id: str | None, page_size: int
    ) -> None:
        self.client = client
        self.api_root = api_root
        self._company_id = company_id
        # Concurrent writes wait for one answer instead of each asking the same question.
        self._company_asked = asyncio.Lock()
        self._dimension_asked = asyncio.Lock()
        self.page_size = page_size
        self._dimension_paths: dict[str, str] = {}

    # -- addressing ----------------------------------------------------------------------

    async def companies(self) -> list[Record]:
        body = await self.client.get_json(f"{self.api_root}/companies")
        return list(body["value"])

    async def company_id(self) -> str:
        async with self._company_asked:
            if self._company_id is None:
                companies = await self.companies()
                if not companies:
                    raise RuntimeError("the Business Central environment has no company")
                self._company_id = str(companies[0]["id"])
        return self._company_id

    async def company_path(self) -> str:
        """``companies({id})``: the company part of every entity URL, relative to the root."""
        return f"companies({await self.company_id()})"

    async def entity_url(self, entity_set: str, record_id: str | None = None) -> str:
        key = f"({record_id})" if record_id else ""
        return f"{self.api_root}/{await self.company_path()}/{entity_set}{key}"

    async def locate(self, path: str) -> str:
        """Where ``ml_connector.streams`` reads a declared entity set of the company."""
        return await self.entity_url(path)

    # -- reads ---------------------------------------------------------------------------

    async def read(
        self,
        entity_set: str,
        *,
        filter: str | None = None,
        expand: str | None = None,
        select: Sequence[str] | None = None,
    ) -> AsyncIterator[list[Record]]:
        """Pages of an entity set, optionally filtered (look-ups; change reads are declared
        streams, run by ``ml_connector.streams.read``)."""
        lookup = Stream(path=entity_set, dialect=ODATA, paging=NEXT_LINK, filter=filter,
                        expand=expand, select=tuple(select or ()))  # fmt: skip
        async for page in read(self, lookup):
            yield page

    async def get(self, entity_set: str, record_id: str, *, expand: str | None = None) -> Record:
        result: Record = await self.client.get_json(
            await self.entity_url(entity_set, record_id), params=odata_query(expand=expand)
        )
        return result

    async def find(self, entity_set: str, field: str, value: Any) -> Record | None:
        """The first record whose ``field`` equals ``value`` (look-up by number)."""
        flt = f"{field} eq {odata_literal(value)}"
        async for page in self.read(entity_set, filter=flt):
            return page[0] if page else None
        return None

    async def dimension_values(self, dimension: str) -> str:
        """``dimensions({id})/dimensionValues``: the entity set of one dimension's values, by
        the dimension's code (a dimension's id never changes, so it is looked up once)."""
        async with self._dimension_asked:
            if dimension not in self._dimension_paths:
                found = await self.find("dimensions", "code", dimension)
                if found is None:
                    raise NotFound(f"Business Central has no dimension {dimension!r} "
                                   "(flows.<name>.cost_center_dimension)")  # fmt: skip
                self._dimension_paths[dimension] = f"dimensions({found['id']})/dimensionValues"
        return self._dimension_paths[dimension]

    # -- writes --------------------------------------------------------------------------

    async def create(self, entity_set: str, body: Record) -> Record:
        """POST; lines may ride along (deep insert: ``{"purchaseOrderLines": [...]}``)."""
        result: Record = await self.client.send_json(
            "POST", await self.entity_url(entity_set), body
        )
        return result

    async def patch(
        self, entity_set: str, record_id: str, changes: Record, *, etag: str = "*"
    ) -> Record:
        """PATCH with ``If-Match``; a stale etag raises ``Conflict``."""
        result: Record = await self.client.send_json(
            "PATCH",
            await self.entity_url(entity_set, record_id),
            changes,
            headers={"If-Match": etag},
        )
        return result

    async def delete(self, entity_set: str, record_id: str, *, etag: str = "*") -> None:
        await self.client.request(
            "DELETE", await self.entity_url(entity_set, record_id), headers={"If-Match": etag}
        )

    async def upsert(self, entity_set: str, key_field: str, body: Record) -> tuple[str, Record]:
        """Idempotent write keyed by a business key (number, externalDocumentNumber).

        BC has no upsert and no idempotency key: look the key up, PATCH with the etag just
        read or POST. A create that loses a race with another writer (key taken) and a patch
        whose etag went stale both re-run the look-up once. Returns ("created" | "updated" |
        "unchanged", record).
        """
        for attempt in range(2):
            existing = await self.find(entity_set, key_field, body[key_field])
            try:
                if existing is None:
                    return "created", await self.create(entity_set, body)
                # Lines (lists) went in with the deep insert; a header PATCH cannot carry them.
                changes = {
                    k: v
                    for k, v in body.items()
                    if not isinstance(v, list) and existing.get(k) != v
                }
                if not changes:
                    return "unchanged", existing
                etag = str(existing.get("@odata.etag", "*"))
                return "updated", await self.patch(
                    entity_set, str(existing["id"]), changes, etag=etag
                )
            except (AlreadyExists, Conflict):
                if attempt:
                    raise
        raise AssertionError("unreachable")

    # -- bound actions -------------------------------------------------------------------

    async def action(self, entity_set: str, record_id: str, name: str) -> None:
        """A bound action such as ``Microsoft.NAV.post``; BC answers 204."""
        await self.client.request("POST", f"{await self.entity_url(entity_set, record_id)}/{name}")

    async def post_document(self, entity_set: str, record_id: str) -> None:
        """Post a draft purchase or sales invoice (it becomes Open and read-only)."""
        await self.action(entity_set, record_id, "Microsoft.NAV.post")

    async def post_once(self, entity_set: str, record_id: str) -> str:
        """Post a document unless it is posted already: "posted" | "already posted".

        Posting is the one write that must never happen twice. A draft is posted; anything
        else is left alone; and a post refused because an earlier attempt (whose answer was
        lost) did post it is recognised by reading the status back.
        """
        if (await self.get(entity_set, record_id)).get("status") != "Draft":
            return "already posted"
        try:
            await self.post_document(entity_set, record_id)
        except FatalError:
            if (await self.get(entity_set, record_id)).get("status") != "Draft":
                return "already posted"
            raise
        return "posted"

    async def receive_and_invoice(self, purchase_order_id: str) -> None:
        await self.action("purchaseOrders", purchase_order_id, "Microsoft.NAV.receiveAndInvoice")

    # -- $batch --------------------------------------------------------------------------

    async def batch(
        self, operations: Sequence[BatchOperation], *, atomic: bool = False
    ) -> list[BatchResult]:
        """Run any number of operations, 100 per ``$batch`` request, results in order.

        ``atomic`` sends ``Isolation: snapshot``: each chunk of 100 then succeeds or fails as
        a whole (not the list as a whole, which BC cannot do).
        """
        headers = {"Isolation": "snapshot"} if atomic else {}
        results: list[BatchResult] = []
        for chunk in chunks(operations, MAX_BATCH):
            body = {"requests": [op.render(str(i)) for i, op in enumerate(chunk)]}
            answer = await self.client.send_json(
                "POST", f"{self.api_root}/$batch", body, headers=headers
            )
            results += parse_batch(answer, chunk)
        return results

    # -- webhooks ------------------------------------------------------------------------

    async def subscriptions(self) -> list[Record]:
        return list((await self.client.get_json(f"{self.api_root}/subscriptions"))["value"])

    async def create_subscription(
        self, notification_url: str, entity_set: str, client_state: str
    ) -> Record:
        """Subscribe to an entity set; BC first calls ``notification_url`` with a
        validationToken that the receiver must echo, or it refuses the subscription."""
        resource = f"/api/v2.0/{await self.company_path()}/{entity_set}"
        body = {
            "notificationUrl": notification_url,
            "resource": resource,
            "clientState": client_state,
        }
        result: Record = await self.client.send_json("POST", f"{self.api_root}/subscriptions", body)
        return result

    async def renew_subscription(self, subscription: Record) -> Record:
        """Extend a subscription by BC's 3 days (with another handshake)."""
        url = f"{self.api_root}/subscriptions('{subscription['subscriptionId']}')"
        keep = ("notificationUrl", "resource", "clientState")
        result: Record = await self.client.send_json(
            "PATCH",
            url,
            {k: subscription[k] for k in keep if k in subscription},
            headers={"If-Match": str(subscription.get("@odata.etag", "*"))},
        )
        return result

    async def delete_subscription(self, subscription: Record) -> None:
        url = f"{self.api_root}/subscriptions('{subscription['subscriptionId']}')"
        etag = str(subscription.get("@odata.etag", "*"))
        await self.client.request("DELETE", url, headers={"If-Match": etag})

    async def aclose(self) -> None:
        await self.client.aclose()


def probe(client: BusinessCentralClient, needs: Needs) -> list[Step]:
    """The company the connection names (or the first), which needs a token first."""

    async def company() -> str:
        return f"company {await client.company_id()} in environment {client.connection.environment}"

    return [Step("company", company, "check the environment and company_id, and that the "
                 "Entra application is granted access in Business Central")]  # fmt: skip
