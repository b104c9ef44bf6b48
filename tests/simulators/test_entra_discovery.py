"""Entra ID as Microsoft's own library (MSAL) sees it: discovery, then a client-credentials token.

Contracts: OpenID Connect Discovery 1.0 section 4 and "OpenID Connect on the Microsoft identity
platform" (the v2.0 document's fields); MSAL Python's instance discovery
(``/common/discovery/instance?authorization_endpoint=...``) which it sends for any authority
host it does not know; RFC 6749 section 2.3.1 for client_secret_basic; RFC 7517 for the keys.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import msal
import pytest
from starlette.applications import Starlette

from simulators import business_central, finance_operations, nav
from simulators.server import Served, serve_in_thread
from tests.simulators.support import BC_ROOT, BC_TOKEN_FORM, BC_TOKEN_PATH

BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"
FNO_SCOPE = "https://mlc-sim.operations.dynamics.com/.default"


@pytest.fixture(autouse=True)
def _requests_honours_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets these variables override a session's ``verify`` (the one MSAL sets from
    # its ``verify=`` option), which would hide the simulator's certificate.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def bc() -> Iterator[Served]:
    served = serve_in_thread(
        business_central.create_app(business_central.BusinessCentralOptions(vendor_count=2)),
        tls=True,
    )
    yield served
    served.stop()


def _trust(served: Served) -> ssl.SSLContext:
    assert served.cert_path is not None
    return ssl.create_default_context(cafile=served.cert_path)


def _token(served: Served, scope: str, secret: str = "mlc-secret", **options: Any) -> Any:
    """What ``acquire_token_for_client`` answers; MSAL's session is closed after it, since the
    server's shutdown would otherwise wait for the kept-alive connection."""
    app = msal.ConfidentialClientApplication(
        "mlc-client",
        client_credential=secret,
        authority=f"{served.url}/sim-tenant",
        verify=served.cert_path,
        **options,
    )
    try:
        return app.acquire_token_for_client(scopes=[scope])
    finally:
        app.http_client.close()


def _routes(served: Served) -> list[tuple[str, str | None]]:
    log = httpx.get(f"{served.url}/_sim/requests", verify=_trust(served)).json()["requests"]
    return [(e["method"], e["route"]) for e in log]


def test_msal_discovers_the_authority_and_gets_a_token_that_reads_bc(bc: Served) -> None:
    # MSAL asks login.microsoftonline.com about unknown hosts unless given an instance
    # discovery URL: pointed at the simulated authority's own, it needs nothing else.
    result = _token(bc, BC_SCOPE, instance_discovery=f"{bc.url}/common/discovery/instance")
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    with httpx.Client(base_url=bc.url, verify=_trust(bc)) as client:
        companies = client.get(
            f"{BC_ROOT}/companies",
            headers={"Authorization": f"Bearer {result['access_token']}"},
        )
    assert companies.status_code == 200
    assert companies.json()["value"]
    assert _routes(bc)[:3] == [
        ("GET", "/common/discovery/instance"),
        ("GET", "/{tenant}/v2.0/.well-known/openid-configuration"),
        ("POST", "/{tenant}/oauth2/v2.0/token"),
    ]


def test_msal_without_instance_discovery_goes_straight_to_the_tenant(bc: Served) -> None:
    result = _token(bc, BC_SCOPE, instance_discovery=False)
    assert "access_token" in result, result
    assert _routes(bc) == [
        ("GET", "/{tenant}/v2.0/.well-known/openid-configuration"),
        ("POST", "/{tenant}/oauth2/v2.0/token"),
    ]


def test_msal_with_a_wrong_secret_gets_entra_invalid_client(bc: Served) -> None:
    result = _token(bc, BC_SCOPE, secret="wrong", instance_discovery=False)
    assert result["error"] == "invalid_client"
    assert 7000215 in result["error_codes"]


def _fno_app() -> Starlette:
    return finance_operations.create_app(finance_operations.FinanceOperationsOptions())


def _nav_app() -> Starlette:
    return nav.create_app(nav.NavOptions(vendor_count=1, entra_enabled=True))


