"""ServiceNow instance simulator: OAuth, the Table, Import Set, Batch and Attachment APIs.

A client points its instance URL (``https://{instance}.service-now.com`` in production) at this
app and keeps every path, parameter and header as documented.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from simulators.base import BadJson, build_app, read_form, read_json
from simulators.credentials import basic_credentials, bearer_token, oauth_client
from simulators.limits import RateLimiter, RateRule, Rejection, credential_key
from simulators.servicenow.access import acl_denial
from simulators.servicenow.answers import flag, page_of, record_not_found, sn_error
from simulators.servicenow.attachments import AttachmentApi
from simulators.servicenow.batch import BATCH_PATHS, batch
from simulators.servicenow.inspection import inspection_routes
from simulators.servicenow.options import ServiceNowOptions
from simulators.servicenow.push import BusinessRulePush
from simulators.servicenow.seed import seed_instance
from simulators.servicenow.selection import select
from simulators.servicenow.store import ServiceNowStore
from simulators.servicenow.tables import (
    RecordNotFound,
    RenderOptions,
    render,
)


def fault_error(status: int, message: str, headers: Mapping[str, str]) -> JSONResponse:
    """Injected faults in the instance's error shape."""
    if status == 429:
        return sn_error(429, "Rate limit exceeded", message, **headers)
    return sn_error(status, message, None, **headers)


def limiter_for(store: ServiceNowStore, options: ServiceNowOptions) -> RateLimiter | None:
    if options.rate_limit_requests is None:
        return None
    limit, window = options.rate_limit_requests, options.rate_limit_window_seconds
    per = "hour" if window == 3600 else f"{window:g} seconds"

    def reject(rejection: Rejection) -> Response:
        return sn_error(
            429,
            "Rate limit exceeded",
            f"Rate limit of {limit} requests per {per} for {options.rate_limit_api_name} exceeded",
            **{
                "Retry-After": str(rejection.retry_after),
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Reset": str(rejection.reset_at),
                "X-RateLimit-Rule": options.rate_limit_rule_sys_id,
            },
        )

    rule = RateRule("sys_rate_limit_rules", limit, window, options.rate_limit_path_pattern)
    return RateLimiter(
        store.clock, rates=[rule], key_of=credential_key(store.tokens), reject=reject
    )


Endpoint = Callable[[Request], Awaitable[Response]]
AuthedHandler = Callable[[Request, str], Awaitable[Response]]


