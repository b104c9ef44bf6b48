"""``/_sim/`` routes of the Business Central simulator: see and change data as a BC user would.

No auth, no If-Match, no request logging: tests and the demo use these to set up scenarios
(edit a vendor "in the BC UI", force two records onto one timestamp) and to check outcomes.
Writes still go through the store, so lastModifiedDateTime and the etag move as in BC.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulators.base import INSPECTION_PREFIX, BadJson, read_json
from simulators.business_central.store import (
    BusinessCentralStore,
    DuplicateKey,
    InvalidValue,
    NotFound,
    coerce,
)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


def inspection_routes(store: BusinessCentralStore) -> list[Route]:
    def company_of(request: Request) -> str:
        return request.query_params.get("company", store.default_company_id()).lower()

    async def body_of(request: Request, entity_set: str) -> tuple[dict[str, Any], Any]:
        """(coerced values, explicit lastModifiedDateTime or None)."""
        definition = store.entity_sets[entity_set]
        try:
            body = await read_json(request)
        except BadJson as exc:
            raise InvalidValue(str(exc)) from exc
        if not isinstance(body, dict):
            raise InvalidValue("The body must be a JSON object.")
        values: dict[str, Any] = {}
        for name, value in body.items():
            if name not in definition.fields:
                raise InvalidValue(f"Unknown field '{name}' on {entity_set}.")
            values[name] = coerce(definition, name, value)
        return values, values.pop("lastModifiedDateTime", None)

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            entity_set = request.path_params.get("entity_set")
            if entity_set is not None and entity_set not in store.entity_sets:
                return _error(404, f"Unknown entity set '{entity_set}'.")
            try:
                response: Response = await handler(request)
                return response
            except NotFound as exc:
                return _error(404, str(exc))
            except (InvalidValue, DuplicateKey) as exc:
                return _error(400, str(exc))

        return endpoint

    async def companies(request: Request) -> Response:
        return JSONResponse({"value": [c.render() for c in store.companies.values()]})

    async def list_rows(request: Request) -> Response:
        entity_set = request.path_params["entity_set"]
        rows = store.rows(company_of(request), entity_set)
        return JSONResponse({"value": [store.render(entity_set, r) for r in rows]})

    async def get_row(request: Request) -> Response:
        entity_set = request.path_params["entity_set"]
        row = store.get(company_of(request), entity_set, request.path_params["id"])
        return JSONResponse(store.render(entity_set, row))

    async def create_row(request: Request) -> Response:
        entity_set = request.path_params["entity_set"]
        values, stamp = await body_of(request, entity_set)
        row = store.insert(company_of(request), entity_set, values, stamp=stamp)
        return JSONResponse(store.render(entity_set, row), 201)

    async def update_row(request: Request) -> Response:
        entity_set = request.path_params["entity_set"]
        values, stamp = await body_of(request, entity_set)
        values.pop("id", None)
        row = store.update(
            company_of(request), entity_set, request.path_params["id"], values, stamp=stamp
        )
        return JSONResponse(store.render(entity_set, row))

    async def delete_row(request: Request) -> Response:
        entity_set = request.path_params["entity_set"]
        store.delete(company_of(request), entity_set, request.path_params["id"])
        return Response(status_code=204)

    async def batch_operations(request: Request) -> Response:
        """Operations run inside ``$batch`` requests, counted like ``/_sim/calls``."""
        with store.lock:
            counts = dict(store.batch_operations)
        calls = [
            {"method": m, "route": r, "count": n} for (m, r), n in sorted(counts.items(), key=str)
        ]
        return JSONResponse({"operations": calls, "total": sum(counts.values())})

    base = f"{INSPECTION_PREFIX}/entities/{{entity_set}}"
    return [
        Route(f"{INSPECTION_PREFIX}/batch-operations", batch_operations, methods=["GET"]),
        Route(f"{INSPECTION_PREFIX}/companies", companies, methods=["GET"]),
        Route(base, guarded(list_rows), methods=["GET"]),
        Route(base, guarded(create_row), methods=["POST"]),
        Route(f"{base}/{{id}}", guarded(get_row), methods=["GET"]),
        Route(f"{base}/{{id}}", guarded(update_row), methods=["PATCH"]),
        Route(f"{base}/{{id}}", guarded(delete_row), methods=["DELETE"]),
    ]
