"""ServiceNow client: Table API (CRUD, look-ups), Import Set API writes, role checks.

Writes go through Import Sets because a transform map that coalesces on the ERP key is the
platform's only upsert; the Table API is for reads, look-ups and the odd direct record.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from ml_connector.api.auth import ServiceNowAuth
from ml_connector.api.budget import RateBudget
from ml_connector.api.client import RetryPolicy
from ml_connector.api.errors import RetryableError, UnreadableAnswer
from ml_connector.api.paging import LinkHeader, PageRequest, pages
from ml_connector.clients.base import api_client
from ml_connector.connections.servicenow import ServiceNowConnection
from ml_connector.ping import Missing, Needs, Step
from ml_connector.records import Record
from ml_connector.secrets import SecretStore


@dataclass(frozen=True)
class ImportResult:
    """One row's outcome of an Import Set transform."""

    status: str  # inserted | updated | ignored | error | skipped | pending
    sys_id: str | None
    table: str | None
    message: str | None

    @property
    def ok(self) -> bool:
        return self.status in {"inserted", "updated", "ignored"}


class ImportPending(RetryableError):
    """insertMultiple rows still untransformed after the polling time: sending them again
    later coalesces onto whatever the transform did meanwhile."""


def _result(r: Record) -> ImportResult:
    return ImportResult(
        status=str(r.get("status", "error")),
        sys_id=r.get("sys_id") or None,
        table=r.get("table") or None,
        message=r.get("error_message") or r.get("status_message") or None,
    )


def _results(body: Any, what: str) -> list[ImportResult]:
    """The per-row outcomes of an Import Set answer, or UnreadableAnswer (retried) when the
    answer is JSON but not that shape: the write may or may not have happened."""
    rows = body.get("result", []) if isinstance(body, dict) else None
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise UnreadableAnswer(f"{what}: the answer has no list of results")
    return [_result(r) for r in rows]


def _staged_result(row: Record) -> ImportResult:
    """An outcome read from a staging row (what insertMultiple leaves behind)."""
    return ImportResult(
        status=str(row.get("sys_import_state", "pending")),
        sys_id=row.get("sys_target_sys_id") or None,
        table=row.get("sys_target_table") or None,
        message=row.get("sys_row_error") or row.get("sys_import_state_comment") or None,
    )


