"""The F&O simulator honours the documented Entra token, OData and business event contracts.

Requests are shaped as Microsoft documents them: a form-encoded client-credentials request
with the environment's ``/.default`` scope, OData query options on ``/data/{EntitySet}``,
composite natural keys with ``dataAreaId``, and ``cross-company=true`` for other companies.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from datetime import datetime
from typing import Any

import httpx
import pytest

from simulators.finance_operations import FinanceOperationsOptions, create_app
from simulators.finance_operations.events import BusinessEventEndpoint
from simulators.finance_operations.store import FinanceOperationsStore
from simulators.server import serve_in_thread
from tests.simulators.receivers import Receiver
from tests.simulators.support import client_for

TENANT = "sim-tenant"
SCOPE = "https://mlc-sim.operations.dynamics.com/.default"
TOKEN_FORM = {
    "grant_type": "client_credentials",
    "client_id": "mlc-client",
    "client_secret": "mlc-secret",
    "scope": SCOPE,
}
VENDOR = "/data/VendorsV2(dataAreaId='usmf',VendorAccountNumber='{}')"
INVOICE = "/data/VendorInvoiceHeaders(dataAreaId='usmf',HeaderReference='{}')"
WRITE_EXCEPTION = "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException"


def make_app(**overrides: Any) -> Any:
    defaults: dict[str, Any] = {"vendor_count": 25, "purchase_order_count": 6, "invoice_count": 6}
    return create_app(FinanceOperationsOptions(**{**defaults, **overrides}))


def store_of(app: Any) -> FinanceOperationsStore:
    store: FinanceOperationsStore = app.state.sim
    return store


async def auth(client: httpx.AsyncClient, **form: str) -> dict[str, str]:
    response = await client.post(f"/{TENANT}/oauth2/v2.0/token", data={**TOKEN_FORM, **form})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def read_all(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], params: dict[str, str]
) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    pages = 0
    response = await client.get(url, headers=headers, params=params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body["value"]
        pages += 1
        if "@odata.nextLink" not in body:
            return rows, pages
        assert "$skip=" in body["@odata.nextLink"]
        response = await client.get(body["@odata.nextLink"], headers=headers)


def assert_write_error(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] == "An error has occurred."
    assert error["innererror"]["type"] == WRITE_EXCEPTION
    assert fragment in error["innererror"]["message"]


# -- token ----------------------------------------------------------------------------------


async def test_token_with_environment_scope_or_own_base_url() -> None:
    async with client_for(make_app()) as client:
        env = await client.post(f"/{TENANT}/oauth2/v2.0/token", data=TOKEN_FORM)
        own = await client.post(
            f"/{TENANT}/oauth2/v2.0/token",
            data={**TOKEN_FORM, "scope": "http://sim.test/.default"},
        )
    assert env.status_code == own.status_code == 200
    body = env.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    claims = body["access_token"].split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert decoded["aud"] == "https://mlc-sim.operations.dynamics.com"


@pytest.mark.parametrize(
    ("form", "path", "status", "error"),
    [
        ({"client_secret": "nope"}, TENANT, 401, "invalid_client"),
        (
            {"scope": "https://api.businesscentral.dynamics.com/.default"},
            TENANT,
            400,
            "invalid_scope",
        ),
        ({"grant_type": "password"}, TENANT, 400, "unsupported_grant_type"),
        ({}, "other-tenant", 400, "invalid_request"),
    ],
)
async def test_token_refusals(form: dict[str, str], path: str, status: int, error: str) -> None:
    async with client_for(make_app()) as client:
        response = await client.post(f"/{path}/oauth2/v2.0/token", data={**TOKEN_FORM, **form})
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"].startswith("AADSTS")


async def test_missing_bad_and_expired_tokens_are_bare_401() -> None:
    app = make_app(token_lifetime_seconds=60)
    async with client_for(app) as client:
        headers = await auth(client)
        ok = await client.get("/data/VendorsV2", headers=headers)
        missing = await client.get("/data/VendorsV2")
        bad = await client.get("/data/VendorsV2", headers={"Authorization": "Bearer nope"})
        store_of(app).clock.advance(61)
        expired = await client.get("/data/VendorsV2", headers=headers)
        renewed = await client.get("/data/VendorsV2", headers=await auth(client))
    assert ok.status_code == 200 and renewed.status_code == 200
    for response in (missing, bad, expired):
        assert response.status_code == 401
        assert response.content == b""
        assert response.headers["WWW-Authenticate"] == "Bearer"


# -- reads ----------------------------------------------------------------------------------


async def test_default_company_only_unless_cross_company() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth(client)
        own = (await client.get("/data/VendorsV2", headers=headers)).json()["value"]
        everyone = (
            await client.get("/data/VendorsV2", headers=headers, params={"cross-company": "true"})
        ).json()["value"]
        other = (
            await client.get(
                "/data/VendorsV2",
                headers=headers,
                params={"cross-company": "true", "$filter": "dataAreaId eq 'usrt'"},
            )
        ).json()["value"]
    assert len(own) == 25 and {v["dataAreaId"] for v in own} == {"usmf"}
    assert Counter(v["dataAreaId"] for v in everyone) == {"usmf": 25, "usrt": 5}
    assert len(other) == 5 and all(v["dataAreaId"] == "usrt" for v in other)
    assert own[0]["VendorAccountNumber"] == "V0001"
    assert set(own[0]) >= {"@odata.etag", "VendorName", "VendorGroupId", "dataAreaId"}


async def test_every_record_has_data_area_id_and_references_resolve() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth(client)
        sets = {}
        for name in (
            "VendorsV2",
            "PurchaseOrderHeadersV2",
            "PurchaseOrderLinesV2",
            "VendorInvoiceHeaders",
            "VendorInvoiceLines",
            "MainAccounts",
        ):
            response = await client.get(f"/data/{name}", headers=headers)
            assert response.status_code == 200, name
            sets[name] = response.json()["value"]
    for name, rows in sets.items():
        assert rows, name
        assert all(r["dataAreaId"] == "usmf" for r in rows), name
    vendors = {v["VendorAccountNumber"] for v in sets["VendorsV2"]}
    orders = {o["PurchaseOrderNumber"] for o in sets["PurchaseOrderHeadersV2"]}
    accounts = {a["MainAccountId"] for a in sets["MainAccounts"]}
    headers_ = {h["HeaderReference"] for h in sets["VendorInvoiceHeaders"]}
    assert {o["OrderVendorAccountNumber"] for o in sets["PurchaseOrderHeadersV2"]} <= vendors
    assert {line["PurchaseOrderNumber"] for line in sets["PurchaseOrderLinesV2"]} == orders
    assert {i["InvoiceAccount"] for i in sets["VendorInvoiceHeaders"]} <= vendors
    assert {line["HeaderReference"] for line in sets["VendorInvoiceLines"]} == headers_
    assert {line["MainAccountDisplayValue"] for line in sets["VendorInvoiceLines"]} <= accounts
    assert {i["PurchaseOrderNumber"] for i in sets["VendorInvoiceHeaders"]} - {""} <= orders


async def test_seed_is_deterministic() -> None:
    first, second, other = make_app(), make_app(), make_app(seed=7)
    async with client_for(first) as a, client_for(second) as b, client_for(other) as c:
        names = []
        for client in (a, b, c):
            body = (await client.get("/data/VendorsV2", headers=await auth(client))).json()
            names.append([v["VendorName"] for v in body["value"]])
    assert names[0] == names[1] != names[2]


async def test_paging_visits_every_record_once_with_shared_timestamps() -> None:
    app = make_app(page_size=7, modified_field="ModifiedDateTime", records_per_timestamp=5)
    async with client_for(app) as client:
        headers = await auth(client)
        rows, pages = await read_all(
            client, "/data/VendorsV2", headers, {"$orderby": "ModifiedDateTime", "$count": "true"}
        )
        first = await client.get("/data/VendorsV2", headers=headers, params={"$count": "true"})
    stamps = Counter(r["ModifiedDateTime"] for r in rows)
    assert max(stamps.values()) == 5  # records really do share timestamps
    keys = [r["VendorAccountNumber"] for r in rows]
    assert len(keys) == len(set(keys)) == 25 and pages == 4
    assert first.json()["@odata.count"] == 25 and len(first.json()["value"]) == 7


async def test_top_limits_total_across_pages_and_skip_offsets() -> None:
    app = make_app(page_size=4)
    async with client_for(app) as client:
        headers = await auth(client)
        rows, pages = await read_all(client, "/data/VendorsV2", headers, {"$top": "10"})
        skipped = await client.get(
            "/data/VendorsV2", headers=headers, params={"$skip": "23", "$select": "VendorName"}
        )
    assert len(rows) == 10 and pages == 3
    assert len(skipped.json()["value"]) == 2
    assert skipped.json()["@odata.context"].endswith("#VendorsV2(VendorName)")


async def test_delta_filter_on_configured_modified_field() -> None:
    app = make_app(modified_field="ModifiedDateTime", records_per_timestamp=3, page_size=5)
    store = store_of(app)
    async with client_for(app) as client:
        headers = await auth(client)
        everything, _ = await read_all(client, "/data/VendorsV2", headers, {})
        cursor = sorted(r["ModifiedDateTime"] for r in everything)[10]
        later, _ = await read_all(
            client, "/data/VendorsV2", headers, {"$filter": f"ModifiedDateTime gt {cursor}"}
        )
        store.clock.advance(5)
        edit = await client.patch(
            "/_sim/entities/VendorsV2/dataAreaId='usmf',VendorAccountNumber='V0002'",
            json={"VendorName": "Renamed in the F&O client"},
        )
        changed, _ = await read_all(
            client,
            "/data/VendorsV2",
            headers,
            {"$filter": f"ModifiedDateTime gt {max(r['ModifiedDateTime'] for r in everything)}"},
        )
    expected = {r["VendorAccountNumber"] for r in everything if r["ModifiedDateTime"] > cursor}
    assert {r["VendorAccountNumber"] for r in later} == expected and len(expected) == 13
    assert edit.status_code == 200
    assert [(r["VendorAccountNumber"], r["VendorName"]) for r in changed] == [
        ("V0002", "Renamed in the F&O client")
    ]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("VendorAccountNumber eq 'V0003'", {"V0003"}),
        ("VendorAccountNumber eq 'v0003'", {"V0003"}),  # SQL collation: case-insensitive
        (
            "VendorAccountNumber ne 'V0003' and VendorAccountNumber le 'V0004'",
            {"V0001", "V0002", "V0004"},
        ),
        ("VendorAccountNumber lt 'V0002' or VendorAccountNumber ge 'V0025'", {"V0001", "V0025"}),
        ("VendorAccountNumber gt 'V0023'", {"V0024", "V0025"}),
        ("not (VendorAccountNumber lt 'V0024')", {"V0024", "V0025"}),
        ("VendorAccountNumber eq '*25'", {"V0025"}),
        (
            "VendorAccountNumber eq 'V002*' and VendorAccountNumber ne '*0'",
            {"V0021", "V0022", "V0023", "V0024", "V0025"},
        ),
    ],
)
async def test_filter_grammar(expression: str, expected: set[str]) -> None:
    async with client_for(make_app()) as client:
        response = await client.get(
            "/data/VendorsV2", headers=await auth(client), params={"$filter": expression}
        )
    assert response.status_code == 200, response.text
    assert {v["VendorAccountNumber"] for v in response.json()["value"]} == expected


async def test_wildcard_and_enum_literals() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth(client)
        vendors = (await client.get("/data/VendorsV2", headers=headers)).json()["value"]
        word = vendors[0]["VendorName"].split()[0].lower()
        like = await client.get(
            "/data/VendorsV2", headers=headers, params={"$filter": f"VendorName eq '*{word}*'"}
        )
        posted = await client.get(
            "/data/VendorInvoiceHeaders",
            headers=headers,
            params={"$filter": "IsPosted eq Microsoft.Dynamics.DataEntities.NoYes'Yes'"},
        )
        all_invoices = (await client.get("/data/VendorInvoiceHeaders", headers=headers)).json()
    expected = {v["VendorAccountNumber"] for v in vendors if word in v["VendorName"].lower()}
    assert {v["VendorAccountNumber"] for v in like.json()["value"]} == expected
    assert posted.status_code == 200
    assert [i["HeaderReference"] for i in posted.json()["value"]] == [
        i["HeaderReference"] for i in all_invoices["value"] if i["IsPosted"] == "Yes"
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"$filter": "Nope eq 'x'"},
        {"$filter": "VendorAccountNumber eq 5"},
        {"$filter": "VendorAccountNumber eq"},
        {"$orderby": "Nope"},
        {"$select": "Nope"},
        {"$expand": "Nope"},
        {"$top": "-1"},
    ],
)
async def test_bad_query_options_are_400_in_odata_error_shape(params: dict[str, str]) -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/data/VendorsV2", headers=await auth(client), params=params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "" and error["message"]
    assert "Microsoft.NAV" not in error["message"]
    assert set(error["innererror"]) == {"message", "type", "stacktrace"}


async def test_orderby_select_and_expand_one_level() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        ordered = await client.get(
            "/data/VendorsV2",
            headers=headers,
            params={
                "$orderby": "VendorAccountNumber desc",
                "$top": "3",
                "$select": "VendorAccountNumber",
            },
        )
        expanded = await client.get(
            "/data/PurchaseOrderHeadersV2",
            headers=headers,
            params={"$expand": "PurchaseOrderLinesV2,Vendor", "$top": "2"},
        )
        lines = await client.get(
            "/data/PurchaseOrderLinesV2",
            headers=headers,
            params={"$expand": "PurchaseOrderHeader", "$top": "1"},
        )
    assert [v["VendorAccountNumber"] for v in ordered.json()["value"]] == [
        "V0025",
        "V0024",
        "V0023",
    ]
    assert set(ordered.json()["value"][0]) == {"@odata.etag", "VendorAccountNumber"}
    for order in expanded.json()["value"]:
        assert order["PurchaseOrderLinesV2"]
        assert all(
            line["PurchaseOrderNumber"] == order["PurchaseOrderNumber"]
            for line in order["PurchaseOrderLinesV2"]
        )
        assert order["Vendor"]["VendorAccountNumber"] == order["OrderVendorAccountNumber"]
        assert "PurchaseOrderHeader" not in order["PurchaseOrderLinesV2"][0]  # one level only
    line = lines.json()["value"][0]
    assert line["PurchaseOrderHeader"]["PurchaseOrderNumber"] == line["PurchaseOrderNumber"]


async def test_get_by_natural_key() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        found = await client.get(VENDOR.format("V0007"), headers=headers)
        selected = await client.get(
            VENDOR.format("V0007"), headers=headers, params={"$select": "VendorName"}
        )
        missing = await client.get(VENDOR.format("V9999"), headers=headers)
        partial = await client.get("/data/VendorsV2(VendorAccountNumber='V0007')", headers=headers)
        other_company = await client.get(
            "/data/VendorsV2(dataAreaId='usrt',VendorAccountNumber='V0001')", headers=headers
        )
        unknown_set = await client.get("/data/Nothing", headers=headers)
    assert found.status_code == 200
    assert found.json()["@odata.context"].endswith("$metadata#VendorsV2/$entity")
    assert found.json()["VendorAccountNumber"] == "V0007" and found.headers["ETag"]
    assert set(selected.json()) == {"@odata.context", "@odata.etag", "VendorName"}
    assert missing.status_code == 404 and missing.json()["error"]["message"]
    assert partial.status_code == 400
    assert other_company.json()["dataAreaId"] == "usrt"
    assert unknown_set.status_code == 404


async def test_metadata_is_edmx_with_keys_enums_and_navigation() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        response = await client.get("/data/$metadata", headers=headers)
        service = await client.get("/data", headers=headers)
        anonymous = await client.get("/data/$metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    xml = response.text
    assert '<EntityType Name="VendorV2"><Key><PropertyRef Name="dataAreaId"/>' in xml
    assert '<PropertyRef Name="VendorAccountNumber"/>' in xml
    assert '<EnumType Name="NoYes">' in xml
    assert re.search(r'NavigationProperty Name="PurchaseOrderLinesV2" Type="Collection\(', xml)
    assert '<EntitySet Name="VendorInvoiceLines"' in xml
    assert {s["name"] for s in service.json()["value"]} >= {"VendorsV2", "MainAccounts"}
    assert anonymous.status_code == 401


# -- writes ---------------------------------------------------------------------------------


async def test_create_then_duplicate_natural_key_fails() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        body = {"VendorAccountNumber": "V0100", "VendorName": "New Vendor", "VendorGroupId": "10"}
        created = await client.post("/data/VendorsV2", headers=headers, json=body)
        again = await client.post("/data/VendorsV2", headers=headers, json=body)
        numbered = await client.post(
            "/data/VendorsV2", headers=headers, json={"VendorName": "Numbered by F&O"}
        )
        read_back = await client.get(VENDOR.format("V0100"), headers=headers)
    assert created.status_code == 201, created.text
    assert created.headers["Location"].endswith(
        "/data/VendorsV2(dataAreaId='usmf',VendorAccountNumber='V0100')"
    )
    assert created.json()["dataAreaId"] == "usmf"
    assert created.json()["OnHoldStatus"] == "No"  # defaults are filled, never null
    assert_write_error(again, 400, "The record already exists.")
    assert "V0100" in again.json()["error"]["innererror"]["message"]
    assert numbered.status_code == 201 and numbered.json()["VendorAccountNumber"] == "V0026"
    assert read_back.json()["VendorName"] == "New Vendor"


async def test_duplicate_key_status_is_configurable() -> None:
    async with client_for(make_app(write_error_status=500)) as client:
        headers = await auth(client)
        response = await client.post(
            "/data/VendorsV2", headers=headers, json={"VendorAccountNumber": "V0001"}
        )
    assert_write_error(response, 500, "already exists")


async def test_patch_and_delete() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        before = await client.get(VENDOR.format("V0003"), headers=headers)
        patched = await client.patch(
            VENDOR.format("V0003"), headers=headers, json={"VendorName": "Changed"}
        )
        stale = await client.patch(
            VENDOR.format("V0003"),
            headers={**headers, "If-Match": before.headers["ETag"]},
            json={"VendorName": "Lost update"},
        )
        key_change = await client.patch(
            VENDOR.format("V0003"), headers=headers, json={"VendorAccountNumber": "V0999"}
        )
        unknown = await client.patch(
            VENDOR.format("V0003"), headers=headers, json={"NoSuchField": 1}
        )
        after = await client.get(VENDOR.format("V0003"), headers=headers)
        deleted = await client.delete(VENDOR.format("V0003"), headers=headers)
        gone = await client.get(VENDOR.format("V0003"), headers=headers)
    assert patched.status_code == 204 and patched.content == b""
    assert stale.status_code == 412
    assert_write_error(key_change, 400, "cannot be changed")
    assert unknown.status_code == 400 and "NoSuchField" in unknown.json()["error"]["message"]
    assert after.json()["VendorName"] == "Changed"
    assert after.headers["ETag"] != before.headers["ETag"]
    assert deleted.status_code == 204 and gone.status_code == 404


async def test_header_before_lines_and_references_must_exist() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        line = {"HeaderReference": "NEW-1", "LineNumber": 1, "Description": "x", "LineAmount": 5}
        orphan = await client.post("/data/VendorInvoiceLines", headers=headers, json=line)
        bad_vendor = await client.post(
            "/data/VendorInvoiceHeaders",
            headers=headers,
            json={"HeaderReference": "NEW-1", "InvoiceAccount": "V9999"},
        )
        header = await client.post(
            "/data/VendorInvoiceHeaders",
            headers=headers,
            json={
                "HeaderReference": "NEW-1",
                "InvoiceNumber": "SN-INV-1",
                "InvoiceAccount": "V0001",
                "InvoiceDate": "2024-03-01T00:00:00Z",
            },
        )
        first = await client.post("/data/VendorInvoiceLines", headers=headers, json=line)
        second = await client.post(
            "/data/VendorInvoiceLines",
            headers=headers,
            json={"HeaderReference": "NEW-1", "Description": "numbered"},
        )
        expanded = await client.get(
            INVOICE.format("NEW-1"), headers=headers, params={"$expand": "VendorInvoiceLines"}
        )
    assert_write_error(orphan, 400, "is not found in the relating table")
    assert_write_error(bad_vendor, 400, "V9999")
    assert header.status_code == 201 and header.json()["IsPosted"] == "No"
    assert header.json()["DueDate"] == "1900-01-01T00:00:00Z"  # F&O's empty date
    assert first.status_code == 201 and second.json()["LineNumber"] == 2
    assert [li["LineNumber"] for li in expanded.json()["VendorInvoiceLines"]] == [1, 2]


async def test_posted_documents_are_read_only() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth(client)
        await client.post(
            "/data/VendorInvoiceHeaders",
            headers=headers,
            json={"HeaderReference": "P-1", "InvoiceNumber": "I-1", "InvoiceAccount": "V0002"},
        )
        await client.post(
            "/data/VendorInvoiceLines",
            headers=headers,
            json={"HeaderReference": "P-1", "LineNumber": 1, "LineAmount": 10},
        )
        posting = await client.patch(
            "/_sim/entities/VendorInvoiceHeaders/dataAreaId='usmf',HeaderReference='P-1'",
            json={"IsPosted": "Yes"},
        )
        line_url = "/data/VendorInvoiceLines(dataAreaId='usmf',HeaderReference='P-1',LineNumber=1)"
        attempts = [
            await client.patch(INVOICE.format("P-1"), headers=headers, json={"InvoiceNumber": "x"}),
            await client.delete(INVOICE.format("P-1"), headers=headers),
            await client.patch(line_url, headers=headers, json={"LineAmount": 11}),
            await client.delete(line_url, headers=headers),
            await client.post(
                "/data/VendorInvoiceLines",
                headers=headers,
                json={"HeaderReference": "P-1", "LineNumber": 2},
            ),
        ]
        still = await client.get(INVOICE.format("P-1"), headers=headers)
    assert posting.status_code == 200
    for response in attempts:
        assert_write_error(response, 400, "has been posted")
    assert still.json()["InvoiceNumber"] == "I-1"


async def test_delete_header_takes_its_lines() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth(client)
        orders = (
            await client.get(
                "/data/PurchaseOrderHeadersV2",
                headers=headers,
                params={"$filter": "PurchaseOrderStatus eq 'Backorder'", "$top": "1"},
            )
        ).json()["value"]
        number = orders[0]["PurchaseOrderNumber"]
        url = f"/data/PurchaseOrderHeadersV2(dataAreaId='usmf',PurchaseOrderNumber='{number}')"
        deleted = await client.delete(url, headers=headers)
        lines = await client.get(
            "/data/PurchaseOrderLinesV2",
            headers=headers,
            params={"$filter": f"PurchaseOrderNumber eq '{number}'"},
        )
    assert deleted.status_code == 204
    assert lines.json()["value"] == []


# -- business events ------------------------------------------------------------------------


def event_app(receiver: Receiver, **overrides: Any) -> Any:
    endpoint = BusinessEventEndpoint(
        url="https://receiver.test/fno/events",
        events=("VendorInvoicePostedBusinessEvent", "PurchaseOrderConfirmedBusinessEvent"),
        secret_header="X-Event-Secret",
        secret_value="s3cret",
    )
    return make_app(
        business_event_endpoints=(endpoint,),
        auto_dispatch=False,
        delivery_transport=receiver.transport(),
        **overrides,
    )


async def post_invoice(client: httpx.AsyncClient, reference: str) -> httpx.Response:
    return await client.patch(
        f"/_sim/entities/VendorInvoiceHeaders/dataAreaId='usmf',HeaderReference='{reference}'",
        json={"IsPosted": "Yes"},
    )


async def test_business_event_payload_secret_and_control_numbers() -> None:
    receiver = Receiver()
    app = event_app(receiver)
    async with client_for(app) as client:
        unposted = [
            i
            for i in (await client.get("/_sim/entities/VendorInvoiceHeaders")).json()["value"]
            if i["IsPosted"] == "No"
        ]
        await post_invoice(client, unposted[0]["HeaderReference"])
        await client.patch(  # a second change to the same field fires nothing
            f"/_sim/entities/VendorInvoiceHeaders/{unposted[0]['_recid']}",
            json={"InvoiceDescription": "after posting"},
        )
        await post_invoice(client, unposted[1]["HeaderReference"])
        sent = (await client.post("/_sim/deliveries/dispatch")).json()
        listing = (await client.get("/_sim/deliveries")).json()["deliveries"]
    assert sent == {"sent": 2}
    assert len(receiver.calls) == 2
    first, second = (call.json() for call in receiver.calls)
    for call in receiver.calls:
        assert call.path == "/fno/events"
        assert call.headers["x-event-secret"] == "s3cret"
        assert call.headers["content-type"] == "application/json"
    assert first["BusinessEventId"] == "VendorInvoicePostedBusinessEvent"
    assert first["BusinessEventLegalEntity"] == "usmf"
    assert first["InvoiceNumber"] == unposted[0]["InvoiceNumber"]
    assert first["VendorAccount"] == unposted[0]["InvoiceAccount"]
    assert {
        "ContextRecordSubject",
        "EventId",
        "InitiatingUserAADObjectId",
        "MajorVersion",
        "MinorVersion",
    } <= set(first)
    assert re.fullmatch(r"/Date\(\d{13}\)/", first["EventTime"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", first["EventTimeIso8601"])
    millis = int(first["EventTime"][6:-2])
    iso = datetime.fromisoformat(first["EventTimeIso8601"][:26] + "+00:00")
    assert abs(iso.timestamp() * 1000 - millis) < 1000
    assert re.fullmatch(r"\{[0-9A-F-]{36}\}", first["InitiatingUserAADObjectId"])
    assert second["ControlNumber"] > first["ControlNumber"]
    assert {d["state"] for d in listing} == {"delivered"}
    assert listing[0]["attempts"][0]["status"] == 200


async def test_business_events_retry_5xx_on_the_sim_clock_but_not_4xx() -> None:
    receiver = Receiver(503, 500)
    app = event_app(receiver, event_retry_delays=(15, 60))
    store = store_of(app)
    async with client_for(app) as client:
        orders = (await client.get("/_sim/entities/PurchaseOrderHeadersV2")).json()["value"]
        draft = next(o for o in orders if o["DocumentApprovalStatus"] != "Confirmed")
        await client.patch(
            f"/_sim/entities/PurchaseOrderHeadersV2/{draft['_recid']}",
            json={"DocumentApprovalStatus": "Confirmed"},
        )
        first = (await client.post("/_sim/deliveries/dispatch")).json()["sent"]
        too_early = (await client.post("/_sim/deliveries/dispatch")).json()["sent"]
        store.clock.advance(15)
        second = (await client.post("/_sim/deliveries/dispatch")).json()["sent"]
        store.clock.advance(60)
        third = (await client.post("/_sim/deliveries/dispatch")).json()["sent"]
        delivery = (await client.get("/_sim/deliveries")).json()["deliveries"][0]
    assert (first, too_early, second, third) == (1, 0, 1, 1)
    assert [a["status"] for a in delivery["attempts"]] == [503, 500, 200]
    assert delivery["state"] == "delivered"
    assert receiver.calls[0].body == receiver.calls[2].body  # the same event, resent as is
    assert receiver.calls[0].json()["BusinessEventId"] == "PurchaseOrderConfirmedBusinessEvent"

    refusing = Receiver(400)
    app = event_app(refusing)
    async with client_for(app) as client:
        invoice = next(
            i
            for i in (await client.get("/_sim/entities/VendorInvoiceHeaders")).json()["value"]
            if i["IsPosted"] == "No"
        )
        await post_invoice(client, invoice["HeaderReference"])
        await client.post("/_sim/deliveries/dispatch")
        store_of(app).clock.advance(3600)
        again = (await client.post("/_sim/deliveries/dispatch")).json()["sent"]
        failed = (await client.get("/_sim/deliveries", params={"state": "failed"})).json()
    assert again == 0 and len(failed["deliveries"]) == 1


async def test_endpoints_can_be_added_at_run_time() -> None:
    receiver = Receiver()
    app = make_app(auto_dispatch=False, delivery_transport=receiver.transport())
    async with client_for(app) as client:
        added = await client.post(
            "/_sim/business-events/endpoints",
            json={"url": "https://r.test/e", "events": ["VendorInvoicePostedBusinessEvent"]},
        )
        bad = await client.post(
            "/_sim/business-events/endpoints", json={"url": "https://r.test/e", "events": ["X"]}
        )
        catalog = (await client.get("/_sim/business-events/catalog")).json()["catalog"]
        invoice = next(
            i
            for i in (await client.get("/_sim/entities/VendorInvoiceHeaders")).json()["value"]
            if i["IsPosted"] == "No"
        )
        await post_invoice(client, invoice["HeaderReference"])
        await client.post("/_sim/deliveries/dispatch")
    assert added.status_code == 201 and bad.status_code == 400
    assert "VendorInvoicePostedBusinessEvent" in {c["BusinessEventId"] for c in catalog}
    assert receiver.calls[0].headers["x-mlc-event-secret"] == "mlc-event-secret"


# -- limits, faults and the request log -----------------------------------------------------


async def test_rate_limit_answers_429_with_retry_after() -> None:
    app = make_app(rate_limit_requests=3, rate_limit_window_seconds=300)
    async with client_for(app) as client:
        headers = await auth(client)
        statuses = [(await client.get("/data/MainAccounts", headers=headers)) for _ in range(4)]
        store_of(app).clock.advance(301)
        after = await client.get("/data/MainAccounts", headers=headers)
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    throttled = statuses[-1]
    assert int(throttled.headers["Retry-After"]) > 0
    assert "throttled" in throttled.json()["error"]["message"]
    assert after.status_code == 200


async def test_fault_storm_and_request_log() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth(client)
        await client.get("/data/VendorsV2", headers=headers)
        await client.post("/_sim/faults/storm", json={"seconds": 30})
        stormy = await client.get("/data/VendorsV2", headers=headers)
        await client.post("/_sim/faults/storm", json={"seconds": 0})
        calls = (await client.get("/_sim/calls")).json()["calls"]
        logged = (await client.get("/_sim/requests")).json()["requests"]
    assert stormy.status_code == 429 and stormy.headers["Retry-After"]
    assert stormy.json()["error"]["message"]
    counted = {(c["method"], c["route"]): c["count"] for c in calls}
    assert counted[("GET", "/data/{target}")] == 1
    assert counted[("POST", "/{tenant}/oauth2/v2.0/token")] == 1
    assert [(e["path"], e["status"]) for e in logged if e["method"] == "GET"] == [
        ("/data/VendorsV2", 200),
        ("/data/VendorsV2", 429),
    ]


# -- over real HTTP -------------------------------------------------------------------------


def test_serves_over_real_http_with_business_events_to_a_real_receiver() -> None:
    receiver = Receiver(503)
    receiver_url, stop_receiver = serve_in_thread(receiver.app)
    endpoint = BusinessEventEndpoint(url=f"{receiver_url}/events")
    app = make_app(page_size=6, business_event_endpoints=(endpoint,), retry_scale=0.01)
    base_url, stop = serve_in_thread(app)
    try:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            token = client.post(
                f"/{TENANT}/oauth2/v2.0/token",
                data={**TOKEN_FORM, "scope": f"{base_url}/.default"},
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            body = client.get("/data/VendorsV2", headers=headers).json()
            keys = [v["VendorAccountNumber"] for v in body["value"]]
            while "@odata.nextLink" in body:
                assert body["@odata.nextLink"].startswith(base_url)
                body = client.get(body["@odata.nextLink"], headers=headers).json()
                keys += [v["VendorAccountNumber"] for v in body["value"]]
            invoices = client.get(
                "/data/VendorInvoiceHeaders",
                headers=headers,
                params={"$filter": "IsPosted eq 'No'", "$top": "1"},
            ).json()["value"]
            reference = invoices[0]["HeaderReference"]
            client.patch(
                f"/_sim/entities/VendorInvoiceHeaders/dataAreaId='usmf',HeaderReference='{reference}'",
                json={"IsPosted": "Yes"},
            )
            deadline = time.monotonic() + 10
            while len(receiver.calls) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            deliveries = client.get("/_sim/deliveries").json()["deliveries"]
    finally:
        stop()
        stop_receiver()
    assert len(keys) == len(set(keys)) == 25
    assert [c.json()["InvoiceNumber"] for c in receiver.calls] == [invoices[0]["InvoiceNumber"]] * 2
    assert [a["status"] for a in deliveries[0]["attempts"]] == [503, 200]
