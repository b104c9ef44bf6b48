"""Acumatica contract-based REST client, pinned to one endpoint version per connection.

URLs are ``{instance}/entity/{endpoint}/{version}/{Entity}``; an instance serves only the
versions it has, so the version is part of the connection and a 404 that comes from a missing
version is reported as such (``EndpointVersionNotFound``) instead of as a missing record.
Writes are ``PUT`` upserts matched on the entity's key fields; ``If-Match: *`` makes a PUT
update-only. Long-running actions (ReleaseBill ...) answer 202 and are polled to the end.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from ml_connector.api.auth import AcumaticaOAuth
from ml_connector.api.budget import RateBudget
from ml_connector.api.client import RetryPolicy
from ml_connector.api.errors import FatalError, NotFound, RetryableError
from ml_connector.api.odata import odata_query
from ml_connector.api.session_auth import CookieSessionAuth
from ml_connector.clients.acumatica_values import unwrap, wrap
from ml_connector.clients.base import api_client
from ml_connector.connections.acumatica import AcumaticaConnection, AcumaticaLogin
from ml_connector.ping import Missing, Needs, Step
from ml_connector.records import Record
from ml_connector.secrets import SecretStore
from ml_connector.streams import Stream, read
from ml_connector.streams.dialects import ODATA
from ml_connector.streams.styles import TOP_SKIP


class EndpointVersionNotFound(NotFound):
    """The instance does not serve the endpoint version pinned in the connection."""


class ActionFailed(FatalError):
    """A long-running action ended in failure or did not end in time."""


class AcumaticaClient:
    def __init__(
        self,
        connection: AcumaticaConnection,
        secrets: SecretStore,
        *,
        retry: RetryPolicy | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        self.connection = connection
        instance = connection.instance_url.rstrip("/")
        a = connection.auth
        self.auth: httpx.Auth
        if isinstance(a, AcumaticaLogin):
            credentials: dict[str, str | SecretStr] = {
                "name": a.username,
                "password": secrets.get(a.password),
            }
            credentials |= {k: v for k, v in (("tenant", a.tenant), ("branch", a.branch)) if v}
            self.auth = CookieSessionAuth(
                f"{instance}/entity/auth/login", f"{instance}/entity/auth/logout", credentials
            )
        else:
            self.auth = AcumaticaOAuth(
                instance,
                client_id=a.client_id,
                client_secret=secrets.get(a.client_secret),
                username=a.username,
                password=secrets.get(a.password),
                scope=a.scope,
            )
        self.instance = instance
        self.root = f"{instance}/entity/{connection.endpoint}/{connection.version}"
        self.client = api_client(connection, self.root, self.auth, retry=retry, budget=budget)
        self.page_size = connection.page_size

    # -- version pinning -----------------------------------------------------------------

    async def served_versions(self) -> list[str]:
        """``endpoint/version`` pairs the instance serves (GET /entity)."""
        body = await self.client.get_json(f"{self.instance}/entity")
        return [f"{e['name']}/{e['version']}" for e in body.get("endpoints", [])]

    async def check_version(self) -> None:
        """Fail now, naming both, if the instance does not serve the pinned version: every
        call would otherwise answer 404 as if the records were missing."""
        pinned = f"{self.connection.endpoint}/{self.connection.version}"
        served = await self.served_versions()
        if pinned not in served:
            raise EndpointVersionNotFound(
                f"Acumatica at {self.instance} does not serve endpoint {pinned}, the version "
                f"pinned in this connection's version key; it serves: "
                f"{', '.join(served) or 'none'}",
                status=404,
            )

    async def _explain(self, exc: NotFound) -> NotFound:
        """A 404 because the pinned version is missing says so; others stay as they are."""
        pinned = f"{self.connection.endpoint}/{self.connection.version}"
        served = await self.served_versions()
        if pinned in served:
            return exc
        return EndpointVersionNotFound(
            f"Acumatica at {self.instance} does not serve endpoint {pinned}, the version "
            f"pinned in this connection; it serves: {', '.join(served) or 'none'}",
            status=404,
            body=exc.body,
        )

    async def _call(self, method: str, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        try:
            return await self.client.request(method, url, **kwargs)
        except NotFound as exc:
            raise await self._explain(exc) from exc

    def _url(self, entity: str, keys: Sequence[str] = ()) -> str:
        path = "/".join(quote(str(k), safe="") for k in keys)
        return f"{self.root}/{entity}" + (f"/{path}" if path else "")

    async def locate(self, path: str) -> str:
        """Where ``ml_connector.streams`` reads a declared entity."""
        return self._url(path)

    # -- reads ---------------------------------------------------------------------------

    async def read(
        self,
        entity: str,
        *,
        filter: str | None = None,
        expand: str | None = None,
        select: Sequence[str] | None = None,
    ) -> AsyncIterator[list[Record]]:
        """Pages of unwrapped records, ``$top``/``$skip`` until a short page."""
        lookup = Stream(path=entity, dialect=ODATA, paging=TOP_SKIP, filter=filter,
                        expand=expand, select=tuple(select or ()), selector=unwrap)  # fmt: skip
        try:
            async for page in read(self, lookup):
                yield page
        except NotFound as exc:
            raise await self._explain(exc) from exc

    async def get(self, entity: str, *keys: str, expand: str | None = None) -> Record:
        """By the entity's key values in order (``"Bill", "BILL", "000123"``) or by its id."""
        response = await self._call(
            "GET", self._url(entity, keys), params=odata_query(expand=expand)
        )
        return unwrap(response.json())

    # -- writes --------------------------------------------------------------------------

    async def put(self, entity: str, record: Record, *, update_only: bool = False) -> Record:
        """Upsert matched on key fields (or ``id``); ``update_only`` refuses a missing record
        with a Conflict (412) instead of inserting it. Field errors raise InvalidFields."""
        headers = {"If-Match": "*"} if update_only else {}
        response = await self._call("PUT", self._url(entity), json=wrap(record), headers=headers)
        return unwrap(response.json())

    async def delete(self, entity: str, *keys: str) -> None:
        await self._call("DELETE", self._url(entity, keys))

    async def action(
        self,
        entity: str,
        action: str,
        record: Record,
        parameters: Record | None = None,
        *,
        poll_interval: float = 0.5,
        timeout: float = 600.0,
    ) -> None:
        """Run an action (``ReleaseBill``) on the record named by its keys, to completion.

        202 + Location means still running: the Location is polled until it answers 204.
        """
        body = {"entity": wrap(record), "parameters": wrap(parameters or {})}
        response = await self._call("POST", self._url(entity, [action]), json=body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while response.status_code == 202:
            location = response.headers.get("Location")
            if not location:
                return  # accepted with nothing to poll: the instance runs it on its own
            if loop.time() > deadline:
                raise ActionFailed(f"{entity} {action} still running after {timeout:.0f} s")
            await asyncio.sleep(poll_interval)
            response = await self._poll(entity, action, location, response)

    async def _poll(
        self, entity: str, action: str, location: str, last: httpx.Response
    ) -> httpx.Response:
        """One look at a running action. A 500 there is the action's own failure (a
        PXException), not a server in trouble; other transient errors mean "look again"."""
        try:
            return await self.client.request_once(
                "GET", httpx.URL(self.instance + "/").join(location)
            )
        except RetryableError as exc:
            if exc.status == 500:
                raise ActionFailed(f"{entity} {action} failed: {exc}", status=500) from exc
            return last
        except FatalError as exc:
            raise ActionFailed(f"{entity} {action} failed: {exc}", status=exc.status) from exc

    async def aclose(self) -> None:
        if isinstance(self.auth, CookieSessionAuth):
            logout = self.auth.logout_request()
            if logout is not None:
                # Every open session holds an API-user seat of the licence until logged out.
                with contextlib.suppress(httpx.HTTPError):  # else it times out in the end
                    await self.client.http.send(logout, auth=None)
        await self.client.aclose()


def probe(client: AcumaticaClient, needs: Needs) -> list[Step]:
    pinned = f"{client.connection.endpoint}/{client.connection.version}"

    async def version() -> str:
        served = await client.served_versions()
        if pinned not in served:
            raise Missing(f"endpoint {pinned} is not served; the instance serves "
                          f"{', '.join(served) or 'none'}")  # fmt: skip
        return f"endpoint {pinned} is served"

    async def read() -> str:
        body = await client.client.get_json(client._url("Vendor"), params={"$top": "1"})
        return f"read {len(body) if isinstance(body, list) else 1} vendor (credentials accepted)"

    return [Step("version", version, "pin a version the instance serves (connection version)"),
            Step("read", read, "check the user, its password and the OAuth client")]  # fmt: skip
