"""Dynamics 365 Finance & Operations simulator: Entra token endpoint and the OData data API.

URL shapes follow the real service so a client only swaps base URLs: token at
``{base}/{tenant}/oauth2/v2.0/token`` (login.microsoftonline.com in production) with scope
``https://{env}.operations.dynamics.com/.default`` (or this app's own base URL), data at
``{base}/data/{EntitySet}`` and ``{base}/data/$metadata`` ({env}.operations.dynamics.com).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from simulators.base import BadJson, build_app, read_json
from simulators.credentials import bearer_token
from simulators.deliveries import delivery_routes
from simulators.entra import EntraApp
from simulators.entra_discovery import authority_routes
from simulators.finance_operations.actions import find_action
from simulators.finance_operations.entities import EntityDef
from simulators.finance_operations.events import event_routes
from simulators.finance_operations.inspection import FnoRecordAdapter
from simulators.finance_operations.metadata_service import metadata_routes
from simulators.finance_operations.odata import (
    format_key,
    metadata_xml,
    odata_message,
    parse_filter,
    parse_key,
    parse_segment,
    render_value,
)
from simulators.finance_operations.options import FinanceOperationsOptions
from simulators.finance_operations.store import WRITE_EXCEPTION, FinanceOperationsStore, FnoError
from simulators.limits import ConcurrencyRule, RateLimiter, RateRule, Rejection, credential_key
from simulators.odata import Kind, ODataError, list_page
from simulators.records_inspect import entity_routes


def fno_error(
    status: int, message: str, inner_type: str = "", headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """F&O's OData error; write failures say only "An error has occurred." up top."""
    top = "An error has occurred." if inner_type == WRITE_EXCEPTION else message
    body = {
        "error": {
            "code": "",
            "message": top,
            "innererror": {"message": message, "type": inner_type, "stacktrace": ""},
        }
    }
    return JSONResponse(body, status, headers=dict(headers or {}))


def fault_error(status: int, message: str, headers: Mapping[str, str]) -> Response:
    return fno_error(status, message, "", headers)


def limit_error(rejection: Rejection) -> Response:
    # F&O's service protection always sends Retry-After with its 429.
    return fno_error(
        rejection.status,
        "The request was throttled by service protection API limits "
        f"({rejection.rule}). Retry after {rejection.retry_after} seconds.",
        "",
        {"Retry-After": str(rejection.retry_after)},
    )


def limiter_for(store: FinanceOperationsStore) -> RateLimiter:
    options = store.options
    data = r"^/data(/|$)"
    concurrency = None
    if options.max_concurrent_requests is not None:
        concurrency = ConcurrencyRule(
            "concurrent-requests", options.max_concurrent_requests, 0, 0.0, data
        )
    return RateLimiter(
        store.clock,
        rates=[
            RateRule(
                "requests-per-user",
                options.rate_limit_requests,
                options.rate_limit_window_seconds,
                data,
            )
        ],
        concurrency=concurrency,
        key_of=credential_key(store.tokens),
        reject=limit_error,
    )


