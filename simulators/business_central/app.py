"""Business Central online API v2.0 simulator (with the Entra ID token endpoint it relies on).

URL shapes follow the real service so a client only swaps its base URLs:
token at ``{base}/{tenant}/oauth2/v2.0/token`` (login.microsoftonline.com in production) and the
API at ``{base}/v2.0[/{tenant}]/{environment}/api/v2.0/...`` (api.businesscentral.dynamics.com).

Served under ``.../api/v2.0``: ``companies``, every entity set of ``entities`` (document
lines also under their header; ``documentAttachments`` with their content also under the
invoices they are attached to), bound actions ``Microsoft.NAV.post`` and
``Microsoft.NAV.receiveAndInvoice``, ``$batch``, ``$metadata`` and webhook ``subscriptions``.
The pieces live in this package's other modules (the options in ``options``); this one holds
auth and routes and assembles the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from simulators.base import SimulatorState, build_app
from simulators.business_central.actions import DocumentActions
from simulators.business_central.api import EntityHandlers
from simulators.business_central.attachments import DocumentAttachments
from simulators.business_central.batch import batch
from simulators.business_central.entities import DOCUMENT_ATTACHMENTS
from simulators.business_central.http import (
    ApiContext,
    Handler,
    bc_error,
    fault_error,
    limit_error,
    odata_response,
    run_guarded,
)
from simulators.business_central.inspection import inspection_routes
from simulators.business_central.metadata import metadata_xml
from simulators.business_central.options import BusinessCentralOptions
from simulators.business_central.seed import seed_company
from simulators.business_central.store import COMPANY_FIELDS, BusinessCentralStore
from simulators.business_central.webhooks import Webhooks
from simulators.credentials import bearer_token
from simulators.entra import EntraApp
from simulators.entra_discovery import authority_routes
from simulators.limits import ConcurrencyRule, RateLimiter, RateRule, credential_key
from simulators.odata import parse_filter

BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"
# Paths metered by BC's operational limits (the token endpoint is Entra's, not BC's).
API_PATHS = r"/(api/v2\.0|ODataV4)(/|$)"


def limiter_for(store: SimulatorState, options: BusinessCentralOptions) -> RateLimiter:
    """BC's documented limits: a sliding window and a bounded queue per user / app."""
    return RateLimiter(
        store.clock,
        rates=[
            RateRule(
                "requests-per-window",
                options.rate_limit_requests,
                options.rate_limit_window_seconds,
                API_PATHS,
            )
        ],
        concurrency=ConcurrencyRule(
            "concurrent-requests",
            options.max_concurrent_requests,
            options.max_queued_requests,
            options.queue_timeout_seconds,
            API_PATHS,
        ),
        key_of=credential_key(store.tokens),
        reject=limit_error,
    )


