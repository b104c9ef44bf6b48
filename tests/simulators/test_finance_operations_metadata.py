"""F&O's metadata service over HTTPS (data-entities/metadata-service.md): the data entity and
public entity lists and look-ups a client reads to discover entity sets, keys and relations.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from simulators import finance_operations
from tests.simulators.support import fno_over_https


@pytest.fixture(scope="module")
def fno() -> Iterator[httpx.Client]:
    with fno_over_https(finance_operations.create_app()) as client:
        yield client


def test_data_entities_name_the_public_collections_served(fno: httpx.Client) -> None:
    listed = fno.get("/Metadata/DataEntities")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["@odata.context"].endswith("/Metadata/$metadata#DataEntities")
    by_collection = {e["PublicCollectionName"]: e for e in body["value"]}
    assert by_collection["VendorsV2"]["PublicEntityName"] == "VendorV2"
    assert by_collection["VendorsV2"]["Name"] == "VendVendorV2Entity"
    for collection in by_collection:
        assert fno.get(f"/data/{collection}", params={"$top": "1"}).status_code == 200
    one = fno.get("/Metadata/DataEntities('VendVendorV2Entity')").json()
    assert one["PublicCollectionName"] == "VendorsV2"
    assert one["@odata.context"].endswith("#DataEntities/$entity")


def test_public_entity_lists_keys_and_navigation(fno: httpx.Client) -> None:
    vendor = fno.get("/Metadata/PublicEntities('VendorV2')")
    assert vendor.status_code == 200, vendor.text
    properties = {p["Name"]: p for p in vendor.json()["Properties"]}
    keys = [name for name, p in properties.items() if p["IsKey"]]
    assert keys == ["dataAreaId", "VendorAccountNumber"]
    assert properties["VendorName"]["DataType"] == "String"
    lines = fno.get("/Metadata/PublicEntities('PurchaseOrderLineV2')").json()
    assert lines["EntitySetName"] == "PurchaseOrderLinesV2"
    assert lines["NavigationProperties"], lines
    constraint = lines["NavigationProperties"][0]["Constraints"][0]
    assert constraint["@odata.type"] == "#Microsoft.Dynamics.Metadata.ReferentialConstraint"
    names = {e["Name"] for e in fno.get("/Metadata/PublicEntities").json()["value"]}
    assert {"VendorV2", "PurchaseOrderHeaderV2", "VendorInvoiceHeader", "MainAccount"} <= names


def test_unknown_look_ups_options_and_anonymous_calls_are_refused(fno: httpx.Client) -> None:
    assert fno.get("/Metadata/PublicEntities('NoSuchEntity')").status_code == 404
    assert fno.get("/Metadata/Nothing").status_code == 404
    assert fno.get("/Metadata/PublicEntities", params={"$top": "1"}).status_code == 400
    anonymous = fno.get("/Metadata/DataEntities", headers={"Authorization": ""})
    assert anonymous.status_code == 401
