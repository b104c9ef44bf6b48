"""``/_sim/`` routes of the Acumatica simulator: rows as a user sees them, sessions, throttle.

Rows on ``/_sim/entities`` are plain (unwrapped) values with ``id`` and detail lists; a create
gets the defaults, numbering and totals the screen would give it. Writes act as a user in
the Acumatica UI, so LastModifiedDateTime moves and push notifications fire.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulators.acumatica.push import PushNotifications, push_routes
from simulators.acumatica.store import AcumaticaStore, flat, render_value
from simulators.base import INSPECTION_PREFIX
from simulators.records import InvalidValue, Row, Table, coerce_value

if TYPE_CHECKING:
    from simulators.acumatica.auth import AcumaticaAuth
    from simulators.acumatica.limits import LicenceThrottle


class AcumaticaRecordAdapter:
    def __init__(self, store: AcumaticaStore) -> None:
        self.store = store

    def parse_id(self, table: Table, text: str) -> Hashable:
        return text.lower()

    def coerce(self, table: Table, body: dict[str, Any], creating: bool) -> dict[str, Any]:
        entity = self.store.entities[table.spec.name]
        values: dict[str, Any] = {}
        for name, value in body.items():
            if name in entity.details:
                fields = entity.details[name]
                values[name] = [
                    {
                        "id": line.get("id") or str(uuid.uuid4()),
                        **{f: coerce_value(fields[f], line.get(f), f) for f in fields},
                    }
                    for line in value
                ]
            elif name in entity.fields:
                values[name] = coerce_value(entity.fields[name], value, name)
            elif name != "id":
                raise InvalidValue(f"Unknown field '{name}' on {entity.name}.", name)
        if not creating:
            return values
        stamp = values.pop("LastModifiedDateTime", None)
        data = self.store.prepare(entity, {**entity.defaults, **values})
        return {**data, "LastModifiedDateTime": stamp}

    def render(self, table: Table, row: Row) -> dict[str, Any]:
        entity = self.store.entities[table.spec.name]
        details = {
            name: [{k: render_value(v) for k, v in line.items()} for line in row.get(name) or []]
            for name in entity.details
        }
        return {"id": row["id"], **flat(entity, row), **details}


def acumatica_sim_routes(
    store: AcumaticaStore,
    auth: AcumaticaAuth,
    throttle: LicenceThrottle,
    push: PushNotifications,
) -> list[Route]:
    async def sessions(request: Request) -> Response:
        return JSONResponse(auth.describe())

    async def end_sessions(request: Request) -> Response:
        auth.sessions.clear()
        return Response(status_code=204)

    async def licence(request: Request) -> Response:
        return JSONResponse(throttle.describe())

    async def operations(request: Request) -> Response:
        store.settle()
        rows = [
            {**asdict(op), "due": op.due.isoformat(), "row_id": str(op.row_id)}
            for op in store.operations.values()
        ]
        return JSONResponse({"operations": rows})

    p = INSPECTION_PREFIX
    return [
        Route(f"{p}/sessions", sessions, methods=["GET"]),
        Route(f"{p}/sessions", end_sessions, methods=["DELETE"]),
        Route(f"{p}/licence", licence, methods=["GET"]),
        Route(f"{p}/operations", operations, methods=["GET"]),
        *push_routes(push),
    ]
