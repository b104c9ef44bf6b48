"""Fault injection behaves the same on every simulator: latency, 5xx, drops, storms, expiry."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from simulators import business_central, servicenow
from simulators.faults import ConnectionDropped, FaultSettings
from simulators.server import serve_in_thread
from tests.simulators.support import (
    BC_COMPANIES,
    BC_TOKEN_FORM,
    SN_AUTH,
    bc_headers,
    client_for,
)

SN_TABLE = "/api/now/table/core_company"


def bc_app(**faults: Any) -> Any:
    faults_at_start = FaultSettings(**faults)
    options = business_central.BusinessCentralOptions(vendor_count=3, faults=faults_at_start)
    return business_central.create_app(options)


async def test_error_rate_answers_in_the_systems_error_shape() -> None:
    async with client_for(bc_app()) as client:
        headers = await bc_headers(client)
        put = await client.put("/_sim/faults", json={"error_rate": 1.0, "error_status": 502})
        response = await client.get(BC_COMPANIES, headers=headers)
        inspection = await client.get("/_sim/faults")
    assert put.status_code == 200
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "Internal_ServerError"
    assert "CorrelationId" in response.json()["error"]["message"]
    assert inspection.status_code == 200  # inspection routes are never faulted
    assert inspection.json()["error_rate"] == 1.0

    app = servicenow.create_app(servicenow.ServiceNowOptions(faults=FaultSettings(error_rate=1)))
    async with client_for(app, auth=SN_AUTH) as client:
        response = await client.get(SN_TABLE)
    assert response.status_code == 503
    assert response.json()["status"] == "failure"
    assert set(response.json()["error"]) == {"message", "detail"}


async def test_seeded_faults_repeat_exactly() -> None:
    async def statuses(seed: int) -> list[int]:
        async with client_for(bc_app()) as client:
            headers = await bc_headers(client)
            await client.put("/_sim/faults", json={"error_rate": 0.5, "seed": seed})
            responses = [await client.get(BC_COMPANIES, headers=headers) for _ in range(30)]
        return [r.status_code for r in responses]

    first, again, other = await statuses(7), await statuses(7), await statuses(8)
    assert first == again
    assert {200, 503} <= set(first)
    assert first != other


async def test_latency_delays_api_calls_but_not_inspection() -> None:
    async with client_for(bc_app(latency_ms=150)) as client:
        started = time.monotonic()
        await client.get("/_sim/faults")
        inspection_s = time.monotonic() - started
        started = time.monotonic()
        await client.get(BC_COMPANIES)
        api_s = time.monotonic() - started
    assert api_s >= 0.15
    assert inspection_s < 0.15


async def test_dropped_connection_in_process_is_a_transport_error_and_logged() -> None:
    app = bc_app(drop_rate=1.0)
    async with client_for(app) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(BC_COMPANIES)
        requests = (await client.get("/_sim/requests")).json()["requests"]
    assert [r["status"] for r in requests] == [0]
    assert issubclass(ConnectionDropped, httpx.TransportError)


def test_dropped_connection_over_http_sends_no_response() -> None:
    url, stop = serve_in_thread(bc_app())
    try:
        with httpx.Client(base_url=url) as client:
            client.put("/_sim/faults", json={"drop_rate": 1.0})
            with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
                client.post("/sim-tenant/oauth2/v2.0/token", data=BC_TOKEN_FORM)
            client.put("/_sim/faults", json={"drop_rate": 0.0})
            # The server keeps serving after a drop.
            assert client.post("/sim-tenant/oauth2/v2.0/token", data=BC_TOKEN_FORM).is_success
    finally:
        stop()


async def test_storm_answers_429_with_retry_after_until_it_ends() -> None:
    app = bc_app()
    async with client_for(app) as client:
        headers = await bc_headers(client)
        storm = await client.post("/_sim/faults/storm", json={"seconds": 30})
        during = await client.get(BC_COMPANIES, headers=headers)
        token_during = await client.post("/sim-tenant/oauth2/v2.0/token", data=BC_TOKEN_FORM)
        await client.post("/_sim/clock", json={"advance_seconds": 31})
        after = await client.get(BC_COMPANIES, headers=headers)
        bad = await client.post("/_sim/faults/storm", json={"seconds": "soon"})
        calls = (await client.get("/_sim/calls")).json()
    assert storm.json()["storm_seconds_left"] == pytest.approx(30, abs=1)
    assert during.status_code == token_during.status_code == 429
    assert 1 <= int(during.headers["Retry-After"]) <= 30
    assert during.json()["error"]["code"] == "Application_TooManyRequests"
    assert after.status_code == 200
    assert bad.status_code == 400
    assert calls["total"] == 4  # 429 answers are counted like any call


async def test_expire_tokens_now_forces_reauthentication() -> None:
    async with client_for(bc_app()) as client:
        headers = await bc_headers(client)
        before = await client.get(BC_COMPANIES, headers=headers)
        expired = await client.post("/_sim/faults/expire-tokens")
        after = await client.get(BC_COMPANIES, headers=headers)
    assert before.status_code == 200
    assert expired.json() == {"revoked": 1}
    assert after.status_code == 401


@pytest.mark.parametrize(
    "body",
    [{"error_rate": 2}, {"drop_rate": -0.1}, {"error_status": 404}, {"colour": "red"}, [1]],
)
async def test_bad_fault_settings_are_refused(body: Any) -> None:
    async with client_for(bc_app()) as client:
        response = await client.put("/_sim/faults", json=body)
        settings = (await client.get("/_sim/faults")).json()
    assert response.status_code == 400
    assert settings["error_rate"] == settings["drop_rate"] == 0


async def test_calls_since_counts_only_the_window() -> None:
    app = bc_app()
    async with client_for(app) as client:
        headers = await bc_headers(client)
        await client.get(BC_COMPANIES, headers=headers)
        mark = (await client.post("/_sim/clock", json={"advance_seconds": 60})).json()["now"]
        await client.get(BC_COMPANIES, headers=headers)
        await client.get(BC_COMPANIES, headers=headers)
        window = (await client.get("/_sim/calls", params={"since": mark})).json()
        everything = (await client.get("/_sim/calls")).json()
        listed = (await client.get("/_sim/requests", params={"since": mark})).json()
        bad = await client.get("/_sim/calls", params={"since": "yesterday"})
    assert window["total"] == 2
    assert window["calls"] == [
        {"method": "GET", "route": "/v2.0/{tenant}/{environment}/api/v2.0/companies", "count": 2}
    ]
    assert everything["total"] == 4
    assert len(listed["requests"]) == 2
    assert bad.status_code == 400


async def test_targeted_faults_fail_only_matching_calls_the_given_times() -> None:
    app = servicenow.create_app(servicenow.ServiceNowOptions())
    staging = "/api/now/import/sn_fcms_intg_imp_supplier"
    async with client_for(app, auth=SN_AUTH) as client:
        setup = await client.post(
            "/_sim/faults/targeted",
            json={"body_contains": "Update 2", "path_contains": "/api/now/import/", "times": 2},
        )
        statuses = []
        for name in ("Update 1", "Update 2", "Update 2", "Update 2", "Update 3"):
            r = await client.post(staging, json={"u_vendor_number": "V1", "u_name": name})
            statuses.append(r.status_code)
        left = (await client.get("/_sim/faults")).json()["targeted"]
        bad = await client.post("/_sim/faults/targeted", json={"times": 0})
        rows = (await client.get("/_sim/tables/core_company")).json()["result"]
    assert setup.status_code == 200
    assert statuses == [201, 503, 503, 201, 201]
    assert left == []  # used up
    assert bad.status_code == 400
    assert [r["name"] for r in rows if r.get("u_vendor_number") == "V1"] == ["Update 3"]