class ServiceNowClient:
    def __init__(
        self,
        connection: ServiceNowConnection,
        secrets: SecretStore,
        *,
        retry: RetryPolicy | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        self.connection = connection
        a = connection.auth
        self.auth = ServiceNowAuth(
            connection.instance_url,
            client_id=a.client_id,
            client_secret=secrets.get(a.client_secret) if a.client_secret else None,
            username=a.username,
            password=secrets.get(a.password) if a.password else None,
            grant=a.grant,
        )
        base = connection.instance_url.rstrip("/")
        self.client = api_client(connection, base, self.auth, retry=retry, budget=budget)
        self.page_size = connection.page_size

    # -- Table API -----------------------------------------------------------------------

    async def locate(self, path: str) -> str:
        """Where ``ml_connector.streams`` reads a declared table."""
        return f"/api/now/table/{path}"

    async def pages(
        self,
        table: str,
        *,
        query: str = "",
        fields: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[list[Record]]:
        """Pages of rows matching an encoded query, following ``Link: rel="next"``.

        Offset paging: fine for snapshots and look-ups; change feeds are declared streams
        with keyset paging (``ml_connector.streams``).
        """
        params = {
            "sysparm_query": query,
            "sysparm_limit": str(limit or self.page_size),
            "sysparm_exclude_reference_link": "true",
        }
        if fields:
            params["sysparm_fields"] = ",".join(fields)
        first = PageRequest(f"/api/now/table/{table}", params)
        async for page in pages(self.client, LinkHeader(), first):
            yield page.records

    async def table(
        self,
        table: str,
        *,
        query: str = "",
        fields: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[Record]:
        """All rows matching an encoded query (small tables, look-ups, reconciliation)."""
        return [row async for page in self.pages(table, query=query, fields=fields, limit=limit)
                for row in page]  # fmt: skip

    async def get(self, table: str, sys_id: str) -> Record:
        body = await self.client.get_json(
            f"/api/now/table/{table}/{sys_id}", params={"sysparm_exclude_reference_link": "true"}
        )
        return dict(body["result"])

    async def create(self, table: str, values: Record) -> Record:
        """Insert one record (201). The Table API has no upsert: prefer ``import_row``."""
        body = await self.client.send_json("POST", f"/api/now/table/{table}", values)
        return dict(body["result"])

    async def update(self, table: str, sys_id: str, changes: Record) -> Record:
        body = await self.client.send_json("PATCH", f"/api/now/table/{table}/{sys_id}", changes)
        return dict(body["result"])

    async def delete(self, table: str, sys_id: str) -> None:
        await self.client.request("DELETE", f"/api/now/table/{table}/{sys_id}")

    # -- Import Set API ------------------------------------------------------------------

    async def import_row(self, staging_table: str, row: dict[str, str]) -> list[ImportResult]:
        """POST one staging row; the transform runs synchronously and reports per target."""
        body = await self.client.send_json("POST", f"/api/now/import/{staging_table}", row)
        return _results(body, f"import into {staging_table}")

    async def import_multiple(
        self,
        staging_table: str,
        rows: Sequence[dict[str, str]],
        *,
        poll_interval: float = 1.0,
        timeout: float = 300.0,
    ) -> list[ImportResult]:
        """insertMultiple, then poll the staging rows until each one is transformed.

        The transform runs asynchronously on the instance; results come back in row order
        (one per staging row: the last transform map's outcome, as the staging row records).
        """
        answer = await self.client.send_json(
            "POST", f"/api/now/import/{staging_table}/insertMultiple", {"records": list(rows)}
        )
        if not isinstance(answer, dict) or not answer.get("import_set_id"):
            # The rows may or may not be staged: sending them again coalesces, so retry.
            raise UnreadableAnswer(f"insertMultiple into {staging_table}: no import_set_id")
        import_set = str(answer["import_set_id"])
        query = f"sys_import_set={import_set}^ORDERBYsys_import_row"
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            staged = await self.table(staging_table, query=query)
            results = [_staged_result(r) for r in staged]
            done = len(staged) >= len(rows) and all(r.status != "pending" for r in results)
            if done:
                return results
            if asyncio.get_running_loop().time() > deadline:
                raise ImportPending(
                    f"import set {import_set} of {staging_table}: "
                    f"{sum(r.status == 'pending' for r in results)} rows still pending"
                )
            await asyncio.sleep(poll_interval)

    async def import_status(self, staging_table: str, sys_id: str) -> list[ImportResult]:
        """Outcome of one staging row by its sys_id (GET /api/now/import/{table}/{sys_id})."""
        body = await self.client.get_json(f"/api/now/import/{staging_table}/{sys_id}")
        return _results(body, f"import row {sys_id} of {staging_table}")

    # -- roles ---------------------------------------------------------------------------

    async def roles_of(self, user_name: str) -> set[str]:
        rows = await self.table(
            "sys_user_has_role", query=f"user.user_name={user_name}", fields=["role.name"]
        )
        return {str(r["role.name"]) for r in rows if r.get("role.name")}

    async def missing_roles(self, user_name: str, required: Sequence[str]) -> list[str]:
        """Roles the integration user lacks; writes fail with 403 ACL errors without them."""
        have = await self.roles_of(user_name)
        return [role for role in required if role not in have]

    async def aclose(self) -> None:
        await self.client.aclose()


# Import Set writes run their transform maps as the integration user.
IMPORT_ROLES = ("import_transformer", "import_admin", "import_set_loader")


def probe(client: ServiceNowClient, needs: Needs) -> list[Step]:
    conn = client.connection
    user = conn.auth.username

    async def auth() -> str:
        await client.table("sys_user_role", fields=["sys_id"], limit=1)
        if client.auth.use_basic and conn.auth.grant != "basic" and conn.auth.client_id:
            raise Missing("the OAuth grant was refused; calls fall back to basic auth")
        return "basic auth" if client.auth.use_basic else f"OAuth ({conn.auth.grant})"

    async def roles() -> str:
        if user is None:
            return "roles not checked (no user name in the connection)"
        have = await client.roles_of(user)
        if "admin" not in have and not have & set(IMPORT_ROLES):
            raise Missing(f"{user} has none of the roles {', '.join(IMPORT_ROLES)} that Import "
                          "Set writes need")  # fmt: skip
        return f"{user} may load import sets"

    async def tables() -> str:
        read = [t.table for e, t in conn.source_tables.items() if e in needs.reads]
        for table in read:  # a 403 names the table the user may not read
            await client.table(table, fields=["sys_id"], limit=1)
        return f"reads {', '.join(read)}" if read else "no source tables to read"

    steps = [Step("auth", auth, "check client_id / client_secret, or set grant: basic")]
    if needs.writes:
        steps.append(Step("roles", roles, "grant the integration user import_transformer"))
    if needs.reads:
        steps.append(Step("tables", tables, "grant the integration user read access to "
                          "that table (an Accounts Payable or procurement role)"))  # fmt: skip
    return steps
