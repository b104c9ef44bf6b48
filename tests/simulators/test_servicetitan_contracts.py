"""ServiceTitan contracts over HTTPS on a real socket: the access token as the guide sends it
(``Authorization: {access_token}``) and as ``Bearer``, with ``ST-App-Key``; and a body that is
not JSON on a JSON endpoint answered 415 with an RFC 7807 problem, as ASP.NET Core does.
ServiceTitan publishes no Python client library; the token comes from an RFC 6749 client.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client

from simulators.server import Served, serve_in_thread
from simulators.servicetitan import ServiceTitanOptions, create_app

TENANT = 1234567
APP_KEY = "ak1.mlc-app-key"
MATERIALS = f"/pricebook/v2/tenant/{TENANT}/materials"


@pytest.fixture
def st() -> Iterator[Served]:
    served = serve_in_thread(create_app(ServiceTitanOptions()), tls=True)
    yield served
    served.stop()


def _trust(served: Served) -> ssl.SSLContext:
    assert served.cert_path is not None
    return ssl.create_default_context(cafile=served.cert_path)


def _token(served: Served) -> str:
    with OAuth2Client(
        "cid.mlc-sim",
        "cs1.mlc-secret",
        token_endpoint_auth_method="client_secret_post",
        verify=_trust(served),
    ) as client:
        token = client.fetch_token(f"{served.url}/connect/token", grant_type="client_credentials")
    assert token["expires_in"] == 900
    return str(token["access_token"])


@pytest.mark.parametrize("scheme", ["", "Bearer ", "bearer "])
def test_the_access_token_is_taken_bare_or_as_bearer(st: Served, scheme: str) -> None:
    token = _token(st)
    with httpx.Client(base_url=st.url, verify=_trust(st)) as client:
        read = client.get(
            MATERIALS, headers={"Authorization": f"{scheme}{token}", "ST-App-Key": APP_KEY}
        )
        without_key = client.get(MATERIALS, headers={"Authorization": f"{scheme}{token}"})
        wrong = client.get(
            MATERIALS, headers={"Authorization": f"{scheme}nope", "ST-App-Key": APP_KEY}
        )
    assert read.status_code == 200, read.text
    assert read.json()["data"]
    assert without_key.status_code == 401
    assert wrong.status_code == 401


def test_a_form_body_on_a_json_endpoint_is_415(st: Served) -> None:
    headers = {"Authorization": f"Bearer {_token(st)}", "ST-App-Key": APP_KEY}
    with httpx.Client(base_url=st.url, verify=_trust(st), headers=headers) as client:
        form = client.post(MATERIALS, data={"code": "FORM-1", "displayName": "Form"})
        untyped = client.post(MATERIALS, content=b'{"code": "RAW-1", "displayName": "Raw"}')
        patched = client.patch(f"{MATERIALS}/1", data={"price": "3"})
        vendor_json = client.post(
            MATERIALS,
            content=b'{"code": "JSON-1", "displayName": "Json"}',
            headers={"Content-Type": "application/json-patch+json"},
        )
        listed = client.get(MATERIALS, params={"pageSize": "5000"}).json()["data"]
    for response in (form, untyped, patched):
        assert response.status_code == 415
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert (problem["status"], problem["title"]) == (415, "Unsupported Media Type")
        assert problem["type"] == "https://tools.ietf.org/html/rfc7231#section-6.5.13"
    assert vendor_json.status_code == 200, vendor_json.text
    codes = {m["code"] for m in listed}
    assert "JSON-1" in codes and not codes & {"FORM-1", "RAW-1"}
