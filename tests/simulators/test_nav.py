"""Dynamics NAV / BC on-premises: API v2.0 per server instance and legacy OData V4 pages.

Requests are shaped as an on-premises client sends them: Basic auth with the user name and
its web service access key, ``/BC/ODataV4/Company('CRONUS USA, Inc.')/VendorList``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

import httpx

from simulators.nav import NavOptions, create_app
from tests.simulators.support import BC_TOKEN_FORM, BC_TOKEN_PATH, client_for
from tests.simulators.test_business_central_webhooks import HOOK_URL, Subscriber

AUTH = ("MLC", "mlc-web-service-access-key")
COMPANY = quote("CRONUS USA, Inc.")
PAGES = f"/BC/ODataV4/Company('{COMPANY}')"
API = "/BC/api/v2.0"


def make_app(**overrides: Any) -> Any:
    return create_app(NavOptions(**{"vendor_count": 12, **overrides}))


async def company_id(client: httpx.AsyncClient) -> str:
    response = await client.get(f"{API}/companies")
    assert response.status_code == 200, response.text
    return str(response.json()["value"][0]["id"])


async def test_basic_auth_with_web_service_access_key() -> None:
    app = make_app()
    async with client_for(app) as client:
        ok = await client.get(f"{API}/companies", auth=AUTH)
        user_case = await client.get(f"{PAGES}/VendorList", auth=("mlc", AUTH[1]))
        wrong = await client.get(f"{API}/companies", auth=("MLC", "password"))
        bearer = await client.get(f"{API}/companies", headers={"Authorization": "Bearer x"})
        token = await client.post(BC_TOKEN_PATH, data=BC_TOKEN_FORM)
        other_instance = await client.get("/NAV/api/v2.0/companies", auth=AUTH)
    assert ok.status_code == user_case.status_code == 200
    for refused in (wrong, bearer):
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "Authentication_InvalidCredentials"
    assert token.status_code == 404  # no Entra unless the server is set up for it
    assert other_instance.status_code == 404


async def test_entra_tokens_when_the_server_uses_them() -> None:
    async with client_for(make_app(entra_enabled=True)) as client:
        token = (await client.post(BC_TOKEN_PATH, data=BC_TOKEN_FORM)).json()["access_token"]
        response = await client.get(
            f"{API}/companies", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200


async def test_vendor_page_uses_page_field_names_over_the_same_rows() -> None:
    async with client_for(make_app(), auth=AUTH) as client:
        api = await client.get(f"{API}/companies({await company_id(client)})/vendors")
        page = await client.get(f"{PAGES}/VendorList")
        card = await client.get(f"{PAGES}/Vendor_Card('V00010')")
        named = await client.get(f"{PAGES}/VendorList(No='V00010')")
    assert page.status_code == 200
    rows = page.json()["value"]
    assert list(rows[0]) == [
        "@odata.etag", "No", "Name", "Address", "Address_2", "City", "County", "Post_Code",
        "Country_Region_Code", "Phone_No", "E_Mail", "VAT_Registration_No", "Currency_Code",
        "Blocked", "Balance_LCY", "Last_Date_Modified",
    ]  # fmt: skip
    by_number = {v["number"]: v for v in api.json()["value"]}
    for row in rows:
        vendor = by_number[row["No"]]
        assert row["Name"] == vendor["displayName"]
        assert row["Post_Code"] == vendor["postalCode"]
        assert row["Last_Date_Modified"] == vendor["lastModifiedDateTime"][:10]
        assert row["@odata.etag"] == vendor["@odata.etag"]
    assert card.json()["No"] == named.json()["No"] == "V00010"
    assert "Company('CRONUS%20USA%2C%20Inc.')/Vendor_Card" in card.json()["@odata.context"]


async def test_paging_and_filter_on_page_fields() -> None:
    async with client_for(make_app(page_size=5), auth=AUTH) as client:
        seen: list[str] = []
        response = await client.get(f"{PAGES}/VendorList")
        while True:
            body = response.json()
            seen += [r["No"] for r in body["value"]]
            if "@odata.nextLink" not in body:
                break
            response = await client.get(body["@odata.nextLink"])
        atlanta = await client.get(f"{PAGES}/VendorList", params={"$filter": "City eq 'Atlanta'"})
        bad = await client.get(f"{PAGES}/VendorList", params={"$filter": "city eq 'Atlanta'"})
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 12
    assert {r["City"] for r in atlanta.json()["value"]} <= {"Atlanta"}
    assert bad.status_code == 400


async def test_patch_with_etag_is_seen_by_the_api_and_stale_etags_fail() -> None:
    async with client_for(make_app(), auth=AUTH) as client:
        card = (await client.get(f"{PAGES}/Vendor_Card('V00020')")).json()
        url = f"{PAGES}/Vendor_Card('V00020')"
        changed = await client.patch(
            url, headers={"If-Match": card["@odata.etag"]}, json={"City": "Oslo"}
        )
        stale = await client.patch(
            url, headers={"If-Match": card["@odata.etag"]}, json={"City": "X"}
        )
        missing = await client.patch(url, json={"City": "Y"})
        api = await client.get(
            f"{API}/companies({await company_id(client)})/vendors",
            params={"$filter": "number eq 'V00020'"},
        )
        accounts = await client.patch(
            f"{PAGES}/GLAccounts('60100')", headers={"If-Match": "*"}, json={"Name": "X"}
        )
    assert changed.status_code == 200
    assert changed.json()["City"] == "Oslo"
    assert stale.status_code == 412
    assert missing.status_code == 400
    assert api.json()["value"][0]["city"] == "Oslo"
    assert accounts.status_code == 400
    assert accounts.json()["error"]["code"] == "BadRequest_MethodNotAllowed"


async def test_dimension_values_are_writable_and_documents_keyed_by_type_and_number() -> None:
    async with client_for(make_app(), auth=AUTH) as client:
        created = await client.post(
            f"{PAGES}/Dimension_Values",
            json={"Dimension_Code": "COSTCENTER", "Code": "CC500", "Name": "Warehouse"},
        )
        unknown = await client.post(
            f"{PAGES}/Dimension_Values", json={"Dimension_Code": "NOPE", "Code": "X"}
        )
        one = await client.get(
            f"{PAGES}/Dimension_Values(Dimension_Code='COSTCENTER',Code='CC500')"
        )
        cid = await company_id(client)
        dims = await client.get(
            f"{API}/companies({cid})/dimensions", params={"$filter": "code eq 'COSTCENTER'"}
        )
        values = await client.get(
            f"{API}/companies({cid})/dimensions({dims.json()['value'][0]['id']})/dimensionValues"
        )
        order = await client.get(f"{PAGES}/PurchaseOrder(Document_Type='Order',No='PO00010')")
        invoice_page = await client.get(f"{PAGES}/PurchaseInvoice")
        unpublished = await client.get(f"{PAGES}/Employees")
    assert created.status_code == 201
    assert unknown.status_code == 400
    assert one.json()["Name"] == "Warehouse"
    assert "CC500" in {v["code"] for v in values.json()["value"]}
    assert order.json()["Document_Type"] == "Order"
    assert order.json()["Buy_from_Vendor_No"].startswith("V")
    assert {r["Document_Type"] for r in invoice_page.json()["value"]} == {"Invoice"}
    assert unpublished.status_code == 404


async def test_metadata_of_published_pages() -> None:
    async with client_for(make_app(), auth=AUTH) as client:
        response = await client.get("/BC/ODataV4/$metadata")
    edm = "{http://docs.oasis-open.org/odata/ns/edm}"
    schema = ET.fromstring(response.content).find(f".//{edm}Schema")
    assert schema is not None
    types = {t.get("Name"): t for t in schema.findall(f"{edm}EntityType")}
    assert {"VendorList", "Vendor_Card", "GLAccounts", "Dimension_Values", "PurchaseOrder"} <= set(
        types
    )
    keys = [k.get("Name") for k in types["PurchaseOrder"].findall(f"{edm}Key/{edm}PropertyRef")]
    assert keys == ["Document_Type", "No"]


async def test_webhooks_only_when_enabled() -> None:
    async with client_for(make_app(), auth=AUTH) as client:
        off = await client.get(f"{API}/subscriptions")
    subscriber = Subscriber()
    app = make_app(
        webhooks_enabled=True, delivery_transport=httpx.ASGITransport(app=subscriber.app)
    )
    async with client_for(app, auth=AUTH) as client:
        cid = await company_id(client)
        on = await client.post(
            f"{API}/subscriptions",
            json={"notificationUrl": HOOK_URL, "resource": f"/api/v2.0/companies({cid})/vendors"},
        )
    assert off.status_code == 404
    assert on.status_code == 201
    assert subscriber.validations == ["POST"]
