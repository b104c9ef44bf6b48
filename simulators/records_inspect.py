"""``/_sim/entities`` routes over a ``records.Database``: see and change rows as a user would.

No auth and no request log. Writes go through the database, so modified stamps, the change
sequence and every listener (webhooks, business events, push notifications) behave as for an
edit made in the system's own UI. A body may carry the table's modified field to force a
stamp (for example to put two records on one timestamp).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulators.base import INSPECTION_PREFIX, BadJson, read_json
from simulators.records import Database, DuplicateKey, InvalidValue, NotFound, Row, Table

Endpoint = Callable[[Request], Awaitable[Response]]


class RecordAdapter(Protocol):
    """How one simulator names, reads and writes its rows on the inspection API."""

    def parse_id(self, table: Table, text: str) -> Hashable: ...

    def coerce(self, table: Table, body: dict[str, Any], creating: bool) -> dict[str, Any]:
        """Typed values; on create also the defaults the system fills in."""
        ...

    def render(self, table: Table, row: Row) -> dict[str, Any]: ...


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


def entity_routes(db: Database, adapter: RecordAdapter) -> list[Route]:
    def guarded(handler: Callable[[Request, Table], Awaitable[Response]]) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            table = db.tables.get(request.path_params["name"])
            if table is None:
                return _error(404, f"Unknown entity '{request.path_params['name']}'.")
            try:
                return await handler(request, table)
            except NotFound as exc:
                return _error(404, str(exc))
            except (InvalidValue, DuplicateKey, BadJson, ValueError) as exc:
                return _error(400, str(exc))

        return endpoint

    async def values_of(
        request: Request, table: Table, creating: bool
    ) -> tuple[dict[str, Any], Any]:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise BadJson("The body must be a JSON object.")
        values = adapter.coerce(table, body, creating)
        field = table.spec.modified_field
        return values, values.pop(field, None) if field else None

    def row_id(request: Request, table: Table) -> Hashable:
        return adapter.parse_id(table, request.path_params["id"])

    async def names(request: Request) -> Response:
        listing = [{"name": n, "count": len(t.rows)} for n, t in db.tables.items()]
        return JSONResponse({"entities": listing})

    async def list_rows(request: Request, table: Table) -> Response:
        rows = db.rows(table.spec.name)
        return JSONResponse({"value": [adapter.render(table, r) for r in rows]})

    async def get_row(request: Request, table: Table) -> Response:
        row = db.get(table.spec.name, row_id(request, table))
        return JSONResponse(adapter.render(table, row))

    async def create_row(request: Request, table: Table) -> Response:
        values, stamp = await values_of(request, table, True)
        row = db.insert(table.spec.name, values, stamp=stamp)
        return JSONResponse(adapter.render(table, row), 201)

    async def update_row(request: Request, table: Table) -> Response:
        values, stamp = await values_of(request, table, False)
        values.pop("id", None)
        row = db.update(table.spec.name, row_id(request, table), values, stamp=stamp)
        return JSONResponse(adapter.render(table, row))

    async def delete_row(request: Request, table: Table) -> Response:
        db.delete(table.spec.name, row_id(request, table))
        return Response(status_code=204)

    base = f"{INSPECTION_PREFIX}/entities"
    one = f"{base}/{{name}}/{{id}}"
    return [
        Route(base, names, methods=["GET"]),
        Route(f"{base}/{{name}}", guarded(list_rows), methods=["GET"]),
        Route(f"{base}/{{name}}", guarded(create_row), methods=["POST"]),
        Route(one, guarded(get_row), methods=["GET"]),
        Route(one, guarded(update_row), methods=["PATCH"]),
        Route(one, guarded(delete_row), methods=["DELETE"]),
    ]
