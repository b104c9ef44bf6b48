"""ServiceTitan client contract: token + app key, page/hasMore, export feeds, writes, budget."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest

from ml_connector.api.errors import FatalError
from ml_connector.clients.servicetitan import ServiceTitanClient
from ml_connector.secrets import SecretStore
from ml_connector.streams import Stream as Declared
from ml_connector.streams import read
from ml_connector.streams.dialects import SERVICETITAN_QUERY
from ml_connector.streams.styles import PAGE_NUMBERS
from producers.servicetitan import CURSOR
from simulators import servicetitan
from tests.clients.conftest import Serve
from tests.clients.connections import st_connection
from tests.clients.simlog import max_in_window, read_under_faults, requests


@pytest.fixture
def url(serve: Serve) -> str:
    return serve(servicetitan.create_app(servicetitan.ServiceTitanOptions()))


async def test_token_and_app_key_on_every_call_renewed_after_expiry(
    url: str, secrets: SecretStore
) -> None:
    client = ServiceTitanClient(st_connection(url, page_size=25), secrets)
    invoices = [i async for page in client.read("invoices") for i in page]
    assert len(invoices) == 60
    assert client.auth.tokens_issued == 1
    httpx.post(f"{url}/_sim/clock", json={"advance_seconds": 900})  # the 15 minutes are up
    assert len([u async for page in client.read("business-units") for u in page]) >= 1
    assert client.auth.tokens_issued == 2
    await client.aclose()


async def test_wrong_app_key_is_fatal_and_not_echoed(url: str, secrets: SecretStore) -> None:
    client = ServiceTitanClient(st_connection(url, app_key="wrong"), secrets)
    with pytest.raises(FatalError) as info:
        await client.get("customers", 5_000_001)
    assert info.value.status == 401 and "ST-App-Key" in str(info.value)
    assert "not-the-secret" not in str(info.value)
    await client.aclose()


async def test_export_feed_resumes_from_its_continuation_token(
    url: str, secrets: SecretStore
) -> None:
    client = ServiceTitanClient(st_connection(url), secrets)
    cursor = None
    first = 0
    async for page in client.export("invoices"):
        first += len(page.records)
        cursor = page.cursor
    assert first == 60 and cursor
    invoice = (await client.by_ids("invoices", [10_000_001]))[0]
    await client.patch("invoices", invoice["id"], {"memo": "from the connector"})
    payment = await client.create(
        "payments",
        {"typeId": 2, "checkNumber": "1001", "splits": [{"invoiceId": invoice["id"],
                                                         "amount": 1.0}]},
    )  # fmt: skip
    changed = [r["id"] async for page in client.export("invoices", cursor) for r in page.records]
    assert changed == [invoice["id"]]
    paid = [r["id"] async for page in client.export("payments") for r in page.records]
    assert payment["id"] in paid
    await client.aclose()


async def test_delta_and_ids_in_chunks_of_50(url: str, secrets: SecretStore) -> None:
    client = ServiceTitanClient(st_connection(url), secrets)
    ids = [5_000_001 + i for i in range(40)]
    found = await client.by_ids("customers", ids)
    assert sorted(c["id"] for c in found) == ids
    invoices = await client.by_ids("invoices", [10_000_001 + i for i in range(60)])
    assert len(invoices) == 60
    assert sum("invoices" in e["path"] for e in requests(url)) == 2  # 60 ids: 50 + 10
    since = datetime.now(UTC)
    await client.patch("invoices", 10_000_002, {"summary": "changed"})
    invoices_by_modified = Declared(path="invoices", dialect=SERVICETITAN_QUERY,
                                    paging=PAGE_NUMBERS, cursor=CURSOR)  # fmt: skip
    changed = [i["id"] async for page in read(client, invoices_by_modified, since) for i in page]
    assert changed == [10_000_002]
    await client.aclose()


async def test_pricebook_upsert_by_code(url: str, secrets: SecretStore) -> None:
    client = ServiceTitanClient(st_connection(url), secrets)
    body = {"code": "MLC-TUNE", "displayName": "Tune-up", "price": 99.0}
    op1, created = await client.upsert_by_code("services", body)
    op2, same = await client.upsert_by_code("services", {**body, "code": "mlc-tune"})
    op3, changed = await client.upsert_by_code("services", {**body, "price": 109.0})
    assert (op1, op2, op3) == ("created", "updated", "updated")
    assert created["id"] == same["id"] == changed["id"] and changed["price"] == 109.0
    assert (await client.upsert_by_code("services", {**body, "price": 109.0}))[0] == "unchanged"
    assert (await client.find_by_code("services", "MLC-tune"))["id"] == created["id"]  # type: ignore[index]
    await client.aclose()


async def test_rate_budget_holds_sustained_load_at_60_per_second(
    url: str, secrets: SecretStore
) -> None:
    client = ServiceTitanClient(st_connection(url), secrets)  # default budget: 60 per second
    await client.get("customers", 5_000_001)

    async def worker(n: int) -> None:
        for i in range(20):
            await client.get("customers", 5_000_001 + (n * 20 + i) % 40)

    await asyncio.gather(*(worker(n) for n in range(20)))  # 400 calls from 20 tasks
    log = [e for e in requests(url) if "/v2/tenant/" in e["path"]]
    statuses = Counter(e["status"] for e in log)
    times = sorted(datetime.fromisoformat(e["time"]).timestamp() for e in log)
    busiest = max_in_window(log, 1.0)
    rate = (len(log) - 1) / (times[-1] - times[0])
    print(
        f"\nServiceTitan sustained load: {len(log)} calls, busiest 1 s window {busiest}, "
        f"mean {rate:.1f}/s over {times[-1] - times[0]:.1f} s, 429s {statuses[429]}"
    )
    assert statuses[429] == 0
    assert busiest <= 60
    await client.aclose()


async def test_5000_customers_read_once_each_under_faults(
    serve: Serve, secrets: SecretStore
) -> None:
    options = servicetitan.ServiceTitanOptions(customer_count=5000)
    url = serve(servicetitan.create_app(options))
    client = ServiceTitanClient(st_connection(url, page_size=500), secrets)
    await client.get("customers", 5_000_001)

    async def read() -> list[str]:
        return [str(c["id"]) async for page in client.read("customers") for c in page]

    ids = await read_under_faults(url, "ServiceTitan 5,000 customers", read)
    assert len(ids) == len(set(ids)) == 5000
    await client.aclose()
