"""Rate and concurrency limits: sliding windows per credential, bounded queues, 429 shapes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from simulators import business_central, servicenow
from simulators.base import SimulatorState, build_app
from simulators.limits import ConcurrencyRule, RateLimiter
from tests.simulators.support import BC_COMPANIES, BC_TOKEN_FORM, SN_AUTH, bc_headers, client_for


async def test_bc_sliding_window_per_client_with_retry_after() -> None:
    options = business_central.BusinessCentralOptions(
        vendor_count=1, rate_limit_requests=3, rate_limit_window_seconds=10
    )
    app = business_central.create_app(options)
    async with client_for(app) as client:
        headers = await bc_headers(client)
        allowed = [(await client.get(BC_COMPANIES, headers=headers)).status_code for _ in range(3)]
        refused = await client.get(BC_COMPANIES, headers=headers)
        # The token endpoint is Entra's, not BC's: never metered.
        token = await client.post("/sim-tenant/oauth2/v2.0/token", data=BC_TOKEN_FORM)
        await client.post("/_sim/clock", json={"advance_seconds": 10.5})
        again = await client.get(BC_COMPANIES, headers=headers)
        counted = (await client.get("/_sim/calls")).json()["total"]
        limits = (await client.get("/_sim/limits")).json()
    assert allowed == [200, 200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    assert refused.json()["error"]["code"] == "Application_TooManyRequests"
    assert token.status_code == 200
    assert again.status_code == 200
    assert counted == 7  # two token calls, five API calls including the 429
    assert limits["rates"][0]["limit"] == 3
    assert limits["windows"] == [
        {"rule": "requests-per-window", "key": "subject:mlc-client", "count": 1}
    ]


async def test_servicenow_hourly_rule_headers_and_body() -> None:
    options = servicenow.ServiceNowOptions(rate_limit_requests=2)
    app = servicenow.create_app(options)
    async with client_for(app, auth=SN_AUTH) as client:
        for _ in range(2):
            assert (await client.get("/api/now/table/core_company")).status_code == 200
        started = time.time()
        refused = await client.get("/api/now/table/core_company")
        # Import Set API calls are outside a Table API rule.
        imported = await client.post("/api/now/import/sn_fcms_intg_imp_supplier", json={})
    assert refused.status_code == 429
    assert refused.json() == {
        "error": {
            "message": "Rate limit exceeded",
            "detail": "Rate limit of 2 requests per hour for Table API exceeded",
        },
        "status": "failure",
    }
    assert refused.headers["X-RateLimit-Limit"] == "2"
    assert refused.headers["X-RateLimit-Rule"] == options.rate_limit_rule_sys_id
    reset = int(refused.headers["X-RateLimit-Reset"])
    assert started + 3500 < reset <= started + 3602
    assert 3500 < int(refused.headers["Retry-After"]) <= 3600
    assert imported.status_code == 201


async def test_servicenow_has_no_rule_by_default() -> None:
    async with client_for(servicenow.create_app(), auth=SN_AUTH) as client:
        responses = [await client.get("/api/now/table/core_company") for _ in range(20)]
        limits = await client.get("/_sim/limits")
    assert {r.status_code for r in responses} == {200}
    assert limits.status_code == 400  # no such route: the instance's unknown-URI answer


def gated_app(rule: ConcurrencyRule) -> tuple[Any, asyncio.Event, RateLimiter]:
    """An app whose one route waits for the returned event, metered by ``rule``."""
    state = SimulatorState()
    gate = asyncio.Event()

    async def slow(request: Request) -> Response:
        await gate.wait()
        return PlainTextResponse("done")

    limiter = RateLimiter(state.clock, concurrency=rule, key_of=lambda scope: "one-user")
    state.limits = limiter
    app = build_app(state, [Route("/slow", slow)], not_found=lambda r: Response(status_code=404))
    return app, gate, limiter


async def test_concurrency_limit_queues_then_refuses_when_the_queue_is_full() -> None:
    app, gate, limiter = gated_app(ConcurrencyRule("concurrent", max_concurrent=1, max_queued=1))
    async with client_for(app) as client:
        first = asyncio.create_task(client.get("/slow"))
        second = asyncio.create_task(client.get("/slow"))
        while (await client.get("/_sim/limits")).json()["active"].get("one-user") != 1:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # let the second request join the queue
        third = await client.get("/slow")
        gate.set()
        results: list[Any] = await asyncio.gather(first, second)
    assert third.status_code == 429
    assert third.headers["Retry-After"] == "1"
    assert [r.status_code for r in results] == [200, 200]
    assert limiter.describe()["active"] == {"one-user": 0}


async def test_queue_wait_past_the_timeout_answers_503() -> None:
    app, gate, _ = gated_app(ConcurrencyRule("c", 1, 5, queue_timeout_seconds=0.05))
    async with client_for(app) as client:
        first = asyncio.create_task(client.get("/slow"))
        await asyncio.sleep(0.02)
        waited = await client.get("/slow")
        gate.set()
        assert (await first).status_code == 200
    assert waited.status_code == 503


async def test_unauthenticated_calls_are_not_metered() -> None:
    options = business_central.BusinessCentralOptions(vendor_count=1, rate_limit_requests=1)
    async with client_for(business_central.create_app(options)) as client:
        statuses = [(await client.get(BC_COMPANIES)).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
