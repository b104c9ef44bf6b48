"""Business Central entity set handlers: list, get, create (with deep insert), update, delete.

One set of handlers serves every ``EntitySetDef``, at company level and, for document lines,
under their header (``purchaseOrders({id})/purchaseOrderLines``), where the header's id is
``ctx.parent_id``. Query options are strict as on the real service: an unknown property in
``$select`` or ``$expand`` is a 400.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from simulators.base import BadJson, read_json
from simulators.business_central.entities import EntitySetDef, children_of
from simulators.business_central.expand import Expansion, check, parse_expand, render_expansions
from simulators.business_central.http import (
    ApiContext,
    Handler,
    bc_error,
    next_link,
    odata_response,
)
from simulators.business_central.store import BusinessCentralStore, Row
from simulators.business_central.values import InvalidValue, NotFound, coerce
from simulators.odata import ODataError, list_page

if TYPE_CHECKING:
    from simulators.business_central.options import BusinessCentralOptions


Endpoint = Callable[[Handler], Callable[[Request], Awaitable[Response]]]


def _unwrapped(handler: Handler) -> Handler:
    return handler


def _unknown_property(name: str, definition: EntitySetDef) -> ODataError:
    return ODataError(
        f"Could not find a property named '{name}' on type 'Microsoft.NAV.{definition.type_name}'."
    )


class EntityHandlers:
    def __init__(self, store: BusinessCentralStore, options: BusinessCentralOptions) -> None:
        self.store = store
        self.options = options

    # -- query options -------------------------------------------------------------------

    def context_url(self, ctx: ApiContext, entity_set: str, suffix: str = "") -> str:
        return f"{ctx.root}/$metadata#companies({ctx.company_id})/{entity_set}{suffix}"

    def select(self, definition: EntitySetDef, request: Request) -> list[str] | None:
        text = request.query_params.get("$select")
        if not text:
            return None
        names = [n.strip() for n in text.split(",") if n.strip()]
        for name in names:
            if name not in definition.fields and name not in definition.streams:
                raise _unknown_property(name, definition)
        return names

    def expand(self, definition: EntitySetDef, request: Request) -> list[Expansion]:
        text = request.query_params.get("$expand")
        if not text:
            return []
        expansions = parse_expand(text)
        check(definition, expansions, self.store.entity_sets, _unknown_property)
        return expansions

    def render(
        self,
        definition: EntitySetDef,
        row: Row,
        select: list[str] | None,
        expand: list[Expansion],
        ctx: ApiContext,
    ) -> dict[str, Any]:
        fields = None if select is None else [n for n in select if n in definition.fields]
        out = self.store.render(definition.name, row, fields, (), ctx.company_id)
        # A stream is not inline JSON: OData names where to read and write it.
        for stream in definition.streams:
            if select is None or stream in select:
                url = f"{ctx.root}/companies({ctx.company_id})/{definition.name}"
                link = f"{url}({row.values['id']})/{stream}"
                out[f"{stream}@odata.mediaEditLink"] = link
                out[f"{stream}@odata.mediaReadLink"] = link
        return out | render_expansions(self.store, definition, row, expand, ctx.company_id)

    def _page_size(self, request: Request) -> tuple[int, int | None]:
        """(page size, preferred size applied or None); OverflowError when too large."""
        preferred: int | None = None
        for pref in request.headers.get("prefer", "").split(","):
            name, _, value = pref.strip().partition("=")
            if name.strip().lower() == "odata.maxpagesize" and value.strip().isdigit():
                preferred = int(value)
        if preferred is not None and preferred > self.options.max_page_size:
            raise OverflowError(preferred)
        if preferred is None or preferred <= 0:
            return self.options.page_size, None
        return min(preferred, self.options.page_size), preferred

    def _parent_checked(self, ctx: ApiContext, definition: EntitySetDef) -> str | None:
        """The header id of a nested URL, after checking the header exists (404 otherwise)."""
        parent_id = ctx.parent_id
        if parent_id is not None and definition.parent is not None:
            self.store.get(ctx.company_id, definition.parent, parent_id)
        return parent_id

    def routes(
        self,
        collection: str,
        definition: EntitySetDef,
        endpoint: Endpoint,
        *,
        guard: Callable[[Handler], Handler] = _unwrapped,
        create: Handler | None = None,
    ) -> list[BaseRoute]:
        """The collection and single-entity routes of one entity set at ``collection``;
        ``guard`` wraps each handler (a navigation checking its source), ``create`` replaces
        the generic POST."""
        single = f"{collection}({{id}})"
        posted = create or self.create_handler(definition)
        return [
            Route(collection, endpoint(guard(self.list_handler(definition))), methods=["GET"]),
            Route(collection, endpoint(posted), methods=["POST"]),
            Route(single, endpoint(guard(self.get_handler(definition))), methods=["GET"]),
            Route(single, endpoint(guard(self.update_handler(definition))), methods=["PATCH"]),
            Route(single, endpoint(guard(self.delete_handler(definition))), methods=["DELETE"]),
        ]

    # -- handlers ------------------------------------------------------------------------

    def list_handler(self, definition: EntitySetDef) -> Handler:
        async def handler(ctx: ApiContext) -> Response:
            request = ctx.request
            params = request.query_params
            try:
                size, applied = self._page_size(request)
            except OverflowError:
                return bc_error(
                    413,
                    "RequestEntityTooLarge",
                    f"The page size cannot exceed {self.options.max_page_size} entities.",
                )
            select, expand = self.select(definition, request), self.expand(definition, request)
            parent_id = self._parent_checked(ctx, definition)
            stored = {
                r.values["id"]: r
                for r in self.store.rows(ctx.company_id, definition.name, parent_id)
            }
            options = dict(params)
            if definition.parent is not None and "$orderby" not in options:
                # Lines come in document order (BC's key: document, then line number).
                options["$orderby"] = f"{definition.parent_field},{definition.key_field}"
            result = list_page(
                [r.values for r in stored.values()],
                options,
                definition.fields,
                definition.type_name,
                size,
            )
            selected = f"({','.join(select)})" if select else ""
            body: dict[str, Any] = {
                "@odata.context": self.context_url(ctx, definition.name + selected)
            }
            if params.get("$count", "").lower() == "true":
                body["@odata.count"] = result.total
            body["value"] = [
                self.render(definition, stored[r["id"]], select, expand, ctx) for r in result.rows
            ]
            link = next_link(request, result)
            if link is not None:
                body["@odata.nextLink"] = link
            headers = {"Preference-Applied": f"odata.maxpagesize={applied}"} if applied else None
            return odata_response(body, headers=headers)

        return handler

    def entity_response(
        self,
        ctx: ApiContext,
        definition: EntitySetDef,
        row: Row,
        status: int = 200,
        expand: list[Expansion] | None = None,
    ) -> Response:
        names = self.expand(definition, ctx.request) if expand is None else expand
        rendered = self.render(definition, row, self.select(definition, ctx.request), names, ctx)
        body = {"@odata.context": self.context_url(ctx, definition.name, "/$entity"), **rendered}
        headers = {"ETag": self.store.etag(row)}
        if status == 201:
            headers["Location"] = (
                f"{ctx.root}/companies({ctx.company_id})/{definition.name}({row.values['id']})"
            )
        return odata_response(body, status, headers)

    async def json_object(self, ctx: ApiContext) -> dict[str, Any]:
        try:
            body = await read_json(ctx.request)
        except BadJson as exc:
            raise InvalidValue(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise InvalidValue("The request body must be a JSON object.")
        return body

    def values_of(
        self, definition: EntitySetDef, body: dict[str, Any], *, deep: bool = False
    ) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
        """(coerced writable fields, lines to deep-insert); unknown properties are refused,
        read-only ones ignored, as BC does."""
        values: dict[str, Any] = {}
        lines: dict[str, list[dict[str, Any]]] = {}
        children = {c.name for c in children_of(definition.name)}
        for name, value in body.items():
            if name.startswith("@odata."):
                continue
            if deep and name in children:
                if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                    raise InvalidValue(f"The navigation property '{name}' must be an array.")
                lines[name] = value
                continue
            if name not in definition.fields:
                raise InvalidValue(
                    f"The property '{name}' does not exist on type "
                    f"'Microsoft.NAV.{definition.type_name}'. Make sure to only use property "
                    "names that are defined by the type."
                )
            if name not in definition.read_only:
                values[name] = coerce(definition, name, value)
        return values, lines

    def precondition(self, ctx: ApiContext, row: Row, required: bool) -> Response | None:
        match = ctx.request.headers.get("if-match")
        if match is None:
            if not required:
                return None
            return bc_error(
                400,
                "BadRequest",
                "Could not validate the client concurrency token required by the service. "
                "Please provide a valid token in the client request.",
            )
        if match.strip() != "*" and match.strip() != self.store.etag(row):
            return bc_error(
                412,
                self.options.stale_etag_code,
                "Could not save the changes because the record was changed by another user. "
                "Refresh the record and try again.",
            )
        return None

    def _in_parent(self, ctx: ApiContext, definition: EntitySetDef, row: Row) -> Row:
        parent_id = self._parent_checked(ctx, definition)
        field = definition.parent_field
        if parent_id is not None and field is not None and row.values.get(field) != parent_id:
            raise NotFound(
                f"The {definition.label} does not exist. Identification fields and values: "
                f"Id='{row.values['id']}'"
            )
        return row

    def get_handler(self, definition: EntitySetDef) -> Handler:
        async def handler(ctx: ApiContext) -> Response:
            row = self.store.get(ctx.company_id, definition.name, ctx.request.path_params["id"])
            return self.entity_response(ctx, definition, self._in_parent(ctx, definition, row))

        return handler

    def create_handler(self, definition: EntitySetDef) -> Handler:
        async def handler(ctx: ApiContext) -> Response:
            self.store.check_writable(ctx.company_id, definition.name, "POST")
            values, lines = self.values_of(definition, await self.json_object(ctx), deep=True)
            parent_id = self._parent_checked(ctx, definition)
            if parent_id is not None and definition.parent_field is not None:
                values[definition.parent_field] = parent_id
            with self.store.lock:
                if definition.parent is not None:
                    parent_ref = str(values.get(str(definition.parent_field)))
                    header = self.store.get(ctx.company_id, definition.parent, parent_ref)
                    self.store.check_writable(ctx.company_id, definition.parent, "POST", header)
                row = self.insert_document(ctx, definition, values, lines)
            # A deep insert answers with the lines it created, as if they had been expanded.
            deep = [Expansion(name) for name in lines] or None
            return self.entity_response(ctx, definition, row, 201, deep)

        return handler

    def insert_document(
        self,
        ctx: ApiContext,
        definition: EntitySetDef,
        values: dict[str, Any],
        lines: dict[str, list[dict[str, Any]]],
    ) -> Row:
        """Header and deep-inserted lines, all or nothing (a failing line removes the header)."""
        row = self.store.insert(ctx.company_id, definition.name, values)
        try:
            for child_name, child_bodies in lines.items():
                child = self.store.entity_sets[child_name]
                for body in child_bodies:
                    child_values, _ = self.values_of(child, body)
                    assert child.parent_field is not None
                    child_values[child.parent_field] = row.values["id"]
                    self.store.insert(ctx.company_id, child_name, child_values)
        except Exception:
            self.store.delete(ctx.company_id, definition.name, row.values["id"])
            raise
        return self.store.get(ctx.company_id, definition.name, row.values["id"])

    def update_handler(self, definition: EntitySetDef) -> Handler:
        async def handler(ctx: ApiContext) -> Response:
            row_id = ctx.request.path_params["id"]
            self.store.check_writable(ctx.company_id, definition.name, "PATCH")
            values, _ = self.values_of(definition, await self.json_object(ctx))
            with self.store.lock:
                row = self.store.get(ctx.company_id, definition.name, row_id)
                self._in_parent(ctx, definition, row)
                refused = self.precondition(ctx, row, required=True)
                if refused is not None:
                    return refused
                self.store.check_writable(ctx.company_id, definition.name, "PATCH", row)
                row = self.store.update(ctx.company_id, definition.name, row_id, values)
            return self.entity_response(ctx, definition, row)

        return handler

    def delete_handler(self, definition: EntitySetDef) -> Handler:
        async def handler(ctx: ApiContext) -> Response:
            row_id = ctx.request.path_params["id"]
            self.store.check_writable(ctx.company_id, definition.name, "DELETE")
            with self.store.lock:
                row = self.store.get(ctx.company_id, definition.name, row_id)
                self._in_parent(ctx, definition, row)
                required = self.options.require_if_match_on_delete
                refused = self.precondition(ctx, row, required=required)
                if refused is not None:
                    return refused
                self.store.check_writable(ctx.company_id, definition.name, "DELETE", row)
                self.store.delete(ctx.company_id, definition.name, row_id)
            return Response(status_code=204)

        return handler
