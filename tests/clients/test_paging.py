"""Each paging style against a simulator that pages the way the real system does."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch

from ml_connector.api.paging import LinkHeader, PageRequest, pages
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.secrets import SecretStore
from ml_connector.streams import Stream, read
from ml_connector.streams.dialects import ENCODED_QUERY
from ml_connector.streams.styles import KEYSET
from producers.servicenow import CURSOR
from simulators import business_central, servicenow
from tests.clients.conftest import Serve
from tests.clients.connections import bc_connection, sn_connection
from tests.clients.simlog import requests


async def test_odata_next_link_reads_every_vendor_once(serve: Serve, secrets: SecretStore) -> None:
    options = business_central.BusinessCentralOptions(vendor_count=120)
    url = serve(business_central.create_app(options))
    client = BusinessCentralClient(bc_connection(url), secrets)
    pages_ = [page async for page in client.read("vendors")]
    ids = [v["id"] for page in pages_ for v in page]
    assert len(pages_) == 3  # 120 vendors, 50 per page
    assert len(ids) == len(set(ids)) == 120
    await client.aclose()


def seed_rows(app: Any, count: int, at: datetime | None = None) -> list[str]:
    """Insert ``count`` vendor companies, all stamped ``at`` when given (a tie group)."""
    store = app.state.sim
    rows = []
    frozen = patch.object(store.clock, "now", return_value=at) if at else nullcontext()
    with frozen:
        for i in range(count):
            values = {"name": f"Tie {i:04}", "vendor": "true"}
            rows.append(store.insert("core_company", values, "admin")["sys_id"])
    return rows


async def test_link_header_pages_with_total_count(serve: Serve, secrets: SecretStore) -> None:
    app = servicenow.create_app()
    url = serve(app)
    seed_rows(app, 45)
    client = ServiceNowClient(sn_connection(url, page_size=20), secrets)
    first = PageRequest("/api/now/table/core_company", {"sysparm_limit": "20"})
    got = [page async for page in pages(client.client, LinkHeader(), first)]
    total = got[0].total
    assert total is not None and total >= 45
    assert sum(len(p.records) for p in got) == total
    assert len(got) == -(-total // 20)
    await client.aclose()


COMPANIES = Stream(
    path="core_company", dialect=ENCODED_QUERY, paging=KEYSET, cursor=CURSOR, key_field="sys_id"
)


async def test_keyset_delta_reads_a_tie_larger_than_a_page(
    serve: Serve, secrets: SecretStore
) -> None:
    app = servicenow.create_app()
    url = serve(app)
    tie = seed_rows(app, 130, at=datetime(2030, 1, 1, 12, 0, tzinfo=UTC))
    later = seed_rows(app, 7, at=datetime(2030, 1, 1, 12, 0, 1, tzinfo=UTC))
    client = ServiceNowClient(sn_connection(url, page_size=50), secrets)
    seen = [
        r["sys_id"]
        async for page in read(client, COMPANIES, datetime(2030, 1, 1, tzinfo=UTC))
        for r in page
    ]
    assert seen == sorted(tie) + sorted(later)
    queries = [e["query"] for e in requests(url)]
    assert any("sys_id%3E" in q for q in queries), "the tie was read by keyset on sys_id"
    assert not any("sysparm_offset" in q for q in queries)
    await client.aclose()


async def test_keyset_delta_skips_nothing_when_rows_change_mid_read(
    serve: Serve, secrets: SecretStore
) -> None:
    app = servicenow.create_app()
    url = serve(app)
    store = app.state.sim
    base = datetime(2021, 1, 1, tzinfo=UTC)  # before the seed rows, before "now" of edits
    ids = []
    for second in range(100):
        ids += seed_rows(app, 1, at=base.replace(second=second % 60, minute=second // 60))
    client = ServiceNowClient(sn_connection(url, page_size=25), secrets)
    seen: list[str] = []
    async for page in read(client, COMPANIES, base):
        if not seen:
            # Someone edits an already-read row: with offsets every later row would shift
            # one place forward and one would be skipped.
            store.update("core_company", page[0]["sys_id"], {"name": "Edited"}, "admin")
        seen += [r["sys_id"] for r in page]
    assert set(ids) <= set(seen)
    assert seen.count(ids[0]) == 2  # read again after its change, as a change feed should
    await client.aclose()
