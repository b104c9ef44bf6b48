"""The client-side rate budget, proven from the simulators' request logs (never from timers)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from ml_connector.api.budget import SETTLE_SECONDS, Rate, RateBudget
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.secrets import SecretStore
from simulators import business_central
from tests.clients.conftest import Serve
from tests.clients.connections import bc_connection
from tests.clients.simlog import max_in_window, requests, storm


async def test_budget_keeps_a_burst_inside_the_server_window(
    serve: Serve, secrets: SecretStore
) -> None:
    options = business_central.BusinessCentralOptions(
        rate_limit_requests=40, rate_limit_window_seconds=2.0
    )
    url = serve(business_central.create_app(options))
    connection = bc_connection(url, rate_limit={"requests": 40, "per_seconds": 2, "concurrency": 5})
    client = BusinessCentralClient(connection, secrets)
    await client.company_id()
    await asyncio.gather(*(client.companies() for _ in range(120)))
    log = [e for e in requests(url) if "/api/v2.0/" in e["path"]]
    busiest = max_in_window(log, 2.0)
    print(f"\nBC burst: {len(log)} calls, busiest 2 s window {busiest} (limit 40)")
    assert [e["status"] for e in log].count(429) == 0
    assert busiest <= 40
    await client.aclose()


async def test_a_429_pauses_every_caller_of_the_connection(
    serve: Serve, secrets: SecretStore
) -> None:
    url = serve(business_central.create_app(business_central.BusinessCentralOptions()))
    client = BusinessCentralClient(bc_connection(url), secrets)  # 5 at a time, as BC allows
    await client.company_id()
    storm(url, 2)
    results = await asyncio.gather(*(client.companies() for _ in range(30)))
    assert all(len(r) == 1 for r in results)
    refused = [e for e in requests(url) if e["status"] == 429]
    pauses = client.client.budget.pauses
    print(f"\n429 storm: {len(refused)} refused calls for 30 callers; {pauses} pauses")
    # Only the calls already in flight when the storm began meet it; the rest wait it out.
    assert len(refused) <= 5
    await client.aclose()


def _response(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("GET", "http://x/"))


async def test_server_remaining_and_reset_headers_hold_callers_until_reset() -> None:
    now = [100.0]
    budget = RateBudget(Rate(), clock=lambda: now[0])
    reset = time.time() + 30
    budget.observe(_response(200, **{"X-RateLimit-Remaining": "1",
                                    "X-RateLimit-Reset": str(reset)}))  # fmt: skip
    assert budget._wait_needed(now[0]) == 0.0
    async with budget.slot():
        pass
    wait = budget._wait_needed(now[0])
    assert wait == pytest.approx(30, abs=1)
    now[0] += 31
    assert budget._wait_needed(now[0]) == 0.0


async def test_window_counts_a_request_until_per_seconds_after_it_finished() -> None:
    now = [0.0]
    budget = RateBudget(Rate(requests=2, per_seconds=1.0), clock=lambda: now[0])
    async with budget.slot():
        now[0] = 5.0  # a slow answer
    async with budget.slot():
        pass
    assert budget._wait_needed(5.0) == pytest.approx(1.0 + SETTLE_SECONDS)
    assert budget._wait_needed(6.0 + SETTLE_SECONDS) == 0.0


def test_a_429_is_logged_at_warning_and_its_pause_counted_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from prometheus_client import REGISTRY

    def paused() -> float:
        return REGISTRY.get_sample_value("mlc_api_throttled_seconds_total", {"host": "h429"}) or 0

    now = [0.0]
    budget = RateBudget(Rate(), clock=lambda: now[0])
    before = paused()
    budget.observe(_response(429, **{"Retry-After": "10"}), host="h429")
    now[0] = 4.0  # another 429 while paused adds only what it extends: 14 s, not 10 + 10
    budget.observe(_response(429, **{"Retry-After": "10"}), host="h429")
    assert paused() - before == pytest.approx(14.0)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["h429 answered 429: requests to it wait 10.0 s"] * 2
