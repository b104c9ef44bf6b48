"""``/_sim/`` routes of the ServiceNow simulator: raw table access and coalesce counts.

No auth and no request logging. Writes act as an instance user ("admin") editing a form, so
sys_updated_on and sys_mod_count move exactly as they would for a real edit; a create may
force its sys_updated_on, to put two rows on one timestamp.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulators.base import INSPECTION_PREFIX, BadJson, read_json
from simulators.servicenow.tables import RecordNotFound

if TYPE_CHECKING:
    from simulators.servicenow.store import ServiceNowStore

UI_USER = "admin"
STAMP = "%Y-%m-%d %H:%M:%S"  # how the instance shows sys_updated_on (UTC here)

Endpoint = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


def inspection_routes(store: ServiceNowStore) -> list[Route]:
    def guarded(handler: Endpoint) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            name = request.path_params.get("table")
            if name is not None and store.table(name) is None:
                return _error(404, f"Unknown table '{name}'.")
            try:
                return await handler(request)
            except RecordNotFound as exc:
                return _error(404, f"No record {exc} in '{name}'.")
            except BadJson as exc:
                return _error(400, f"Body is not JSON: {exc}")

        return endpoint

    async def body_of(request: Request) -> dict[str, Any]:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise BadJson("expected an object")
        return body

    async def tables(request: Request) -> Response:
        listing = [{"name": name, "count": len(t.records)} for name, t in store.tables.items()]
        return JSONResponse({"tables": listing})

    async def list_rows(request: Request) -> Response:
        return JSONResponse({"result": store.snapshot(request.path_params["table"])})

    async def get_row(request: Request) -> Response:
        table = store.tables[request.path_params["table"]]
        return JSONResponse({"result": dict(table.get(request.path_params["sys_id"]))})

    async def create_row(request: Request) -> Response:
        """A body may carry ``sys_updated_on`` to force the stamp (two rows on one second)."""
        body = await body_of(request)
        stamp = body.pop("sys_updated_on", None)
        try:
            at = datetime.strptime(str(stamp), STAMP).replace(tzinfo=UTC) if stamp else None
        except ValueError:
            return _error(400, f"sys_updated_on must look like 2024-01-02 08:00:00: {stamp!r}")
        record = store.insert(request.path_params["table"], body, UI_USER, at=at)
        return JSONResponse({"result": dict(record)}, 201)

    async def update_row(request: Request) -> Response:
        name, sys_id = request.path_params["table"], request.path_params["sys_id"]
        record = store.update(name, sys_id, await body_of(request), UI_USER)
        return JSONResponse({"result": dict(record)})

    async def delete_row(request: Request) -> Response:
        store.delete(request.path_params["table"], request.path_params["sys_id"])
        return Response(status_code=204)

    async def counts(request: Request) -> Response:
        """Rows per coalesce value, case-folded as coalescing is: proves "each vendor once"."""
        name = request.path_params["table"]
        column = request.query_params.get("field")
        if column is None:
            coalesce = {
                c for m in store.transform_maps if m.target_table == name for c in m.coalesce
            }
            if len(coalesce) != 1:
                return _error(400, "Say which column to count with ?field=<column>.")
            column = coalesce.pop()
        if column not in store.tables[name].columns:
            return _error(400, f"Unknown column '{column}' on '{name}'.")
        tally = Counter(r.get(column, "").casefold() for r in store.snapshot(name))
        tally.pop("", None)  # rows without a value (non-vendors) are not counted
        duplicates = {k: n for k, n in tally.items() if n > 1}
        return JSONResponse(
            {"table": name, "field": column, "counts": dict(tally), "duplicates": duplicates}
        )

    async def transform_maps(request: Request) -> Response:
        return JSONResponse({"transform_maps": [asdict(m) for m in store.transform_maps]})

    base = f"{INSPECTION_PREFIX}/tables"
    return [
        Route(base, tables, methods=["GET"]),
        Route(f"{INSPECTION_PREFIX}/transform-maps", transform_maps, methods=["GET"]),
        Route(f"{base}/{{table}}", guarded(list_rows), methods=["GET"]),
        Route(f"{base}/{{table}}", guarded(create_row), methods=["POST"]),
        Route(f"{base}/{{table}}/counts", guarded(counts), methods=["GET"]),
        Route(f"{base}/{{table}}/{{sys_id}}", guarded(get_row), methods=["GET"]),
        Route(f"{base}/{{table}}/{{sys_id}}", guarded(update_row), methods=["PATCH"]),
        Route(f"{base}/{{table}}/{{sys_id}}", guarded(delete_row), methods=["DELETE"]),
    ]