class ServiceNowApi:
    def __init__(self, store: ServiceNowStore) -> None:
        self.store = store
        self.options = store.options

    # -- OAuth ---------------------------------------------------------------------------

    def _token_response(self, user: str, refresh: str | None) -> JSONResponse:
        access = self.store.tokens.issue(
            subject=user, lifetime_seconds=self.options.access_token_lifetime_seconds
        )
        body: dict[str, Any] = {"access_token": access.value}
        if refresh is not None:
            body["refresh_token"] = refresh
        body.update(
            scope="useraccount",
            token_type="Bearer",
            expires_in=self.options.access_token_lifetime_seconds,
        )
        return JSONResponse(body)

    async def token(self, request: Request) -> Response:
        form = await read_form(request)
        # What the instance answers for any wrong credential: an odd but real pair.
        denied = JSONResponse({"error_description": "access_denied", "error": "server_error"}, 401)
        # The client may authenticate in the form or as HTTP Basic (client_secret_basic).
        client = oauth_client(request, form)
        if client != (self.options.client_id, self.options.client_secret):
            return denied
        grant = form.get("grant_type")
        if grant == "client_credentials":
            if not self.options.client_credentials_enabled:
                return JSONResponse(
                    {
                        "error": "access_denied",
                        "error_description": "The client credentials grant type is not enabled "
                        "on this instance (glide.oauth.inbound.client.credential.grant_type."
                        "enabled).",
                    },
                    401,
                )
            # Acts as the OAuth application user; no refresh token for this grant.
            return self._token_response(self.options.username, None)
        if grant == "password":
            if (form.get("username"), form.get("password")) != (
                self.options.username,
                self.options.password,
            ):
                return denied
            refresh = self.store.tokens.issue(
                subject=self.options.username,
                kind="refresh",
                lifetime_seconds=self.options.refresh_token_lifetime_seconds,
            )
            return self._token_response(self.options.username, refresh.value)
        if grant == "refresh_token":
            refresh_token = self.store.tokens.validate(form.get("refresh_token", ""), "refresh")
            if refresh_token is None:
                return denied
            return self._token_response(refresh_token.subject, refresh_token.value)
        return JSONResponse(
            {"error": "unsupported_grant_type", "error_description": f"{grant} not supported"}, 400
        )

    def authed(self, handler: AuthedHandler) -> Endpoint:
        """Bearer token or Basic credentials, as the instance accepts on every REST API."""

        async def endpoint(request: Request) -> Response:
            user: str | None = None
            value = bearer_token(request)
            if value is not None:
                token = self.store.tokens.validate(value)
                user = token.subject if token else None
            elif basic_credentials(request) == (self.options.username, self.options.password):
                user = self.options.username
            if user is None:
                return sn_error(
                    401,
                    "User Not Authenticated",
                    "Required to provide Auth information",
                    **{"WWW-Authenticate": 'BASIC realm="Service-now"'},
                )
            denied = self._acl(request, user)
            return denied or await handler(request, user)

        return endpoint

    def _acl(self, request: Request, user: str) -> Response | None:
        name = request.path_params.get("table") or request.path_params.get("staging_table")
        if not name:
            return None
        return acl_denial(self.store, name, user, write=request.method != "GET")

    # -- Table API -----------------------------------------------------------------------

    def _invalid_table(self, name: str) -> JSONResponse:
        return sn_error(self.options.unknown_table_status, f"Invalid table {name}")

    def _render_options(self, request: Request) -> RenderOptions:
        fields = request.query_params.get("sysparm_fields")
        return RenderOptions(
            base_url=str(request.base_url).rstrip("/"),
            fields=[f.strip() for f in fields.split(",") if f.strip()] if fields else None,
            exclude_reference_link=flag(request, "sysparm_exclude_reference_link"),
            display_value=request.query_params.get("sysparm_display_value", "false").lower(),
            tables=self.store.tables,
        )

    async def _body(self, request: Request) -> dict[str, Any] | JSONResponse:
        try:
            body = await read_json(request)
        except BadJson as exc:
            return sn_error(400, "Exception while reading request", f"Cannot decode: {exc}")
        if not isinstance(body, dict):
            return sn_error(
                400, "Exception while reading request", "Request body must be an object"
            )
        return body

    async def list_records(self, request: Request, user: str) -> Response:
        name = request.path_params["table"]
        table = self.store.table(name)
        if table is None:
            return self._invalid_table(name)
        params = request.query_params
        text = params.get("sysparm_query")
        if text is None:
            # Name-value pairs are the documented alternative to sysparm_query.
            text = "^".join(f"{k}={v}" for k, v in params.items() if not k.startswith("sysparm_"))
        records = select(self.store, table, text)
        if isinstance(records, JSONResponse):
            return records
        page = page_of(request, records, self.options.default_limit)
        opts = self._render_options(request)
        body = {"result": [render(table, r, opts) for r in page.rows]}
        return JSONResponse(body, headers=page.headers)

    async def get_record(self, request: Request, user: str) -> Response:
        name, sys_id = request.path_params["table"], request.path_params["sys_id"]
        table = self.store.table(name)
        if table is None:
            return self._invalid_table(name)
        record = table.records.get(sys_id)
        if record is None:
            return record_not_found()
        return JSONResponse({"result": render(table, record, self._render_options(request))})

    async def create_record(self, request: Request, user: str) -> Response:
        name = request.path_params["table"]
        table = self.store.table(name)
        if table is None:
            return self._invalid_table(name)
        body = await self._body(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            record = self.store.insert(name, body, user)
        except ValueError as exc:
            return sn_error(403, "Operation Failed", str(exc))
        opts = self._render_options(request)
        location = f"{opts.base_url}/api/now/table/{name}/{record['sys_id']}"
        return JSONResponse({"result": render(table, record, opts)}, 201, {"Location": location})

    async def update_record(self, request: Request, user: str) -> Response:
        name, sys_id = request.path_params["table"], request.path_params["sys_id"]
        table = self.store.table(name)
        if table is None:
            return self._invalid_table(name)
        body = await self._body(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            record = self.store.update(name, sys_id, body, user)
        except RecordNotFound:
            return record_not_found()
        return JSONResponse({"result": render(table, record, self._render_options(request))})

    async def delete_record(self, request: Request, user: str) -> Response:
        name, sys_id = request.path_params["table"], request.path_params["sys_id"]
        if self.store.table(name) is None:
            return self._invalid_table(name)
        try:
            self.store.delete(name, sys_id)
        except RecordNotFound:
            return record_not_found()
        return Response(status_code=204)

    # -- Import Set API ------------------------------------------------------------------

    def _import_body(
        self, staging: str, import_set: dict[str, str], rows: list[dict[str, str]], base: str
    ) -> dict[str, Any]:
        results = [r for row in rows for r in self.store.import_results(row["sys_id"], base)]
        return {"import_set": import_set["number"], "staging_table": staging, "result": results}

    async def import_one(self, request: Request, user: str) -> Response:
        staging = request.path_params["staging_table"]
        if not self.store.is_staging(staging):
            return self._invalid_table(staging)
        body = await self._body(request)
        if isinstance(body, JSONResponse):
            return body
        batch = self.store.import_rows(staging, [body], user, multiple=False)
        base = str(request.base_url).rstrip("/")
        return JSONResponse(self._import_body(staging, batch.import_set, batch.rows, base), 201)

    async def import_multiple(self, request: Request, user: str) -> Response:
        staging = request.path_params["staging_table"]
        if not self.store.is_staging(staging):
            return self._invalid_table(staging)
        body = await self._body(request)
        if isinstance(body, JSONResponse):
            return body
        records = body.get("records")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            return sn_error(400, "Invalid request", 'Body must be {"records": [ {...}, ... ]}')
        # Transformed before answering: the platform does it asynchronously by default, and a
        # client must poll results anyway; answering after the transform keeps tests simple.
        batch = self.store.import_rows(staging, records, user, multiple=True)
        return JSONResponse(
            {
                "import_set_id": batch.import_set["sys_id"],
                "multi_import_set_id": batch.multi_import_set_id,
            },
            201,
        )

    async def import_status(self, request: Request, user: str) -> Response:
        staging, sys_id = request.path_params["staging_table"], request.path_params["sys_id"]
        if not self.store.is_staging(staging):
            return self._invalid_table(staging)
        row = self.store.tables[staging].records.get(sys_id)
        if row is None:
            return record_not_found()
        import_set = self.store.tables["sys_import_set"].records.get(row["sys_import_set"], {})
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            self._import_body(staging, {"number": import_set.get("number", "")}, [row], base)
        )

    def routes(self) -> list[BaseRoute]:
        table, record = "/api/now/table/{table}", "/api/now/table/{table}/{sys_id}"
        staging = "/api/now/import/{staging_table}"
        return [
            Route("/oauth_token.do", self.token, methods=["POST"]),
            Route(table, self.authed(self.list_records), methods=["GET"]),
            Route(table, self.authed(self.create_record), methods=["POST"]),
            Route(record, self.authed(self.get_record), methods=["GET"]),
            Route(record, self.authed(self.update_record), methods=["PUT", "PATCH"]),
            Route(record, self.authed(self.delete_record), methods=["DELETE"]),
            Route(f"{staging}/insertMultiple", self.authed(self.import_multiple), methods=["POST"]),
            Route(staging, self.authed(self.import_one), methods=["POST"]),
            Route(f"{staging}/{{sys_id}}", self.authed(self.import_status), methods=["GET"]),
            *(Route(path, self.authed(batch), methods=["POST"]) for path in BATCH_PATHS),
        ]


def _not_found(request: Request) -> Response:
    return sn_error(400, "Requested URI does not represent any resource")


def create_app(options: ServiceNowOptions | None = None) -> Starlette:
    """The simulator app; its store is ``app.state.sim`` (a ServiceNowStore)."""
    store = ServiceNowStore(options or ServiceNowOptions())
    seed_instance(store)  # before anything watches the tables
    store.faults.configure(store.options.faults)
    store.limits = limiter_for(store, store.options)
    extra: list[BaseRoute] = []
    if store.options.push is not None:
        push = BusinessRulePush(store.clock, store.options.push, store.options.delivery_transport)
        store.watch(push.on_change)
        extra = list(push.routes())
    api = ServiceNowApi(store)
    attachments = AttachmentApi(store)
    return build_app(
        store,
        [*inspection_routes(store), *extra, *api.routes(), *attachments.routes(api.authed)],
        not_found=_not_found,
        error=fault_error,
    )
