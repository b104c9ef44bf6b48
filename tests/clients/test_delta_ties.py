"""Delta reads are inclusive: a record committed after a poll with the very timestamp the
cursor stopped at is read by the next poll, even with no overlap window."""

from __future__ import annotations

from datetime import datetime

import httpx

from ml_connector.clients.acumatica import AcumaticaClient
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.clients.nav import NavClient
from ml_connector.secrets import SecretStore
from producers.events import parse_timestamp
from simulators import acumatica, business_central, nav
from tests.clients.conftest import Serve
from tests.clients.connections import acumatica_connection, bc_connection, nav_connection


async def _bc_like_tie(client: BusinessCentralClient, url: str, sim_base: str) -> None:
    first = await client.create("vendors", {"number": "TIE-1", "displayName": "First"})
    cursor = parse_timestamp(first["lastModifiedDateTime"])
    company = await client.company_id()
    # Committed later, stamped with the cursor's very millisecond.
    late = httpx.post(f"{url}{sim_base}/_sim/entities/vendors",
                      params={"company": company},
                      json={"number": "TIE-2", "displayName": "Second",
                            "lastModifiedDateTime": first["lastModifiedDateTime"]})  # fmt: skip
    assert late.status_code in (200, 201), late.text
    read = [v["number"] async for page in client.delta("vendors", cursor) for v in page]
    assert {"TIE-1", "TIE-2"} <= set(read)


async def test_business_central_reads_a_tie_at_the_cursor(
    serve: Serve, secrets: SecretStore
) -> None:
    url = serve(business_central.create_app(business_central.BusinessCentralOptions()))
    client = BusinessCentralClient(bc_connection(url), secrets)
    await _bc_like_tie(client, url, "")
    await client.aclose()


async def test_nav_reads_a_tie_at_the_cursor(serve: Serve, secrets: SecretStore) -> None:
    url = serve(nav.create_app(nav.NavOptions()))
    client = NavClient(nav_connection(url), secrets)
    await _bc_like_tie(client, url, "")
    await client.aclose()


async def test_acumatica_reads_a_tie_at_the_cursor(serve: Serve, secrets: SecretStore) -> None:
    url = serve(acumatica.create_app(acumatica.AcumaticaOptions()))
    client = AcumaticaClient(acumatica_connection(url), secrets)
    first = await client.put("Vendor", {"VendorID": "TIE001", "VendorName": "First"})
    stamp = first["LastModifiedDateTime"]
    cursor = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    late = httpx.post(f"{url}/_sim/entities/Vendor",
                      json={"VendorID": "TIE002", "VendorName": "Second",
                            "LastModifiedDateTime": stamp})  # fmt: skip
    assert late.status_code in (200, 201), late.text
    read = [v["VendorID"] async for page in client.delta("Vendor", cursor) for v in page]
    assert {"TIE001", "TIE002"} <= set(read)
    await client.aclose()
