"""ServiceTitan V2 simulator: the client-credentials token endpoint and the tenant API.

URL shapes follow the real service so a client only swaps base URLs: token at
``{base}/connect/token`` (auth.servicetitan.io in production) and the API at
``{base}/{module}/v2/tenant/{tenantId}/...`` (api.servicetitan.io). Every API call needs both
``Authorization: Bearer`` and ``ST-App-Key``; errors are RFC 7807 problem documents.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from simulators.base import BadJson, build_app, read_form, read_json
from simulators.credentials import bearer_token
from simulators.deliveries import delivery_routes, outbox_for
from simulators.limits import RateLimiter, RateRule, Rejection
from simulators.records_inspect import entity_routes
from simulators.servicetitan.entities import INVOICES, PAYMENTS, ResourceDef
from simulators.servicetitan.inspection import StRecordAdapter, servicetitan_sim_routes
from simulators.servicetitan.options import ServiceTitanOptions
from simulators.servicetitan.store import ServiceTitanStore, StError, render
from simulators.servicetitan.webhooks import Webhooks, webhook_routes

_TYPES = {
    400: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
    401: "https://tools.ietf.org/html/rfc7235#section-3.1",
    403: "https://tools.ietf.org/html/rfc7231#section-6.5.3",
    404: "https://tools.ietf.org/html/rfc7231#section-6.5.4",
    405: "https://tools.ietf.org/html/rfc7231#section-6.5.5",
    409: "https://tools.ietf.org/html/rfc7231#section-6.5.8",
    415: "https://tools.ietf.org/html/rfc7231#section-6.5.13",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    503: "https://tools.ietf.org/html/rfc7231#section-6.6.4",
}
_TENANT_RE = re.compile(r"/v2/tenant/([^/]+)/")


def problem(
    status: int,
    title: str,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {
        "type": _TYPES.get(status, "https://tools.ietf.org/html/rfc7231#section-6.6.1"),
        "title": title,
        "status": status,
        "traceId": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
        "errors": dict(errors or {}),
        "data": {},
    }
    response = JSONResponse(body, status, headers=dict(headers or {}))
    response.headers["content-type"] = "application/problem+json; charset=utf-8"
    return response


def fault_error(status: int, message: str, headers: Mapping[str, str]) -> Response:
    return problem(status, message, headers=headers)


def limiter_for(store: ServiceTitanStore) -> RateLimiter:
    options = store.options

    def key_of(scope: Scope) -> str | None:
        app_key = Headers(scope=scope).get("st-app-key")
        tenant = _TENANT_RE.search(scope.get("path", ""))
        return f"{app_key}:{tenant.group(1)}" if app_key and tenant else None

    def reject(rejection: Rejection) -> Response:
        return problem(
            429,
            f"Too many requests: the limit is {rejection.limit} per "
            f"{rejection.window_seconds:g} seconds for this app and tenant.",
            headers={"Retry-After": str(rejection.retry_after)},
        )

    rule = RateRule(
        "app-tenant", options.rate_limit_requests, options.rate_limit_window_seconds, r"/v2/tenant/"
    )
    return RateLimiter(store.clock, rates=[rule], key_of=key_of, reject=reject)


Handler = Callable[[Request, ResourceDef, str], Awaitable[Response]]


class ServiceTitanApi:
    def __init__(self, store: ServiceTitanStore) -> None:
        self.store = store
        self.options = store.options

    async def token(self, request: Request) -> Response:
        form = await read_form(request)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if (form.get("client_id"), form.get("client_secret")) != (
            self.options.client_id,
            self.options.client_secret,
        ):
            return JSONResponse({"error": "invalid_client"}, 400)
        lifetime = self.options.token_lifetime_seconds
        token = self.store.tokens.issue(subject=self.options.client_id, lifetime_seconds=lifetime)
        return JSONResponse(
            {"access_token": token.value, "expires_in": lifetime, "token_type": "Bearer"}
        )

    def authed(
        self, resource: ResourceDef, handler: Handler
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            value = _access_token(request)
            token = self.store.tokens.validate(value) if value else None
            if token is None:
                return problem(
                    401, "Unauthorized: the access token is missing, invalid or expired."
                )
            if request.headers.get("st-app-key") != self.options.app_key:
                return problem(401, "Unauthorized: the ST-App-Key header is missing or invalid.")
            if request.path_params["tenant"] != str(self.options.tenant_id):
                return problem(
                    403, f"The app has no access to tenant {request.path_params['tenant']}."
                )
            try:
                return await handler(request, resource, token.subject)
            except StError as exc:
                return problem(exc.status, exc.title, exc.errors)

        return endpoint

    async def _body(self, request: Request) -> Any:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not _is_json(media_type):
            # ASP.NET Core's answer before any model binding: 415 with a problem body.
            raise StError(415, "Unsupported Media Type")
        try:
            return await read_json(request)
        except BadJson as exc:
            raise StError(
                400, "The request body is not valid JSON.", {"request": [str(exc)]}
            ) from exc

    def _id(self, request: Request) -> int:
        raw = request.path_params["id"]
        if not raw.isdigit():
            raise StError(
                400,
                "One or more validation errors occurred.",
                {"id": [f"The value '{raw}' is not valid."]},
            )
        return int(raw)

    async def list_rows(self, request: Request, resource: ResourceDef, user: str) -> Response:
        return JSONResponse(self.store.query(resource, request.query_params))

    async def get_row(self, request: Request, resource: ResourceDef, user: str) -> Response:
        return JSONResponse(render(self.store.get(resource, self._id(request))))

    async def export(self, request: Request, resource: ResourceDef, user: str) -> Response:
        return JSONResponse(self.store.export(resource, request.query_params.get("from")))

    async def create(self, request: Request, resource: ResourceDef, user: str) -> Response:
        body = await self._body(request)
        if resource is PAYMENTS:
            return JSONResponse(render(self.store.create_payment(body, user)))
        return JSONResponse(render(self.store.create(resource, body)))

    async def patch(self, request: Request, resource: ResourceDef, user: str) -> Response:
        row = self.store.patch(resource, self._id(request), await self._body(request))
        return JSONResponse(render(row))

    async def not_allowed(self, request: Request, resource: ResourceDef, user: str) -> Response:
        return problem(405, f"{request.method} is not supported on {resource.path}.")

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [Route("/connect/token", self.token, methods=["POST"])]
        everything = {"GET", "POST", "PUT", "PATCH", "DELETE"}
        for r in self.store.resources.values():
            base = f"/{r.module}/v2/tenant/{{tenant}}/{r.path}"
            one = f"{base}/{{id}}"
            collection = {"GET": self.list_rows, **({"POST": self.create} if r.create else {})}
            item: dict[str, Handler] = {"PATCH": self.patch} if r.patch else {}
            # Single reads exist for masters; invoices and payments are read by ?ids= instead.
            if r not in (INVOICES, PAYMENTS):
                item["GET"] = self.get_row
            if r.export:
                export = f"/{r.module}/v2/tenant/{{tenant}}/export/{r.path}"
                routes.append(Route(export, self.authed(r, self.export), methods=["GET"]))
            for path, handlers in ((base, collection), (one, item)):
                for method, handler in handlers.items():
                    routes.append(Route(path, self.authed(r, handler), methods=[method]))
                rest = sorted(everything - set(handlers))
                routes.append(Route(path, self.authed(r, self.not_allowed), methods=rest))
        return routes


def _access_token(request: Request) -> str | None:
    """ServiceTitan's guide sends ``Authorization: {access_token}``; clients also send
    ``Bearer {access_token}``, which the API takes as well."""
    bearer = bearer_token(request)
    if bearer is not None:
        return bearer
    value = request.headers.get("authorization", "").strip()
    return value if value and " " not in value else None


def _is_json(media_type: str) -> bool:
    return media_type in ("application/json", "text/json") or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _not_found(request: Request) -> Response:
    return problem(404, f"No resource matches '{request.url.path}'.")


def create_app(options: ServiceTitanOptions | None = None) -> Starlette:
    """The simulator app; its store is ``app.state.sim`` (a ServiceTitanStore)."""
    options = options or ServiceTitanOptions()
    store = ServiceTitanStore(options)
    store.faults.configure(options.faults)
    store.limits = limiter_for(store)
    outbox = outbox_for(store.clock, options, options.webhook_retry_delays)
    webhooks = Webhooks(
        outbox,
        list(options.webhook_subscriptions),
        store.resources,
        options.tenant_id,
        options.signature_header,
        options.signature_encoding,
    )
    store.db.subscribe(webhooks.on_change)
    api = ServiceTitanApi(store)
    inspection = [
        *entity_routes(store.db, StRecordAdapter(store)),
        *servicetitan_sim_routes(store),
        *webhook_routes(webhooks),
        *delivery_routes(outbox),
    ]
    return build_app(store, [*inspection, *api.routes()], not_found=_not_found, error=fault_error)
