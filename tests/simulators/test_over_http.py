"""The same contracts over real sockets (uvicorn in a thread), where in-process tests cannot
reach: ``$batch`` dispatch inside a served app, HTTPS with Basic auth, 429 headers on the wire.
"""

from __future__ import annotations

import ssl
from urllib.parse import quote

import httpx

from simulators import business_central, nav, servicenow
from simulators.server import serve_in_thread
from tests.simulators.support import BC_ROOT, BC_TOKEN_FORM, BC_TOKEN_PATH, SN_AUTH


def test_bc_batch_and_posting_over_http() -> None:
    app = business_central.create_app(business_central.BusinessCentralOptions(vendor_count=3))
    url, stop = serve_in_thread(app)
    try:
        with httpx.Client(base_url=url) as client:
            token = client.post(BC_TOKEN_PATH, data=BC_TOKEN_FORM).json()["access_token"]
            h = {"Authorization": f"Bearer {token}"}
            company = client.get(f"{BC_ROOT}/companies", headers=h).json()["value"][0]["id"]
            drafts = client.get(
                f"{BC_ROOT}/companies({company})/purchaseInvoices",
                headers=h,
                params={"$filter": "status eq 'Draft'"},
            ).json()["value"]
            post = f"companies({company})/purchaseInvoices({drafts[0]['id']})/Microsoft.NAV.post"
            batch = client.post(
                f"{BC_ROOT}/$batch",
                headers=h,
                json={
                    "requests": [
                        {"id": "1", "method": "POST", "url": post},
                        {"id": "2", "method": "POST", "url": post},
                    ]
                },
            )
    finally:
        stop()
    assert [r["status"] for r in batch.json()["responses"]] == [204, 400]


def test_nav_legacy_page_over_https_with_basic_auth() -> None:
    served = serve_in_thread(nav.create_app(nav.NavOptions(vendor_count=3)), tls=True)
    url, stop = served
    assert served.cert_path is not None
    trust = ssl.create_default_context(cafile=served.cert_path)
    company = quote("CRONUS USA, Inc.")
    try:
        with httpx.Client(base_url=url, verify=trust) as client:
            ok = client.get(
                f"/BC/ODataV4/Company('{company}')/VendorList",
                auth=("MLC", "mlc-web-service-access-key"),
            )
            refused = client.get(f"/BC/ODataV4/Company('{company}')/VendorList", auth=("MLC", "x"))
    finally:
        stop()
    assert url.startswith("https://")
    assert [r["No"] for r in ok.json()["value"]] == ["V00010", "V00020", "V00030"]
    assert refused.status_code == 401


def test_servicenow_rate_limit_and_acl_over_http() -> None:
    options = servicenow.ServiceNowOptions(rate_limit_requests=1, user_roles=("rest_service",))
    url, stop = serve_in_thread(servicenow.create_app(options))
    try:
        with httpx.Client(base_url=url, auth=SN_AUTH) as client:
            denied = client.get("/api/now/table/sn_shop_invoice")
            limited = client.get("/api/now/table/core_company")
            calls = client.get("/_sim/calls").json()
    finally:
        stop()
    assert denied.status_code == 403
    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Limit"] == "1"
    assert int(limited.headers["Retry-After"]) > 0
    assert calls["total"] == 2