@pytest.mark.parametrize(
    ("make_app", "scope", "read"),
    [
        (_fno_app, FNO_SCOPE, "/data/VendorsV2?$top=1"),
        (_nav_app, BC_SCOPE, "/BC/api/v2.0/companies"),
    ],
)
def test_msal_token_reads_the_other_entra_backed_systems(
    make_app: Callable[[], Starlette], scope: str, read: str
) -> None:
    served = serve_in_thread(make_app(), tls=True)
    try:
        result = _token(served, scope, instance_discovery=f"{served.url}/common/discovery/instance")
        assert "access_token" in result, result
        response = httpx.get(
            f"{served.url}{read}",
            headers={"Authorization": f"Bearer {result['access_token']}"},
            verify=_trust(served),
        )
    finally:
        served.stop()
    assert response.status_code == 200, response.text
    assert response.json()["value"]


def test_discovery_document_names_the_simulator_own_endpoints(bc: Served) -> None:
    with httpx.Client(base_url=bc.url, verify=_trust(bc)) as client:
        by_name = client.get("/sim-tenant/v2.0/.well-known/openid-configuration").json()
        unknown = client.get("/other-tenant/v2.0/.well-known/openid-configuration")
    tenant_id = business_central.BusinessCentralOptions().tenant_id
    # Entra names the tenant by id in the document, whichever way it was asked for.
    assert by_name["token_endpoint"] == f"{bc.url}/{tenant_id}/oauth2/v2.0/token"
    assert by_name["issuer"] == f"{bc.url}/{tenant_id}/v2.0"
    assert by_name["jwks_uri"] == f"{bc.url}/{tenant_id}/discovery/v2.0/keys"
    assert "client_secret_basic" in by_name["token_endpoint_auth_methods_supported"]
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_tenant"
    assert unknown.json()["error_codes"] == [90002]


def test_instance_discovery_refuses_an_authorization_endpoint_on_another_host(bc: Served) -> None:
    with httpx.Client(base_url=bc.url, verify=_trust(bc)) as client:
        foreign = client.get(
            "/common/discovery/instance",
            params={
                "api-version": "1.1",
                "authorization_endpoint": "https://elsewhere.test/t/oauth2/v2.0/authorize",
            },
        )
        missing = client.get("/common/discovery/instance", params={"api-version": "1.1"})
    assert foreign.status_code == 400
    assert foreign.json()["error"] == "invalid_instance"
    assert missing.status_code == 400


def test_tokens_verify_against_the_published_keys(bc: Served) -> None:
    with httpx.Client(base_url=bc.url, verify=_trust(bc)) as client:
        config = client.get("/sim-tenant/v2.0/.well-known/openid-configuration").json()
        keys = client.get(config["jwks_uri"].removeprefix(bc.url)).json()
        token = client.post(BC_TOKEN_PATH, data=BC_TOKEN_FORM).json()["access_token"]
    header = jwt.get_unverified_header(token)
    (key,) = [k for k in keys["keys"] if k["kid"] == header["kid"]]
    claims = jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        audience="https://api.businesscentral.dynamics.com",
    )
    assert claims["appid"] == "mlc-client"
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, jwt.PyJWK(key).key, algorithms=["RS256"], audience=claims["aud"])


def test_token_endpoint_takes_client_secret_basic(bc: Served) -> None:
    form = {k: v for k, v in BC_TOKEN_FORM.items() if k not in {"client_id", "client_secret"}}
    with httpx.Client(base_url=bc.url, verify=_trust(bc)) as client:
        basic = client.post(BC_TOKEN_PATH, data=form, auth=("mlc-client", "mlc-secret"))
        wrong = client.post(BC_TOKEN_PATH, data=form, auth=("mlc-client", "nope"))
        # With a secret in the form too, the form is the client's authentication.
        form_wins = client.post(BC_TOKEN_PATH, data=BC_TOKEN_FORM, auth=("someone", "else"))
    assert basic.status_code == 200, basic.text
    assert json.loads(basic.text)["token_type"] == "Bearer"
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert form_wins.status_code == 200
