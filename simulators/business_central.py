"""Business Central online API v2.0 simulator (with the Entra ID token endpoint it relies on).

URL shapes follow the real service so a client only swaps its base URLs:
token at ``{base}/{tenant}/oauth2/v2.0/token`` (login.microsoftonline.com in production) and the
API at ``{base}/v2.0[/{tenant}]/{environment}/api/v2.0/...`` (api.businesscentral.dynamics.com).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from simulators.base import (
    BadJson,
    SimulatorState,
    bearer_token,
    build_app,
    jwt_shaped,
    read_form,
    read_json,
)
from simulators.business_central_inspect import inspection_routes
from simulators.business_central_store import (
    COMPANY_FIELDS,
    BusinessCentralStore,
    DuplicateKey,
    EntitySetDef,
    InvalidValue,
    NotFound,
    Row,
    coerce,
)
from simulators.faults import FaultSettings
from simulators.limits import ConcurrencyRule, RateLimiter, RateRule, Rejection, credential_key
from simulators.odata import ODataError, list_page, parse_filter
from simulators.seed import stable_guid

BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"
BC_MAX_PAGE_SIZE = 20000


@dataclass
class BusinessCentralOptions:
    tenant: str = "sim-tenant"
    # The directory (tenant) GUID; accepted wherever the tenant name is, as Entra and BC do.
    tenant_id: str = stable_guid("bc-tenant", "sim-tenant")
    environment: str = "production"
    company_name: str = "CRONUS USA, Inc."
    company_id: str | None = None  # None: a GUID derived from tenant, environment and name
    client_id: str = "mlc-client"
    client_secret: str = "mlc-secret"
    token_lifetime_seconds: int = 3599
    seed: int = 42
    vendor_count: int = 50
    records_per_timestamp: int = 3
    seed_epoch: datetime = datetime(2024, 1, 2, 8, 0, tzinfo=UTC)
    page_size: int = BC_MAX_PAGE_SIZE  # server-driven page size when the client states none
    max_page_size: int = BC_MAX_PAGE_SIZE  # a larger odata.maxpagesize is refused with 413
    stale_etag_code: str = "Request_EntityChanged"  # UNCONFIRMED in apis.md
    # The vendor DELETE docs list If-Match as required; a switch in case real BC is laxer.
    require_if_match_on_delete: bool = True
    faults: FaultSettings = field(default_factory=FaultSettings)
    # Operational limits per user / service principal (administration/operational-limits).
    rate_limit_requests: int = 6000
    rate_limit_window_seconds: float = 300.0
    max_concurrent_requests: int = 5
    max_queued_requests: int = 95
    queue_timeout_seconds: float = 480.0  # a queued request waiting longer answers 503


def bc_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """BC's error body; every message ends with a correlation id, as the service's do."""
    text = f"{message}  CorrelationId:  {uuid.uuid4()}"
    return JSONResponse({"error": {"code": code, "message": text}}, status, headers=headers)


_FAULT_CODES = {429: "Application_TooManyRequests", 503: "Application_ServiceUnavailable"}


def fault_error(status: int, message: str, headers: Mapping[str, str]) -> JSONResponse:
    """Injected faults and limit refusals in BC's error shape."""
    code = _FAULT_CODES.get(status, "Internal_ServerError")
    return bc_error(status, code, message, dict(headers))


def limit_error(rejection: Rejection) -> Response:
    # Retry-After is not documented for BC (UNCONFIRMED in apis.md); sent, clients tolerate both.
    headers = {"Retry-After": str(rejection.retry_after)}
    if rejection.status == 503:
        message = "The request waited too long in the queue and was cancelled."
    elif rejection.window_seconds is None:
        message = "Too many concurrent requests: the request queue is full. Try again later."
    else:
        message = (
            f"The rate limit of {rejection.limit} requests per "
            f"{rejection.window_seconds:g} seconds was exceeded. Try again later."
        )
    return fault_error(rejection.status, message, headers)


def limiter_for(store: SimulatorState, options: BusinessCentralOptions) -> RateLimiter:
    """BC's documented limits on the API paths (the token endpoint is Entra's, not BC's)."""
    api = r"/(api/v2\.0|ODataV4)(/|$)"
    return RateLimiter(
        store.clock,
        rates=[
            RateRule(
                "requests-per-window",
                options.rate_limit_requests,
                options.rate_limit_window_seconds,
                api,
            )
        ],
        concurrency=ConcurrencyRule(
            "concurrent-requests",
            options.max_concurrent_requests,
            options.max_queued_requests,
            options.queue_timeout_seconds,
            api,
        ),
        key_of=credential_key(store.tokens),
        reject=limit_error,
    )


