"""An Entra ID (Azure AD) v2.0 client-credentials token endpoint for Microsoft simulators.

``POST /{tenant}/oauth2/v2.0/token`` (login.microsoftonline.com in production). Which scopes
are accepted is the caller's choice, since each resource (BC, an F&O environment) has its own
``{resource}/.default``. Tokens are RS256 JWTs signed with the key that the discovery document's
``jwks_uri`` publishes (``entra_keys``), so clients that read ``exp`` or validate them work.

The client authenticates with ``client_id`` + ``client_secret`` in the form (client_secret_post)
or as HTTP Basic (client_secret_basic, RFC 6749 section 2.3.1): Entra's discovery document
lists both. A request with both is judged by its form (see ``credentials.oauth_client``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from simulators.base import read_form
from simulators.credentials import TokenStore, oauth_client
from simulators.entra_keys import sign_jwt


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


@dataclass(frozen=True)
class EntraApp:
    tenant: str
    tenant_id: str
    client_id: str
    client_secret: str
    lifetime_seconds: int


def token_endpoint(
    tokens: TokenStore,
    app: EntraApp,
    accepted_scopes: Callable[[Request], Collection[str]],
) -> Callable[[Request], Awaitable[Response]]:
    """The route handler; ``accepted_scopes`` sees the request (an F&O sim accepts its own URL)."""

    def tenant_known(tenant: str) -> bool:
        return tenant.lower() in {app.tenant.lower(), app.tenant_id.lower()}

    async def token(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if not tenant_known(tenant):
            return entra_error(400, "invalid_request", f"AADSTS90002: Tenant '{tenant}' not found.")
        form = await read_form(request)
        grant = form.get("grant_type", "")
        if grant != "client_credentials":
            return entra_error(
                400,
                "unsupported_grant_type",
                f"AADSTS70003: The app requested an unsupported grant type '{grant}'.",
            )
        client = oauth_client(request, form)
        if client != (app.client_id, app.client_secret):
            return entra_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
                f"in the request is the client secret value for app '{client[0]}'.",
            )
        scope = form.get("scope", "")
        scopes = {s.rstrip("/").lower() for s in accepted_scopes(request)}
        if scope.rstrip("/").lower() not in scopes:
            return entra_error(
                400,
                "invalid_scope",
                f"AADSTS1002012: The provided value for scope {scope} is not valid. Client "
                "credential flows must have a scope value with /.default suffixed to the "
                "resource identifier (application ID URI).",
            )
        audience = scope[: -len("/.default")] if scope.endswith("/.default") else scope
        principal = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{app.tenant_id}/{app.client_id}"))

        def render(issued: datetime, expires: datetime) -> str:
            return sign_jwt(
                {
                    "aud": audience,
                    "iss": f"https://sts.windows.net/{app.tenant_id}/",
                    "iat": int(issued.timestamp()),
                    "nbf": int(issued.timestamp()),
                    "exp": int(expires.timestamp()),
                    # The service principal's object id: Entra puts it in both, and OIDC
                    # clients (librdkafka's, Kafka's token validator) require ``sub``.
                    "sub": principal,
                    "oid": principal,
                    "appid": app.client_id,
                    "tid": app.tenant_id,
                    "jti": str(uuid.uuid4()),
                }
            )

        issued = tokens.issue(
            subject=app.client_id,
            lifetime_seconds=app.lifetime_seconds,
            claims={"aud": audience},
            render=render,
        )
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": app.lifetime_seconds,
                "ext_expires_in": app.lifetime_seconds,
                "access_token": issued.value,
            }
        )

    return token
