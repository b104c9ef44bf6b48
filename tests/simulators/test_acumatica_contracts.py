"""Acumatica contracts a client loads or sends unchanged, over HTTPS on a real socket.

- ``GET /entity/{endpoint}/{version}/swagger.json``: the OpenAPI 2.0 description of the
  endpoint (Integration Development Guide, "To Generate the OpenAPI Description").
- ``$filter`` with a ``datetime'...'`` literal without an offset, read in the instance's time
  zone, beside the documented ``datetimeoffset'...'``.
- Vendor's linked entities (``MainContact``, ``PrimaryContact``, ``RemittanceContact``,
  ``ShippingContact``, each with its ``Address``) returned only when ``$expand`` names them,
  nested ones explicitly (Integration Development Guide, "$expand Parameter"; the Default
  endpoint's Vendor, Contact and Address in Acumatica's REST client for C#), and written by PUT.
- A token from an off-the-shelf RFC 6749 client (Authlib, password grant): Acumatica publishes
  no Python client library of its own.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client

from simulators.acumatica import AcumaticaOptions, create_app
from simulators.server import Served, serve_in_thread

CLIENT_ID = "6F0B7A52-3F1E-4C55-9D0A-5B2C1C7E9A10@MLC"
API = "/entity/Default/24.200.001"


def _serve(**options: Any) -> Served:
    return serve_in_thread(create_app(AcumaticaOptions(vendor_count=12, **options)), tls=True)


@contextmanager
def _client(served: Served) -> Iterator[OAuth2Client]:
    assert served.cert_path is not None
    client = OAuth2Client(
        CLIENT_ID,
        "mlc-secret",
        scope="api offline_access",
        # The form, as Acumatica's guide shows the request.
        token_endpoint_auth_method="client_secret_post",
        base_url=served.url,
        verify=ssl.create_default_context(cafile=served.cert_path),
    )
    client.fetch_token(
        f"{served.url}/identity/connect/token",
        grant_type="password",
        username="mlc.integration",
        password="mlc-password",
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def acumatica() -> Iterator[OAuth2Client]:
    served = _serve()
    with _client(served) as client:
        yield client
    served.stop()


def test_rfc6749_client_gets_a_token_and_reads_vendors(acumatica: OAuth2Client) -> None:
    assert acumatica.token["token_type"] == "Bearer"
    assert "refresh_token" in acumatica.token
    vendors = acumatica.get(f"{API}/Vendor", params={"$top": "2"})
    assert vendors.status_code == 200
    assert [set(v["VendorID"]) for v in vendors.json()] == [{"value"}, {"value"}]


def test_swagger_describes_the_endpoint_served(acumatica: OAuth2Client) -> None:
    response = acumatica.get(f"{API}/swagger.json")
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["swagger"] == "2.0"
    assert doc["basePath"] == API
    assert doc["info"]["version"] == "24.200.001"
    for entity in ("Vendor", "Bill", "PurchaseOrder", "Check", "Account", "Subaccount", "Branch"):
        assert set(doc["paths"][f"/{entity}"]) == {"get", "put"}
        assert set(doc["paths"][f"/{entity}/{{id}}"]) == {"get", "delete"}
    bill = doc["definitions"]["Bill"]["allOf"]
    assert bill[0] == {"$ref": "#/definitions/Entity"}
    properties = bill[1]["properties"]
    assert properties["Amount"] == {"$ref": "#/definitions/DecimalValue"}
    assert properties["Details"]["items"] == {"$ref": "#/definitions/BillDetails"}
    assert doc["definitions"]["StringValue"]["properties"]["value"] == {"type": "string"}
    # Every reference resolves, as a code generator needs.
    refs = _refs(doc)
    assert refs and all(r.removeprefix("#/definitions/") in doc["definitions"] for r in refs)
    # The document lists what the entity routes accept: a listed field can be selected.
    listed = next(iter(doc["definitions"]["Vendor"]["allOf"][1]["properties"]))
    assert acumatica.get(f"{API}/Vendor", params={"$select": listed}).status_code == 200


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_swagger_needs_a_signed_in_caller_and_a_served_version() -> None:
    served = _serve()
    assert served.cert_path is not None
    trust = ssl.create_default_context(cafile=served.cert_path)
    try:
        with httpx.Client(base_url=served.url, verify=trust) as anonymous:
            refused = anonymous.get(f"{API}/swagger.json")
        with _client(served) as client:
            unknown = client.get("/entity/Default/9.000.001/swagger.json")
    finally:
        served.stop()
    assert refused.status_code == 401
    assert unknown.status_code == 404


def _ids(client: OAuth2Client, literal: str) -> list[str]:
    response = client.get(f"{API}/Vendor", params={"$filter": f"LastModifiedDateTime ge {literal}"})
    assert response.status_code == 200, response.text
    return [v["VendorID"]["value"] for v in response.json()]


def test_datetime_literal_without_offset_is_read_in_the_instance_time_zone() -> None:
    served = _serve(time_zone="America/New_York")
    try:
        with _client(served) as client:
            stamps = sorted(
                datetime.fromisoformat(v["LastModifiedDateTime"]["value"])
                for v in client.get(f"{API}/Vendor").json()
            )
            middle = stamps[len(stamps) // 2]
            utc = middle.strftime("%Y-%m-%dT%H:%M:%S")
            local = middle.astimezone(ZoneInfo("America/New_York"))
            offset = _ids(client, f"datetimeoffset'{utc}Z'")
            plain_local = _ids(client, f"datetime'{local.strftime('%Y-%m-%dT%H:%M:%S')}'")
            plain_utc = _ids(client, f"datetime'{utc}'")
            bad = client.get(
                f"{API}/Vendor", params={"$filter": "LastModifiedDateTime ge datetime'soon'"}
            )
    finally:
        served.stop()
    assert offset and len(offset) < len(stamps)
    assert plain_local == offset
    # The same wall-clock time read in New York is later than in UTC: fewer rows.
    assert len(plain_utc) < len(offset)
    assert bad.status_code == 400


def _vendor(client: OAuth2Client, expand: str | None) -> dict[str, Any]:
    params = {"$top": "1", **({"$expand": expand} if expand else {})}
    response = client.get(f"{API}/Vendor", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json()[0])


def test_linked_entities_come_only_when_expanded(acumatica: OAuth2Client) -> None:
    plain = _vendor(acumatica, None)
    assert not {"MainContact", "PrimaryContact", "RemittanceContact", "ShippingContact"} & set(
        plain
    )
    contact_only = _vendor(acumatica, "MainContact")["MainContact"]
    assert contact_only["Email"] == {"value": plain["Email"]["value"]}
    assert contact_only["DisplayName"] == {"value": plain["VendorName"]["value"]}
    assert "Address" not in contact_only
    assert set(contact_only) >= {"id", "rowNumber", "custom"}

    both = _vendor(acumatica, "MainContact,MainContact/Address")["MainContact"]
    address = both["Address"]
    assert set(address) >= {"AddressLine1", "City", "State", "PostalCode", "Country", "id"}
    assert all(set(address[f]) == {"value"} for f in ("City", "Country"))
    assert address["Country"] == {"value": "US"}
    # A path names its parents too (OData): the contact comes with the address.
    assert _vendor(acumatica, "MainContact/Address")["MainContact"]["Address"] == address

    everyone = _vendor(acumatica, "PrimaryContact,RemittanceContact,ShippingContact")
    assert everyone["PrimaryContact"]["FirstName"]["value"]
    assert everyone["RemittanceContact"]["Email"] == contact_only["Email"]
    assert "MainContact" not in everyone


@pytest.mark.parametrize("expand", ["MainContacts", "MainContact/Phone1", "Address", "Details"])
def test_unknown_expansions_are_400(acumatica: OAuth2Client, expand: str) -> None:
    response = acumatica.get(f"{API}/Vendor", params={"$expand": expand})
    assert response.status_code == 400
    assert expand in response.json()["exceptionMessage"]


def test_put_writes_linked_fields_and_keeps_the_others(acumatica: OAuth2Client) -> None:
    before = _vendor(acumatica, "MainContact/Address")
    body = {
        "VendorID": before["VendorID"],
        "MainContact": {
            "Phone1": {"value": "+1 425 555 0100"},
            "Address": {"City": {"value": "Kirkland"}, "PostalCode": {"value": "98033"}},
        },
    }
    put = acumatica.put(f"{API}/Vendor", json=body)
    assert put.status_code == 200, put.text
    answered = put.json()["MainContact"]
    assert answered["Phone1"] == {"value": "+1 425 555 0100"}
    assert answered["Address"]["City"] == {"value": "Kirkland"}
    after = _vendor(acumatica, "MainContact/Address")["MainContact"]
    assert after["Address"]["City"] == {"value": "Kirkland"}
    assert after["Address"]["AddressLine1"] == before["MainContact"]["Address"]["AddressLine1"]
    assert after["Email"] == before["MainContact"]["Email"]
    assert after["id"] == before["MainContact"]["id"]

    unwrapped = acumatica.put(
        f"{API}/Vendor", json={"VendorID": before["VendorID"], "MainContact": {"Fax": "1"}}
    )
    unknown = acumatica.put(
        f"{API}/Vendor",
        json={"VendorID": before["VendorID"], "MainContact": {"Nickname": {"value": "x"}}},
    )
    assert unwrapped.status_code == unknown.status_code == 400
    invalid = acumatica.put(
        f"{API}/Vendor",
        json={
            "VendorID": before["VendorID"],
            "MainContact": {"Address": {"Validated": {"value": "perhaps"}}},
        },
    )
    assert invalid.status_code == 422, invalid.text
    assert invalid.json()["MainContact"]["Address"]["Validated"]["error"]


def test_swagger_describes_the_linked_types(acumatica: OAuth2Client) -> None:
    document = acumatica.get(f"{API}/swagger.json").json()
    vendor = document["definitions"]["Vendor"]["allOf"][1]["properties"]
    assert vendor["MainContact"] == {"$ref": "#/definitions/Contact"}
    contact = document["definitions"]["Contact"]["allOf"][1]["properties"]
    assert contact["Address"] == {"$ref": "#/definitions/Address"}