class BusinessCentralApi:
    """Route handlers; one instance per app, bound to its store."""

    def __init__(self, store: BusinessCentralStore) -> None:
        self.store = store
        self.options = store.options
        self.entities = EntityHandlers(store, store.options)
        self.actions = DocumentActions(store)
        self.attachments = DocumentAttachments(store, self.entities)
        self.webhooks = Webhooks(store, store.options) if store.options.webhooks_enabled else None
        entra = EntraApp(
            tenant=self.options.tenant,
            tenant_id=self.options.tenant_id,
            client_id=self.options.client_id,
            client_secret=self.options.client_secret,
            lifetime_seconds=self.options.token_lifetime_seconds,
        )
        self.authority = authority_routes(store.tokens, entra, lambda request: (BC_SCOPE,))

    # -- auth ----------------------------------------------------------------------------

    def _tenant_known(self, tenant: str) -> bool:
        return tenant.lower() in {self.options.tenant.lower(), self.options.tenant_id.lower()}

    def authenticate(self, request: Request) -> Response | None:
        """None when the caller may proceed; BC online takes Entra bearer tokens only."""
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
        return None

    def api(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Authenticate, check tenant/environment/company, then run ``handler``."""

        async def endpoint(request: Request) -> Response:
            refused = self.authenticate(request)
            if refused is not None:
                return refused
            environment = request.path_params.get("environment", self.options.environment)
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
            marker = "/api/v2.0" if "/api/v2.0" in path else "/ODataV4"
            root = str(request.base_url).rstrip("/") + path[: path.index(marker) + len(marker)]
            ctx = ApiContext(request, self.store, company_id, root)
            return await run_guarded(handler, ctx, self.options.read_only_status)

        return endpoint

    # -- companies -----------------------------------------------------------------------

    async def list_companies(self, ctx: ApiContext) -> Response:
        rows = [c.render() for c in self.store.companies.values()]
        text = ctx.request.query_params.get("$filter")
        if text:
            predicate = parse_filter(text, COMPANY_FIELDS, "company")
            rows = [r for r in rows if predicate(r)]
        return odata_response({"@odata.context": f"{ctx.root}/$metadata#companies", "value": rows})

    async def get_company(self, ctx: ApiContext) -> Response:
        body = self.store.companies[ctx.company_id].render()
        return odata_response({"@odata.context": f"{ctx.root}/$metadata#companies/$entity", **body})

    async def metadata(self, ctx: ApiContext) -> Response:
        xml = metadata_xml(self.store.entity_sets.values(), subscriptions=bool(self.webhooks))
        return Response(xml, media_type="application/xml", headers={"OData-Version": "4.0"})

    def company_routes(self, company: str) -> list[BaseRoute]:
        """Entity sets, nested line sets and bound actions under one company URL."""
        routes: list[BaseRoute] = self.attachments.routes(company, self.api)
        e = self.entities
        for d in self.store.entity_sets.values():
            if d.name == DOCUMENT_ATTACHMENTS.name:
                continue  # attached to records of several sets: routed by ``attachments``
            bases = [f"{company}/{d.name}"]
            if d.parent is not None:
                bases.append(f"{company}/{d.parent}({{parent_id}})/{d.name}")
            for collection in bases:
                routes += e.routes(collection, d, self.api)
            for action in d.actions:
                path = f"{company}/{d.name}({{id}})/Microsoft.NAV.{action}"
                routes.append(
                    Route(path, self.api(self.actions.handler(d, action)), methods=["POST"])
                )
        return routes

    def api_routes(self, prefix: str) -> list[BaseRoute]:
        """Everything under one ``.../api/v2.0`` root."""
        company = prefix + "/companies({company_id})"
        webhooks = self.webhooks.api_routes(prefix, self.api) if self.webhooks else []
        return [
            Route(f"{prefix}/companies", self.api(self.list_companies), methods=["GET"]),
            Route(company, self.api(self.get_company), methods=["GET"]),
            Route(f"{prefix}/$metadata", self.api(self.metadata), methods=["GET"]),
            Route(f"{prefix}/$batch", self.api(batch), methods=["POST"]),
            *webhooks,
            *self.company_routes(company),
        ]

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            *self.authority,
        ]
        # The tenant segment is optional on the real service; the token says which tenant.
        for prefix in ("/v2.0/{tenant}/{environment}/api/v2.0", "/v2.0/{environment}/api/v2.0"):
            routes += self.api_routes(prefix)
        return routes


def _not_found(request: Request) -> Response:
    return bc_error(
        404,
        "BadRequest_NotFound",
        f"No HTTP resource was found that matches the request URI '{request.url}'.",
    )


def assemble(store: BusinessCentralStore, api: BusinessCentralApi) -> Starlette:
    """The app around a store and its API (BC online here, NAV in ``nav``)."""
    store.faults.configure(store.options.faults)
    store.limits = limiter_for(store, store.options)
    hooks = api.webhooks.inspection_routes() if api.webhooks else []
    return build_app(
        store,
        [*inspection_routes(store), *hooks, *api.routes()],
        not_found=_not_found,
        error=fault_error,
    )


def seeded_store(options: BusinessCentralOptions) -> BusinessCentralStore:
    """A store with its seed data, before any webhook listens (seeding notifies no one)."""
    store = BusinessCentralStore(options)
    seed_company(store, store.default_company_id())
    return store


def create_app(options: BusinessCentralOptions | None = None) -> Starlette:
    """The simulator app; its store is ``app.state.sim`` (a BusinessCentralStore)."""
    store = seeded_store(options or BusinessCentralOptions())
    return assemble(store, BusinessCentralApi(store))
