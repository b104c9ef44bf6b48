"""`ml-connector simulate <system>` for all six, reached as the README's table says."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import pytest

from devkit.java import free_port


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def bc(u: str) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": "mlc-client",
            "client_secret": "mlc-secret",
            "scope": "https://api.businesscentral.dynamics.com/.default"}  # fmt: skip
    token = httpx.post(f"{u}/sim-tenant/oauth2/v2.0/token", data=form).json()["access_token"]
    return httpx.get(f"{u}/v2.0/sim-tenant/production/api/v2.0/companies", headers=bearer(token))


def nav_(u: str) -> httpx.Response:
    auth = ("MLC", "mlc-web-service-access-key")
    assert httpx.get(f"{u}/BC/api/v2.0/companies", auth=auth).status_code == 200
    return httpx.get(f"{u}/BC/ODataV4/Company('CRONUS USA, Inc.')/VendorList", auth=auth)


def fo(u: str) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": "mlc-client",
            "client_secret": "mlc-secret", "scope": f"{u}/.default"}  # fmt: skip
    token = httpx.post(f"{u}/sim-tenant/oauth2/v2.0/token", data=form).json()["access_token"]
    return httpx.get(f"{u}/data/VendorsV2", headers=bearer(token))


def acu(u: str) -> httpx.Response:
    form = {"grant_type": "password", "client_id": "6F0B7A52-3F1E-4C55-9D0A-5B2C1C7E9A10@MLC",
            "client_secret": "mlc-secret", "username": "mlc.integration",
            "password": "mlc-password", "scope": "api offline_access"}  # fmt: skip
    token = httpx.post(f"{u}/identity/connect/token", data=form).json()["access_token"]
    return httpx.get(f"{u}/entity/Default/24.200.001/Vendor", headers=bearer(token))


def st(u: str) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": "cid.mlc-sim",
            "client_secret": "cs1.mlc-secret"}  # fmt: skip
    token = httpx.post(f"{u}/connect/token", data=form).json()["access_token"]
    headers = bearer(token, **{"ST-App-Key": "ak1.mlc-app-key"})
    return httpx.get(f"{u}/accounting/v2/tenant/1234567/invoices", headers=headers)


def sn(u: str) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": "mlc-client",
            "client_secret": "mlc-secret"}  # fmt: skip
    token = httpx.post(f"{u}/oauth_token.do", data=form).json()["access_token"]
    assert httpx.get(f"{u}/api/now/table/core_company", headers=bearer(token)).status_code == 200
    return httpx.get(f"{u}/api/now/table/core_company", auth=("mlc.integration", "mlc-password"))


@pytest.mark.parametrize(
    ("system", "call"),
    [
        ("business_central", bc),
        ("nav", nav_),
        ("servicenow", sn),
        ("finance_operations", fo),
        ("acumatica", acu),
        ("servicetitan", st),
    ],
)
def test_simulate_serves_each_system_as_the_readme_says(
    system: str, call: Callable[[str], httpx.Response]
) -> None:
    port = free_port()
    command = [sys.executable, "-m", "app", "simulate", system, "--port", str(port)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/_sim/calls", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, f"{system} simulator did not start"
                time.sleep(0.1)
        response = call(url)
    finally:
        process.terminate()
        process.wait(10)
    assert response.status_code == 200, response.text