def _odata(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    response = JSONResponse(body, status, headers=headers)
    response.headers["content-type"] = "application/json; odata.metadata=minimal"
    response.headers["OData-Version"] = "4.0"
    return response


Handler = Callable[[Request], Awaitable[Response]]


class FinanceOperationsApi:
    def __init__(self, store: FinanceOperationsStore) -> None:
        self.store = store
        self.options = store.options
        self.entra = EntraApp(
            tenant=self.options.tenant,
            tenant_id=self.options.tenant_id,
            client_id=self.options.client_id,
            client_secret=self.options.client_secret,
            lifetime_seconds=self.options.token_lifetime_seconds,
        )

    def scopes(self, request: Request) -> list[str]:
        own = str(request.base_url).rstrip("/")
        return [
            f"https://{self.options.environment}.operations.dynamics.com/.default",
            f"{own}/.default",
        ]

    def authed(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            token = bearer_token(request)
            if token is None or self.store.tokens.validate(token) is None:
                # F&O answers an unusable token with a bare 401.
                return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
            try:
                return await handler(request)
            except ODataError as exc:
                return fno_error(400, odata_message(exc), "Microsoft.OData.ODataException")
            except FnoError as exc:
                return fno_error(exc.status, str(exc), exc.inner_type)

        return endpoint

    # -- helpers -------------------------------------------------------------------------

    def _root(self, request: Request) -> str:
        return str(request.base_url).rstrip("/") + "/data"

    def _target(self, request: Request) -> tuple[EntityDef, dict[str, Any] | None]:
        name, key_text = parse_segment(request.path_params["target"])
        entity = self.store.entities.get(name)
        if entity is None:
            raise FnoError(
                404, f"No HTTP resource was found that matches the request URI '{request.url}'.", ""
            )
        return entity, parse_key(key_text, entity) if key_text is not None else None

    def _names(self, entity: EntityDef, text: str | None, option: str) -> list[str] | None:
        if not text:
            return None
        names = [n.strip() for n in text.split(",") if n.strip()]
        known = entity.navigation if option == "$expand" else self.store.fields[entity.name]
        for name in names:
            if name not in known:
                raise ODataError(
                    f"Could not find a property named '{name}' on type '{entity.qualified_type}'."
                )
        return names

    def _etag(self, entity: EntityDef, row: Mapping[str, Any]) -> str:
        inner = f"'{self.store.version(entity, row)},{row['id']}'"
        return 'W/"' + base64.b64encode(inner.encode()).decode() + '"'

    def _render(
        self,
        entity: EntityDef,
        row: Mapping[str, Any],
        select: list[str] | None,
        expand: list[str] | None,
    ) -> dict[str, Any]:
        names = select or list(self.store.fields[entity.name])
        out: dict[str, Any] = {"@odata.etag": self._etag(entity, row)}
        out.update({n: render_value(row.get(n)) for n in names})
        for nav_name in expand or ():
            nav = entity.navigation[nav_name]
            target = self.store.entities[nav.target]
            related = [
                self._render(target, r, None, None)
                for r in self.store.related(entity, row, nav_name)
            ]
            out[nav_name] = related if nav.many else (related[0] if related else None)
        return out

    def _entity_response(
        self, request: Request, entity: EntityDef, row: dict[str, Any], status: int = 200
    ) -> Response:
        params = request.query_params
        select = self._names(entity, params.get("$select"), "$select")
        expand = self._names(entity, params.get("$expand"), "$expand")
        root = self._root(request)
        body = {
            "@odata.context": f"{root}/$metadata#{entity.name}/$entity",
            **self._render(entity, row, select, expand),
        }
        headers = {"ETag": self._etag(entity, row)}
        if status == 201:
            headers["Location"] = f"{root}/{format_key(entity, row)}"
            headers["OData-EntityId"] = headers["Location"]
        return _odata(body, status, headers)

    async def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = await read_json(request)
        except BadJson as exc:
            raise FnoError(
                400, f"The request body is not valid JSON: {exc}", "Microsoft.OData.ODataException"
            ) from exc
        if not isinstance(body, dict):
            raise FnoError(
                400, "The request body must be a JSON object.", "Microsoft.OData.ODataException"
            )
        return body

    # -- routes --------------------------------------------------------------------------

    async def metadata(self, request: Request) -> Response:
        xml = metadata_xml(self.store.entities, self.store.fields)
        return Response(xml, media_type="application/xml", headers={"OData-Version": "4.0"})

    async def service_document(self, request: Request) -> Response:
        root = self._root(request)
        value = [{"name": n, "kind": "EntitySet", "url": n} for n in self.store.entities]
        return _odata({"@odata.context": f"{root}/$metadata", "value": value})

    async def read(self, request: Request) -> Response:
        entity, key = self._target(request)
        if key is not None:
            return self._entity_response(request, entity, self.store.get(entity, key))
        params = request.query_params
        cross = params.get("cross-company", "").lower() == "true"
        select = self._names(entity, params.get("$select"), "$select")
        expand = self._names(entity, params.get("$expand"), "$expand")
        fields = self.store.fields[entity.name]
        rows = self.store.rows(entity, cross)
        if params.get("$filter"):
            predicate = parse_filter(params["$filter"], entity, fields)
            rows = [r for r in rows if predicate(r)]
        paging = {k: params[k] for k in ("$orderby", "$top", "$skip") if k in params}
        # Ties on $orderby fall back to RecId order, which is also F&O's default order.
        page = list_page(
            rows, paging, {**fields, "id": Kind.INTEGER}, entity.type_name, self.options.page_size
        )
        root = self._root(request)
        selected = f"({','.join(select)})" if select else ""
        body: dict[str, Any] = {"@odata.context": f"{root}/$metadata#{entity.name}{selected}"}
        if params.get("$count", "").lower() == "true":
            body["@odata.count"] = page.total
        body["value"] = [self._render(entity, r, select, expand) for r in page.rows]
        if page.skiptoken is not None:
            # F&O pages with $skip in its nextLink; every other option is kept.
            kept = [(k, v) for k, v in params.multi_items() if k not in ("$skip", "$top")]
            if page.remaining_top is not None:
                kept.append(("$top", str(page.remaining_top)))
            kept.append(("$skip", str(int(params.get("$skip", "0") or 0) + len(page.rows))))
            query = urlencode(kept, quote_via=quote, safe="$(),'*-")
            body["@odata.nextLink"] = f"{str(request.url).split('?')[0]}?{query}"
        return _odata(body)

    async def create(self, request: Request) -> Response:
        entity, key = self._target(request)
        if key is not None:
            raise FnoError(405, "POST is not allowed on a single entity.", "")
        row = self.store.create(entity, await self._body(request))
        return self._entity_response(request, entity, row, 201)

    async def update(self, request: Request) -> Response:
        entity, key = self._target(request)
        if key is None:
            raise FnoError(405, "PATCH needs the entity key in the URL.", "")
        body = await self._body(request)
        with self.store.lock:
            row = self.store.get(entity, key)
            match = request.headers.get("if-match", "*").strip()
            if match != "*" and match != self._etag(entity, row):
                raise FnoError(
                    412,
                    "The record has been changed by another user since it was read. "
                    "Refresh the record and try again.",
                    "",
                )
            self.store.update(entity, row, body)
        return Response(status_code=204, headers={"OData-Version": "4.0"})

    async def delete(self, request: Request) -> Response:
        entity, key = self._target(request)
        if key is None:
            raise FnoError(405, "DELETE needs the entity key in the URL.", "")
        self.store.delete(entity, self.store.get(entity, key))
        return Response(status_code=204, headers={"OData-Version": "4.0"})

    async def invoke(self, request: Request) -> Response:
        """A bound action; only set-bound ones exist, so an instance in the path is a 404."""
        name, key_text = parse_segment(request.path_params["target"])
        action = find_action(name, request.path_params["action"]) if key_text is None else None
        if action is None:
            raise FnoError(
                404, f"No HTTP resource was found that matches the request URI '{request.url}'.", ""
            )
        # An action without parameters may be posted with no body at all.
        body = await self._body(request) if (await request.body()).strip() else {}
        result = action.run(self.options, action.arguments(body))
        if action.returns is None:
            return Response(status_code=204, headers={"OData-Version": "4.0"})
        context = f"{self._root(request)}/$metadata#{action.returns.value}"
        return _odata({"@odata.context": context, "value": result})

    def routes(self) -> list[BaseRoute]:
        target = "/data/{target}"
        return [
            *authority_routes(self.store.tokens, self.entra, self.scopes),
            Route("/data/$metadata", self.authed(self.metadata), methods=["GET"]),
            *metadata_routes(self.store.entities.values(), self.store.fields, self.authed),
            Route("/data", self.authed(self.service_document), methods=["GET"]),
            Route(target, self.authed(self.read), methods=["GET"]),
            Route(target, self.authed(self.create), methods=["POST"]),
            Route(target, self.authed(self.update), methods=["PATCH"]),
            Route(target, self.authed(self.delete), methods=["DELETE"]),
            Route(target + "/{action}", self.authed(self.invoke), methods=["POST"]),
        ]


def _not_found(request: Request) -> Response:
    return fno_error(
        404, f"No HTTP resource was found that matches the request URI '{request.url}'."
    )


def create_app(options: FinanceOperationsOptions | None = None) -> Starlette:
    """The simulator app; its store is ``app.state.sim`` (a FinanceOperationsStore)."""
    store = FinanceOperationsStore(options or FinanceOperationsOptions())
    store.faults.configure(store.options.faults)
    store.limits = limiter_for(store)
    api = FinanceOperationsApi(store)
    inspection = [
        *entity_routes(store.db, FnoRecordAdapter(store)),
        *event_routes(store.events),
        *delivery_routes(store.outbox),
    ]
    return build_app(store, [*inspection, *api.routes()], not_found=_not_found, error=fault_error)
