"""``/_sim/`` routes of the ServiceTitan simulator: rows as an office user edits them.

Rows on ``/_sim/entities/{resource}`` are ServiceTitan JSON; ``modifiedOn`` moves on every
change and webhooks fire as for a change made in the ServiceTitan UI. Receiving a purchase
order (``POST /_sim/purchase-orders/{id}/receive``) creates its AP bill, as ServiceTitan does
when auto-create-bill is on: bills cannot be written through the API.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulators.base import INSPECTION_PREFIX
from simulators.odata import parse_datetime
from simulators.records import InvalidValue, Row, Table
from simulators.servicetitan.store import ServiceTitanStore, StError, render

_TIMESTAMPS = ("modifiedOn", "createdOn")


class StRecordAdapter:
    def __init__(self, store: ServiceTitanStore) -> None:
        self.store = store

    def parse_id(self, table: Table, text: str) -> Hashable:
        if not text.isdigit():
            raise InvalidValue(f"'{text}' is not a ServiceTitan id.")
        return int(text)

    def coerce(self, table: Table, body: dict[str, Any], creating: bool) -> dict[str, Any]:
        values = dict(body)
        for name in _TIMESTAMPS:
            if values.get(name) is not None:
                values[name] = parse_datetime(str(values[name]))
        if creating:
            values.setdefault("active", True)
        return values

    def render(self, table: Table, row: Row) -> dict[str, Any]:
        rendered: dict[str, Any] = render(row)
        return rendered


def servicetitan_sim_routes(store: ServiceTitanStore) -> list[Route]:
    async def receive(request: Request) -> Response:
        raw = request.path_params["id"]
        try:
            bill = store.receive_order(int(raw) if raw.isdigit() else -1)
        except StError as exc:
            return JSONResponse({"error": exc.title}, exc.status)
        return JSONResponse(render(bill), 201)

    path = f"{INSPECTION_PREFIX}/purchase-orders/{{id}}/receive"
    return [Route(path, receive, methods=["POST"])]
