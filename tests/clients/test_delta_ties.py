"""Change reads are inclusive, for every system, through the one generic reader.

Each test runs that system's declared stream: the first poll sees record 1; record 2 then
commits with record 1's very timestamp (planted through the simulator's ``/_sim`` routes);
the next poll, from record 1's timestamp with no overlap window, reads it: no skipped tie.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from ml_connector.clients.acumatica import AcumaticaClient
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.clients.finance_operations import FinanceOperationsClient
from ml_connector.clients.nav import NavClient
from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.clients.servicetitan import ServiceTitanClient
from ml_connector.secrets import SecretStore
from ml_connector.streams import Host, Stream, read
from producers import acumatica as acumatica_source
from producers import business_central as bc_source
from producers import finance_operations as fo_source
from producers import nav as nav_source
from producers import servicetitan as st_source
from producers.events import parse_timestamp
from producers.servicenow import ServiceNowSource
from simulators import (
    acumatica,
    business_central,
    finance_operations,
    nav,
    servicenow,
    servicetitan,
)
from tests.clients.conftest import Serve
from tests.clients.connections import (
    acumatica_connection,
    bc_connection,
    fo_connection,
    nav_connection,
    sn_connection,
    st_connection,
)


def _planted(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


async def _next_poll_reads_the_tie(
    host: Host, stream: Stream, label: str, first: str, plant: Callable[[str], str]
) -> None:
    """``plant`` writes record 2 stamped with the given (as read) timestamp, names it."""
    first_poll = [r async for page in read(host, stream) for r in page]
    [one] = [r for r in first_poll if str(r[label]) == first]
    stamp = str(one[stream.cursor_field])
    second = plant(stamp)
    assert second not in {str(r[label]) for r in first_poll}
    cursor = parse_timestamp(stamp)
    next_poll = read(host, stream, cursor, overlap=timedelta(0))
    seen = [r async for page in next_poll for r in page]
    assert {first, second} <= {str(r[label]) for r in seen}
    [two] = [r for r in seen if str(r[label]) == second]
    assert parse_timestamp(str(two[stream.cursor_field])) == cursor  # a tie indeed


async def _bc_like(client: BusinessCentralClient, url: str, stream: Stream) -> None:
    await client.create("vendors", {"number": "TIE-1", "displayName": "First"})
    company = await client.company_id()

    def plant(stamp: str) -> str:
        _planted(httpx.post(f"{url}/_sim/entities/vendors", params={"company": company},
                            json={"number": "TIE-2", "displayName": "Second",
                                  "lastModifiedDateTime": stamp}))  # fmt: skip
        return "TIE-2"

    await _next_poll_reads_the_tie(client, stream, "number", "TIE-1", plant)
    await client.aclose()


async def test_business_central_reads_a_tie_at_the_cursor(
    serve: Serve, secrets: SecretStore
) -> None:
    url = serve(business_central.create_app(business_central.BusinessCentralOptions()))
    client = BusinessCentralClient(bc_connection(url), secrets)
    await _bc_like(client, url, bc_source.STREAMS["vendor"])


async def test_nav_reads_a_tie_at_the_cursor(serve: Serve, secrets: SecretStore) -> None:
    url = serve(nav.create_app(nav.NavOptions()))
    await _bc_like(NavClient(nav_connection(url), secrets), url, nav_source.STREAMS["vendor"])


async def test_acumatica_reads_a_tie_at_the_cursor(serve: Serve, secrets: SecretStore) -> None:
    url = serve(acumatica.create_app(acumatica.AcumaticaOptions()))
    client = AcumaticaClient(acumatica_connection(url), secrets)
    await client.put("Vendor", {"VendorID": "TIE001", "VendorName": "First"})

    def plant(stamp: str) -> str:
        _planted(httpx.post(f"{url}/_sim/entities/Vendor",
                            json={"VendorID": "TIE002", "VendorName": "Second",
                                  "LastModifiedDateTime": stamp}))  # fmt: skip
        return "TIE002"

    stream = acumatica_source.STREAMS["vendor"]
    await _next_poll_reads_the_tie(client, stream, "VendorID", "TIE001", plant)
    await client.aclose()


async def test_finance_operations_reads_a_tie_at_the_cursor(
    serve: Serve, secrets: SecretStore
) -> None:
    options = finance_operations.FinanceOperationsOptions(modified_field="ModifiedDateTime")
    url = serve(finance_operations.create_app(options))
    client = FinanceOperationsClient(fo_connection(url, company="usmf"), secrets)
    await client.create("VendorsV2", {"VendorAccountNumber": "TIE-1", "VendorName": "First"})

    def plant(stamp: str) -> str:
        _planted(httpx.post(f"{url}/_sim/entities/VendorsV2",
                            json={"VendorAccountNumber": "TIE-2", "VendorName": "Second",
                                  "ModifiedDateTime": stamp}))  # fmt: skip
        return "TIE-2"

    stream = fo_source.streams("usmf")["vendor"]
    await _next_poll_reads_the_tie(client, stream, "VendorAccountNumber", "TIE-1", plant)
    await client.aclose()


async def test_servicenow_reads_a_tie_at_the_cursor(serve: Serve, secrets: SecretStore) -> None:
    url = serve(servicenow.create_app())
    client = ServiceNowClient(sn_connection(url), secrets)
    table = f"{url}/_sim/tables/sn_shop_purchase_order"
    # Approved: the declared stream carries the source's query (approval=approved).
    _planted(httpx.post(table, json={"number": "POTIE1", "approval": "approved"}))

    def plant(stamp: str) -> str:
        _planted(httpx.post(table, json={"number": "POTIE2", "approval": "approved",
                                         "sys_updated_on": stamp}))  # fmt: skip
        return "POTIE2"

    stream = ServiceNowSource(client).streams["purchase_order"]
    await _next_poll_reads_the_tie(client, stream, "number", "POTIE1", plant)
    await client.aclose()


async def test_servicetitan_reads_a_tie_at_the_cursor(serve: Serve, secrets: SecretStore) -> None:
    url = serve(servicetitan.create_app(servicetitan.ServiceTitanOptions()))
    client = ServiceTitanClient(st_connection(url), secrets)
    vendors = f"{url}/_sim/entities/vendors"
    first = str(_planted(httpx.post(vendors, json={"name": "First"}))["id"])

    def plant(stamp: str) -> str:
        return str(
            _planted(httpx.post(vendors, json={"name": "Second", "modifiedOn": stamp}))["id"]
        )

    stream = st_source.streams(lambda unit: "")["vendor"]
    await _next_poll_reads_the_tie(client, stream, "id", first, plant)
    await client.aclose()
