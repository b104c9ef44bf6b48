"""F&O client contract: natural keys, companies, duplicate keys, etags, posted documents."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ml_connector.api.errors import AlreadyExists, Conflict, FatalError
from ml_connector.clients.finance_operations import FinanceOperationsClient
from ml_connector.secrets import SecretStore
from ml_connector.streams import read
from producers.finance_operations import streams
from simulators import finance_operations as fo
from tests.clients.conftest import Serve
from tests.clients.connections import fo_connection
from tests.clients.simlog import read_under_faults, requests

VENDOR_KEY = ("dataAreaId", "VendorAccountNumber")


@pytest.fixture
def fo_url(serve: Serve) -> str:
    return serve(fo.create_app(fo.FinanceOperationsOptions()))


async def test_create_is_idempotent_through_the_natural_key(
    fo_url: str, secrets: SecretStore
) -> None:
    client = FinanceOperationsClient(fo_connection(fo_url, company="usmf"), secrets)
    body = {"VendorAccountNumber": "MLC-001", "VendorName": "Acme", "VendorGroupId": "10"}
    outcome, created = await client.create_or_read("VendorsV2", body, VENDOR_KEY)
    assert (outcome, created["dataAreaId"]) == ("created", "usmf")
    with pytest.raises(AlreadyExists):
        await client.create("VendorsV2", body)
    outcome, again = await client.create_or_read("VendorsV2", body, VENDOR_KEY)
    assert (outcome, again["VendorName"]) == ("exists", "Acme")
    outcome, updated = await client.upsert(
        "VendorsV2", {**body, "VendorName": "Acme 2"}, VENDOR_KEY
    )
    assert (outcome, updated["VendorName"]) == ("updated", "Acme 2")
    assert (await client.upsert("VendorsV2", {**body, "VendorName": "Acme 2"}, VENDOR_KEY))[
        0
    ] == "unchanged"
    await client.aclose()


async def test_patch_with_stale_etag_is_a_conflict(fo_url: str, secrets: SecretStore) -> None:
    client = FinanceOperationsClient(fo_connection(fo_url, company="usmf"), secrets)
    vendor = await client.create("VendorsV2", {"VendorAccountNumber": "MLC-2", "VendorName": "B"})
    key = client.key_of(vendor, VENDOR_KEY)
    await client.patch("VendorsV2", key, {"VendorName": "B2"}, etag=vendor["@odata.etag"])
    with pytest.raises(Conflict):
        await client.patch("VendorsV2", key, {"VendorName": "B3"}, etag=vendor["@odata.etag"])
    await client.delete("VendorsV2", key)
    await client.aclose()


async def test_reads_are_cross_company_narrowed_to_the_configured_one(
    fo_url: str, secrets: SecretStore
) -> None:
    everywhere = FinanceOperationsClient(fo_connection(fo_url), secrets)
    await everywhere.create(
        "VendorsV2", {"dataAreaId": "usrt", "VendorAccountNumber": "RT-1", "VendorName": "Retail"}
    )
    companies = Counter([v["dataAreaId"] async for page in everywhere.read("VendorsV2")
                         for v in page])  # fmt: skip
    assert companies["usrt"] >= 1 and companies["usmf"] >= 50
    usmf = FinanceOperationsClient(fo_connection(fo_url, company="usmf"), secrets)
    only = {v["dataAreaId"] async for page in usmf.read("VendorsV2") for v in page}
    assert only == {"usmf"}
    await everywhere.aclose()
    await usmf.aclose()


async def test_header_before_lines_and_posted_invoices_are_read_only(
    fo_url: str, secrets: SecretStore
) -> None:
    client = FinanceOperationsClient(fo_connection(fo_url, company="usmf"), secrets)
    vendor = await client.create("VendorsV2", {"VendorAccountNumber": "MLC-3", "VendorName": "C"})
    header = await client.create(
        "VendorInvoiceHeaders",
        {"InvoiceAccount": vendor["VendorAccountNumber"], "InvoiceNumber": "INV-1"},
    )
    line = await client.create(
        "VendorInvoiceLines",
        {"HeaderReference": header["HeaderReference"], "LineNumber": 1},
    )
    assert line["HeaderReference"] == header["HeaderReference"]
    key = client.key_of(header, ("dataAreaId", "HeaderReference"))
    with_lines = await client.get("VendorInvoiceHeaders", key, expand="VendorInvoiceLines")
    assert len(with_lines["VendorInvoiceLines"]) == 1
    await client.patch("VendorInvoiceHeaders", key, {"IsPosted": "Yes"})
    with pytest.raises(FatalError):
        await client.patch("VendorInvoiceHeaders", key, {"InvoiceNumber": "INV-2"})
    await client.aclose()


async def test_delta_on_a_modified_field(serve: Serve, secrets: SecretStore) -> None:
    options = fo.FinanceOperationsOptions(modified_field="ModifiedDateTime")
    url = serve(fo.create_app(options))
    client = FinanceOperationsClient(fo_connection(url, company="usmf"), secrets)
    since = datetime.now(UTC)
    await client.create("VendorsV2", {"VendorAccountNumber": "MLC-4", "VendorName": "D"})
    # F&O stamps whole seconds: the overlap re-reads the second the cursor points into.
    pages = read(client, streams("usmf")["vendor"], since, overlap=timedelta(seconds=1))
    changed = [v["VendorAccountNumber"] async for page in pages for v in page]
    assert changed == ["MLC-4"]
    await client.aclose()


async def test_bare_401_renews_the_token_once(fo_url: str, secrets: SecretStore) -> None:
    client = FinanceOperationsClient(fo_connection(fo_url), secrets)
    await client.get("VendorsV2", {"dataAreaId": "usmf", "VendorAccountNumber": "V0001"})
    httpx.post(f"{fo_url}/_sim/tokens/revoke")
    await client.get("VendorsV2", {"dataAreaId": "usmf", "VendorAccountNumber": "V0001"})
    assert [e["status"] for e in requests(fo_url)].count(401) == 1
    await client.aclose()


async def test_5000_vendors_read_once_each_under_faults(serve: Serve, secrets: SecretStore) -> None:
    options = fo.FinanceOperationsOptions(vendor_count=5000, page_size=500)
    url = serve(fo.create_app(options))
    client = FinanceOperationsClient(fo_connection(url, company="usmf"), secrets)
    await client.get("VendorsV2", {"dataAreaId": "usmf", "VendorAccountNumber": "V0001"})

    async def read() -> list[str]:
        return [v["VendorAccountNumber"] async for page in client.read("VendorsV2") for v in page]

    keys = await read_under_faults(url, "F&O 5,000 vendors", read)
    assert len(keys) == len(set(keys)) == 5000
    await client.aclose()