def entra_error(status: int, error: str, description: str) -> JSONResponse:
    body = {
        "error": error,
        "error_description": description,
        "error_codes": [int(code) for code in re.findall(r"^AADSTS(\d+)", description)],
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
    }
    return JSONResponse(body, status)


def _odata(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    response = JSONResponse(body, status, headers=headers)
    response.headers["content-type"] = "application/json; odata.metadata=minimal"
    response.headers["OData-Version"] = "4.0"
    return response


@dataclass
class ApiContext:
    request: Request
    store: BusinessCentralStore
    company_id: str
    root: str  # absolute URL of ".../api/v2.0", for @odata.context and links


Handler = Callable[[ApiContext], Awaitable[Response]]


class BusinessCentralApi:
    """Route handlers; one instance per app, bound to its store."""

    def __init__(self, store: BusinessCentralStore) -> None:
        self.store = store
        self.options = store.options

    # -- auth ----------------------------------------------------------------------------

    def _tenant_known(self, tenant: str) -> bool:
        return tenant.lower() in {self.options.tenant.lower(), self.options.tenant_id.lower()}

    async def token(self, request: Request) -> Response:
        if not self._tenant_known(request.path_params["tenant"]):
            return entra_error(
                400,
                "invalid_request",
                f"AADSTS90002: Tenant '{request.path_params['tenant']}' not found.",
            )
        form = await read_form(request)
        if form.get("grant_type") != "client_credentials":
            return entra_error(
                400,
                "unsupported_grant_type",
                "AADSTS70003: The app requested an unsupported grant type "
                f"'{form.get('grant_type', '')}'.",
            )
        if (form.get("client_id"), form.get("client_secret")) != (
            self.options.client_id,
            self.options.client_secret,
        ):
            return entra_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
                f"in the request is the client secret value for app '{form.get('client_id')}'.",
            )
        if form.get("scope") != BC_SCOPE:
            return entra_error(
                400,
                "invalid_scope",
                f"AADSTS1002012: The provided value for scope {form.get('scope', '')} is not "
                "valid. Client credential flows must have a scope value with /.default "
                "suffixed to the resource identifier (application ID URI).",
            )
        lifetime = self.options.token_lifetime_seconds

        def render(issued: datetime, expires: datetime) -> str:
            return jwt_shaped(
                {
                    "aud": "https://api.businesscentral.dynamics.com",
                    "iss": f"https://sts.windows.net/{self.options.tenant_id}/",
                    "iat": int(issued.timestamp()),
                    "nbf": int(issued.timestamp()),
                    "exp": int(expires.timestamp()),
                    "appid": self.options.client_id,
                    "tid": self.options.tenant_id,
                    "roles": ["API.ReadWrite.All"],
                    "jti": str(uuid.uuid4()),
                }
            )

        token = self.store.tokens.issue(
            subject=self.options.client_id, lifetime_seconds=lifetime, render=render
        )
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token.value,
            }
        )

    def api(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Authenticate, check tenant/environment/company, then run ``handler``."""

        async def endpoint(request: Request) -> Response:
            value = bearer_token(request)
            tenant = request.path_params.get("tenant")
            if (
                value is None
                or self.store.tokens.validate(value) is None
                or (tenant is not None and not self._tenant_known(tenant))
            ):
                return bc_error(
                    401,
                    "Authentication_InvalidCredentials",
                    "The server has rejected the client credentials.",
                    {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'},
                )
            environment = request.path_params["environment"]
            if environment != self.options.environment:
                return bc_error(
                    404, "BadRequest_NotFound", f"The environment '{environment}' does not exist."
                )
            company_id = request.path_params.get("company_id", "").lower()
            if company_id and company_id not in self.store.companies:
                return bc_error(
                    404, "BadRequest_NotFound", f"The company '{company_id}' does not exist."
                )
            path = request.url.path
            root = str(request.base_url).rstrip("/") + path[: path.index("/api/v2.0") + 9]
            ctx = ApiContext(request, self.store, company_id, root)
            try:
                return await handler(ctx)
            except ODataError as exc:
                return bc_error(400, "BadRequest", str(exc))
            except InvalidValue as exc:
                return bc_error(400, "BadRequest", str(exc))
            except NotFound as exc:
                return bc_error(404, "BadRequest_NotFound", str(exc))
            except DuplicateKey as exc:
                return bc_error(400, "Internal_EntityWithSameKeyExists", str(exc))

        return endpoint

    # -- companies -----------------------------------------------------------------------

    async def list_companies(self, ctx: ApiContext) -> Response:
        rows = [c.render() for c in self.store.companies.values()]
        text = ctx.request.query_params.get("$filter")
        if text:
            predicate = parse_filter(text, COMPANY_FIELDS, "company")
            rows = [r for r in rows if predicate(r)]
        return _odata({"@odata.context": f"{ctx.root}/$metadata#companies", "value": rows})

    async def get_company(self, ctx: ApiContext) -> Response:
        body = self.store.companies[ctx.company_id].render()
        return _odata({"@odata.context": f"{ctx.root}/$metadata#companies/$entity", **body})

    # -- entity sets ---------------------------------------------------------------------

    def _context_url(self, ctx: ApiContext, entity_set: str, suffix: str = "") -> str:
        return f"{ctx.root}/$metadata#companies({ctx.company_id})/{entity_set}{suffix}"

    def _select(self, definition: EntitySetDef, request: Request) -> list[str] | None:
        text = request.query_params.get("$select")
        if not text:
            return None
        names = [n.strip() for n in text.split(",") if n.strip()]
        for name in names:
            if name not in definition.fields:
                raise ODataError(
                    f"Could not find a property named '{name}' on type "
                    f"'Microsoft.NAV.{definition.type_name}'."
                )
        return names

    def _page_size(self, request: Request) -> tuple[int, int | None]:
        """(page size, preferred size applied or None); raises ValueError when too large."""
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

    def list_handler(self, definition: EntitySetDef) -> Handler:
        async def handler(ctx: ApiContext) -> Response:
            request = ctx.request
            params = request.query_params
            if "$expand" in params:
                raise ODataError(
                    f"Could not find a property named '{params['$expand']}' on type "
                    f"'Microsoft.NAV.{definition.type_name}'."
                )
            try:
                size, applied = self._page_size(request)
            except OverflowError:
                return bc_error(
                    413,
                    "RequestEntityTooLarge",
                    f"The page size cannot exceed {self.options.max_page_size} entities.",
                )
            select = self._select(definition, request)
            stored = {r.values["id"]: r for r in self.store.rows(ctx.company_id, definition.name)}
            result = list_page(
                [r.values for r in stored.values()],
                params,
                definition.fields,
                definition.type_name,
                size,
            )
            selected = f"({','.join(select)})" if select else ""
            body: dict[str, Any] = {
                "@odata.context": self._context_url(ctx, definition.name + selected)
            }
            if params.get("$count", "").lower() == "true":
                body["@odata.count"] = result.total
            body["value"] = [
                self.store.render(definition.name, stored[r["id"]], select) for r in result.rows
            ]
            if result.skiptoken is not None:
                # The next link keeps every option but paging ones, as BC's own nextLink does.
                kept = [
                    (k, v)
                    for k, v in params.multi_items()
                    if k not in ("$skip", "$skiptoken", "$top")
                ]
                if result.remaining_top is not None:
                    kept.append(("$top", str(result.remaining_top)))
                kept.append(("$skiptoken", result.skiptoken))
                query = urlencode(kept, quote_via=quote, safe="$(),'")
                body["@odata.nextLink"] = f"{str(request.url).split('?')[0]}?{query}"
            headers = {"Preference-Applied": f"odata.maxpagesize={applied}"} if applied else None
            return _odata(body, headers=headers)

        return handler

    def _entity_response(
        self, ctx: ApiContext, definition: EntitySetDef, row: Row, status: int = 200
    ) -> Response:
        body = {
            "@odata.context": self._context_url(ctx, definition.name, "/$entity"),
            **self.store.render(definition.name, row, self._select(definition, ctx.request)),
        }
        headers = {"ETag": self.store.etag(row)}
        if status == 201:
            headers["Location"] = (
                f"{ctx.root}/companies({ctx.company_id})/{definition.name}({row.values['id']})"
            )
        return _odata(body, status, headers)

    async def _body(self, ctx: ApiContext, definition: EntitySetDef) -> dict[str, Any]:
        """Coerced writable fields; unknown properties are refused, read-only ones ignored."""
        try:
            body = await read_json(ctx.request)
        except BadJson as exc:
            raise InvalidValue(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise InvalidValue("The request body must be a JSON object.")
        values: dict[str, Any] = {}
        for name, value in body.items():
            if name.startswith("@odata."):
                continue
            if name not in definition.fields:
                raise InvalidValue(
                    f"The property '{name}' does not exist on type "
                    f"'Microsoft.NAV.{definition.type_name}'. Make sure to only use property "
                    "names that are defined by the type."
                )
            if name not in definition.read_only:
                values[name] = coerce(definition, name, value)
        return values

    def _precondition(self, ctx: ApiContext, row: Row, required: bool) -> Response | None:
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

    def get_handler(self, definition: EntitySetDef) -> Handler:
        async def handler(ctx: ApiContext) -> Response:
            row = self.store.get(ctx.company_id, definition.name, ctx.request.path_params["id"])
            return self._entity_response(ctx, definition, row)

        return handler

    def create_handler(self, definition: EntitySetDef) -> Handler:
        async def handler(ctx: ApiContext) -> Response:
            values = await self._body(ctx, definition)
            row = self.store.insert(ctx.company_id, definition.name, values)
            return self._entity_response(ctx, definition, row, 201)

        return handler

    def update_handler(self, definition: EntitySetDef) -> Handler:
        async def handler(ctx: ApiContext) -> Response:
            row_id = ctx.request.path_params["id"]
            values = await self._body(ctx, definition)
            with self.store.lock:
                row = self.store.get(ctx.company_id, definition.name, row_id)
                refused = self._precondition(ctx, row, required=True)
                if refused is not None:
                    return refused
                row = self.store.update(ctx.company_id, definition.name, row_id, values)
            return self._entity_response(ctx, definition, row)

        return handler

    def delete_handler(self, definition: EntitySetDef) -> Handler:
        async def handler(ctx: ApiContext) -> Response:
            row_id = ctx.request.path_params["id"]
            with self.store.lock:
                row = self.store.get(ctx.company_id, definition.name, row_id)
                required = self.options.require_if_match_on_delete
                refused = self._precondition(ctx, row, required=required)
                if refused is not None:
                    return refused
                self.store.delete(ctx.company_id, definition.name, row_id)
            return Response(status_code=204)

        return handler

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            Route("/{tenant}/oauth2/v2.0/token", self.token, methods=["POST"]),
        ]
        # The tenant segment is optional on the real service; the token says which tenant.
        for prefix in ("/v2.0/{tenant}/{environment}/api/v2.0", "/v2.0/{environment}/api/v2.0"):
            company = prefix + "/companies({company_id})"
            routes += [
                Route(f"{prefix}/companies", self.api(self.list_companies), methods=["GET"]),
                Route(company, self.api(self.get_company), methods=["GET"]),
            ]
            for d in self.store.entity_sets.values():
                collection, single = f"{company}/{d.name}", f"{company}/{d.name}({{id}})"
                routes += [
                    Route(collection, self.api(self.list_handler(d)), methods=["GET"]),
                    Route(collection, self.api(self.create_handler(d)), methods=["POST"]),
                    Route(single, self.api(self.get_handler(d)), methods=["GET"]),
                    Route(single, self.api(self.update_handler(d)), methods=["PATCH"]),
                    Route(single, self.api(self.delete_handler(d)), methods=["DELETE"]),
                ]
        return routes


def _not_found(request: Request) -> Response:
    return bc_error(
        404,
        "BadRequest_NotFound",
        f"No HTTP resource was found that matches the request URI '{request.url}'.",
    )


def create_app(options: BusinessCentralOptions | None = None) -> Starlette:
    """The simulator app; its store is ``app.state.sim`` (a BusinessCentralStore)."""
    store = BusinessCentralStore(options or BusinessCentralOptions())
    store.faults.configure(store.options.faults)
    store.limits = limiter_for(store, store.options)
    api = BusinessCentralApi(store)
    return build_app(
        store,
        [*inspection_routes(store), *api.routes()],
        not_found=_not_found,
        error=fault_error,
    )
