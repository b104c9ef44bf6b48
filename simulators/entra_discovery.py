"""What Microsoft's authentication libraries read before they ask an Entra authority for a token.

- ``GET /{tenant}/v2.0/.well-known/openid-configuration``: the OpenID Connect discovery document
  (OpenID Connect Discovery 1.0 section 4; Entra's fields as in "OpenID Connect on the Microsoft
  identity platform"). Endpoints name the tenant by its id, as Entra does for a domain name.
- ``GET /common/discovery/instance?authorization_endpoint=...&api-version=1.1``: instance
  discovery. MSAL sends it before tenant discovery for any authority host it does not know,
  unless told ``instance_discovery=False`` (or a URL of its own, such as this one). An
  authorization endpoint on another host is answered ``invalid_instance`` as Entra does.
- ``GET /{tenant}/discovery/v2.0/keys``: the key set the discovery names as ``jwks_uri``.

URLs are built from the request's own base URL, so the document is right behind any port or
scheme the simulator is served on.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulators.credentials import TokenStore
from simulators.entra import EntraApp, entra_error, token_endpoint
from simulators.entra_keys import jwks


def _unknown_tenant(tenant: str) -> JSONResponse:
    return entra_error(
        400,
        "invalid_tenant",
        f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct "
        "tenant ID and are signing into the correct cloud.",
    )


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def openid_configuration(base: str, tenant_id: str) -> dict[str, object]:
    authority = f"{base}/{tenant_id}"
    return {
        "token_endpoint": f"{authority}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{authority}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{authority}/v2.0",
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{authority}/oauth2/v2.0/devicecode",
        "end_session_endpoint": f"{authority}/oauth2/v2.0/logout",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver", "oid"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": urlsplit(base).netloc,
    }


def _invalid_instance(description: str) -> JSONResponse:
    return entra_error(400, "invalid_instance", f"AADSTS50049: {description}")


def authority_routes(
    tokens: TokenStore,
    app: EntraApp,
    accepted_scopes: Callable[[Request], Collection[str]],
) -> list[Route]:
    """The token endpoint (see ``entra.token_endpoint``) and the discovery around it."""
    return [
        Route(
            "/{tenant}/oauth2/v2.0/token",
            token_endpoint(tokens, app, accepted_scopes),
            methods=["POST"],
        ),
        *discovery_routes(app),
    ]


def discovery_routes(app: EntraApp) -> list[Route]:
    def tenant_id_of(tenant: str) -> str | None:
        """The tenant id for a tenant as written in a URL (its name or id), None if unknown."""
        return (
            app.tenant_id if tenant.lower() in {app.tenant.lower(), app.tenant_id.lower()} else None
        )

    async def configuration(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        tenant_id = tenant_id_of(tenant)
        if tenant_id is None:
            return _unknown_tenant(tenant)
        return JSONResponse(openid_configuration(_base(request), tenant_id))

    async def keys(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        tenant_id = tenant_id_of(tenant)
        if tenant_id is None:
            return _unknown_tenant(tenant)
        return JSONResponse(jwks(f"{_base(request)}/{tenant_id}/v2.0"))

    async def instance(request: Request) -> Response:
        endpoint = request.query_params.get("authorization_endpoint", "")
        parts = urlsplit(endpoint)
        own = urlsplit(_base(request)).netloc
        if not endpoint:
            return _invalid_instance("The authorization_endpoint parameter is missing.")
        # MSAL sends the authority's host name without its port.
        if (parts.hostname or "").lower() != (urlsplit(_base(request)).hostname or "").lower():
            return _invalid_instance("Unknown or invalid instance.")
        segments = [s for s in parts.path.split("/") if s]
        tenant = segments[0] if segments else "common"
        # The v2.0 authorize endpoint points at the v2.0 document, the v1 one at v1's.
        version = "/v2.0" if "/oauth2/v2.0/" in parts.path else ""
        return JSONResponse(
            {
                "tenant_discovery_endpoint": (
                    f"{parts.scheme}://{own}/{tenant}{version}/.well-known/openid-configuration"
                ),
                "api-version": request.query_params.get("api-version", "1.1"),
                "metadata": [{"preferred_network": own, "preferred_cache": own, "aliases": [own]}],
            }
        )

    return [
        Route("/common/discovery/instance", instance, methods=["GET"]),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", configuration, methods=["GET"]),
        Route("/{tenant}/discovery/v2.0/keys", keys, methods=["GET"]),
    ]
