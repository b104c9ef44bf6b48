"""Acumatica simulator: OAuth and cookie sign-in plus the contract-based REST API.

URL shapes follow an instance (``https://{instance}`` in production): token at
``/identity/connect/token``, legacy ``/entity/auth/login`` and ``/entity/auth/logout``, and
entities at ``/entity/{endpoint}/{version}/{Entity}`` for the served endpoint versions only,
so a client pinned to a version the instance lacks gets the 404 it would get in production.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from simulators.acumatica import linked
from simulators.acumatica.auth import AcumaticaAuth
from simulators.acumatica.entities import EntityDef
from simulators.acumatica.inspection import AcumaticaRecordAdapter, acumatica_sim_routes
from simulators.acumatica.limits import LicenceThrottle, LicenceThrottleMiddleware
from simulators.acumatica.options import AcumaticaOptions
from simulators.acumatica.push import PushNotifications
from simulators.acumatica.store import (
    ACTIONS,
    AcumaticaError,
    AcumaticaStore,
    Unprocessable,
    acumatica_error,
    wrap,
)
from simulators.acumatica.swagger import swagger
from simulators.base import BadJson, build_app, read_json
from simulators.deliveries import delivery_routes, outbox_for
from simulators.limits import ConcurrencyRule, RateLimiter
from simulators.odata import ODataError, parse_filter
from simulators.records import DuplicateKey
from simulators.records_inspect import entity_routes

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_LEGACY_LITERAL = re.compile(r"\b(datetimeoffset|datetime)'([^']*)'")
_HAS_OFFSET = re.compile(r"(?:[Zz]|[+-]\d{2}:?\d{2})$")


def _plain_literals(text: str, zone: ZoneInfo) -> str:
    """OData v3 date literals as the shared parser reads them (bare ISO values).

    ``datetime'...'`` carries no offset on the real endpoint, which reads it in the instance's
    time zone (``AcumaticaOptions.time_zone``); ``datetimeoffset'...'`` names its own.
    """

    def plain(match: re.Match[str]) -> str:
        kind, value = match[1], match[2].strip()
        if kind == "datetime" and not _HAS_OFFSET.search(value):
            try:
                local = datetime.fromisoformat(value).replace(tzinfo=zone)
            except ValueError:
                raise ODataError(f"'{value}' is not a valid datetime literal.") from None
            return local.isoformat()
        return value

    return _LEGACY_LITERAL.sub(plain, text)


def _not_logged_in() -> JSONResponse:
    return JSONResponse({"message": "You are not logged in."}, 401)


Handler = Callable[[Request, EntityDef], Awaitable[Response]]


def _listed(text: str | None) -> list[str]:
    """The comma-separated names of a query option ($select, $expand)."""
    return [n.strip() for n in (text or "").split(",") if n.strip()]


class AcumaticaApi:
    def __init__(self, store: AcumaticaStore, auth: AcumaticaAuth) -> None:
        self.store = store
        self.auth = auth
        self.options = store.options

    def guarded(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            params = request.path_params
            endpoint_name, version = params["endpoint"], params["version"]
            if endpoint_name != self.options.endpoint or version not in self.options.versions:
                served = ", ".join(f"{self.options.endpoint}/{v}" for v in self.options.versions)
                return acumatica_error(
                    404,
                    f"The endpoint {endpoint_name}/{version} does not exist on this instance. "
                    f"Served endpoints: {served}.",
                )
            if self.auth.user_of(request) is None:
                return _not_logged_in()
            entity = self.store.entities.get(params["entity"])
            if entity is None:
                return acumatica_error(
                    404, f"The entity '{params['entity']}' is not in endpoint {endpoint_name}."
                )
            try:
                return await handler(request, entity)
            except Unprocessable as exc:
                return JSONResponse(exc.body, 422)
            except AcumaticaError as exc:
                return acumatica_error(exc.status, str(exc))
            except DuplicateKey as exc:  # an update that would take another record's key
                return acumatica_error(400, str(exc))
            except ODataError as exc:
                return acumatica_error(400, str(exc).replace("Microsoft.NAV.", ""))

        return endpoint

    # -- helpers -------------------------------------------------------------------------

    def _base(self, request: Request) -> str:
        return f"/entity/{request.path_params['endpoint']}/{request.path_params['version']}"

    def _names(self, text: str | None, known: Mapping[str, Any], option: str) -> list[str] | None:
        if text is None:
            return None
        names = _listed(text)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise AcumaticaError(400, f"{option}: unknown field(s) {', '.join(unknown)}.")
        return names

    def _render(
        self, request: Request, entity: EntityDef, row: Mapping[str, Any], number: int = 1
    ) -> dict[str, Any]:
        params = request.query_params
        expand, unknown = linked.expansions(entity, _listed(params.get("$expand")))
        if unknown:
            raise AcumaticaError(400, f"$expand: unknown field(s) {', '.join(unknown)}.")
        select = self._names(params.get("$select"), entity.fields, "$select")
        link = f"{self._base(request)}/{entity.name}/{row['id']}"
        return wrap(entity, row, row_number=number, select=select, expand=expand, self_link=link)

    def _int(self, request: Request, name: str) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        if not raw.isdigit():
            raise AcumaticaError(400, f"The value '{raw}' is not valid for {name}.")
        return int(raw)

    def _locate(self, request: Request, entity: EntityDef) -> dict[str, Any]:
        """The row named by ``/{id}`` or ``/{key1}/{key2}`` after the entity."""
        parts = [unquote(p) for p in request.path_params["keys"].split("/") if p]
        if len(parts) == 1 and _GUID.match(parts[0]):
            ident: dict[str, Any] = {"id": parts[0]}
        elif len(parts) == len(entity.key):
            ident = dict(zip(entity.key, parts, strict=True))
        else:
            raise AcumaticaError(
                400, f"{entity.name} is identified by {', '.join(entity.key)} or its id."
            )
        row = self.store.find(entity, ident)
        if row is None:
            raise AcumaticaError(404, "No entity satisfies the condition.")
        return row

    # -- handlers ------------------------------------------------------------------------

    async def list_rows(self, request: Request, entity: EntityDef) -> Response:
        rows = self.store.rows(entity)
        text = request.query_params.get("$filter")
        if text:
            # v3-style literals (datetimeoffset'...') are what Acumatica documents.
            plain = _plain_literals(text, ZoneInfo(self.options.time_zone))
            predicate = parse_filter(plain, entity.fields, entity.name)
            rows = [r for r in rows if predicate(r)]
        skip = self._int(request, "$skip") or 0
        top = self._int(request, "$top")
        page = rows[skip:] if top is None else rows[skip : skip + top]
        body = [self._render(request, entity, r, skip + i) for i, r in enumerate(page, 1)]
        return JSONResponse(body)

    async def get(self, request: Request, entity: EntityDef) -> Response:
        return JSONResponse(self._render(request, entity, self._locate(request, entity)))

    async def put(self, request: Request, entity: EntityDef) -> Response:
        try:
            body = await read_json(request)
        except BadJson as exc:
            raise AcumaticaError(400, f"The request body is not valid JSON: {exc}") from exc
        row, _ = self.store.upsert(
            entity,
            body,
            update_only=request.headers.get("if-match", "").strip() == "*",
            insert_only=request.headers.get("if-none-match", "").strip() == "*",
        )
        link = f"{self._base(request)}/{entity.name}/{row['id']}"
        # The answer shows the lines and the linked entities the request carried.
        sent = linked.sent(entity.linked, body if isinstance(body, dict) else {})
        shown = [*entity.details, *sent]
        return JSONResponse(wrap(entity, row, expand=shown, self_link=link))

    async def delete(self, request: Request, entity: EntityDef) -> Response:
        self.store.delete(entity, self._locate(request, entity))
        return Response(status_code=204)

    async def action(self, request: Request, entity: EntityDef) -> Response:
        name = request.path_params["action"]
        if (entity.name, name) not in ACTIONS:
            raise AcumaticaError(404, f"The action '{name}' is not defined for {entity.name}.")
        try:
            body = await read_json(request)
        except BadJson as exc:
            raise AcumaticaError(400, f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict) or not isinstance(body.get("entity"), dict):
            raise AcumaticaError(400, 'The body must be {"entity": {...}, "parameters": {...}}.')
        ident = self.store.unwrap(entity, body["entity"])
        row = self.store.find(entity, ident)
        if row is None:
            raise AcumaticaError(404, "No entity satisfies the condition.")
        op = self.store.start(entity, name, row)
        location = f"{self._base(request)}/{entity.name}/{name}/status/{op.id}"
        return Response(status_code=202, headers={"Location": location})

    async def action_status(self, request: Request, entity: EntityDef) -> Response:
        self.store.settle()
        op = self.store.operations.get(request.path_params["op"])
        if op is None or op.entity != entity.name:
            raise AcumaticaError(404, "The operation does not exist.")
        if op.state == "running":
            return Response(status_code=202, headers={"Location": str(request.url.path)})
        if op.state == "failed":
            raise AcumaticaError(500, op.error or "The operation failed.")
        return Response(status_code=204)

    async def endpoints(self, request: Request) -> Response:
        if self.auth.user_of(request) is None:
            return _not_logged_in()
        listing = [
            {
                "name": self.options.endpoint,
                "version": v,
                "href": f"/entity/{self.options.endpoint}/{v}/",
            }
            for v in self.options.versions
        ]
        return JSONResponse({"endpoints": listing})

    async def swagger_json(self, request: Request) -> Response:
        endpoint_name, version = request.path_params["endpoint"], request.path_params["version"]
        if endpoint_name != self.options.endpoint or version not in self.options.versions:
            return acumatica_error(404, f"The endpoint {endpoint_name}/{version} does not exist.")
        if self.auth.user_of(request) is None:
            return _not_logged_in()
        document = swagger(
            endpoint_name,
            version,
            request.url.netloc,
            self.store.entities.values(),
            sorted(ACTIONS),
        )
        return JSONResponse(document)

    def routes(self) -> list[BaseRoute]:
        base = "/entity/{endpoint}/{version}/{entity}"
        return [
            Route("/entity/{endpoint}/{version}/swagger.json", self.swagger_json, methods=["GET"]),
            Route("/identity/connect/token", self.auth.token, methods=["POST"]),
            Route("/entity/auth/login", self.auth.login, methods=["POST"]),
            Route("/entity/auth/logout", self.auth.logout, methods=["POST"]),
            Route("/entity", self.endpoints, methods=["GET"]),
            Route(base, self.guarded(self.list_rows), methods=["GET"]),
            Route(base, self.guarded(self.put), methods=["PUT"]),
            Route(f"{base}/{{action}}", self.guarded(self.action), methods=["POST"]),
            Route(
                f"{base}/{{action}}/status/{{op}}",
                self.guarded(self.action_status),
                methods=["GET"],
            ),
            Route(f"{base}/{{keys:path}}", self.guarded(self.get), methods=["GET"]),
            Route(f"{base}/{{keys:path}}", self.guarded(self.delete), methods=["DELETE"]),
        ]


def fault_error(status: int, message: str, headers: Mapping[str, str]) -> Response:
    return acumatica_error(status, message, headers)


def _not_found(request: Request) -> Response:
    return acumatica_error(
        404, f"No HTTP resource was found that matches the request URI '{request.url}'."
    )


def create_app(options: AcumaticaOptions | None = None) -> Starlette:
    """The simulator app; its store is ``app.state.sim`` (an AcumaticaStore)."""
    options = options or AcumaticaOptions()
    store = AcumaticaStore(options)
    store.faults.configure(options.faults)
    if options.max_concurrent_requests is not None:
        store.limits = RateLimiter(
            store.clock,
            concurrency=ConcurrencyRule(
                "licence-concurrent-requests",
                options.max_concurrent_requests,
                options.licence.max_queue,
                options.licence.max_wait_seconds,
                options.licence.path_pattern,
            ),
            key_of=lambda scope: "licence",
            reject=lambda r: acumatica_error(
                429,
                "Too many concurrent requests for the licence.",
                {"Retry-After": str(r.retry_after)},
            ),
        )
    # Acumatica gives up after five attempts: the first plus one per delay.
    outbox = outbox_for(store.clock, options, options.push_retry_delays)
    push = PushNotifications(
        outbox, list(options.push_notifications), store.entities, options.tenant
    )
    store.db.subscribe(push.on_change)
    auth = AcumaticaAuth(store, options)
    throttle = LicenceThrottle(store.clock, options.licence)

    def reject(retry_after: int) -> Response:
        return acumatica_error(
            429,
            "The number of requests per minute allowed by the license has been exceeded.",
            {"Retry-After": str(retry_after)},
        )

    api = AcumaticaApi(store, auth)
    inspection = [
        *entity_routes(store.db, AcumaticaRecordAdapter(store)),
        *acumatica_sim_routes(store, auth, throttle, push),
        *delivery_routes(outbox),
    ]
    return build_app(
        store,
        [*inspection, *api.routes()],
        not_found=_not_found,
        error=fault_error,
        middleware=[Middleware(LicenceThrottleMiddleware, throttle=throttle, reject=reject)],
    )
