"""Business Central entity sets beyond vendors: documents, lines, actions, $batch, $metadata.

Requests are shaped as the API v2.0 reference documents them (deep insert in the header POST,
``$expand=purchaseOrderLines``, ``Microsoft.NAV.post`` with an empty body, JSON ``$batch``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from simulators.business_central import BusinessCentralOptions, create_app
from simulators.business_central.entities import ENTITY_SETS
from simulators.business_central.store import BusinessCentralStore
from tests.simulators.support import BC_ROOT, bc_headers, client_for

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def make_app(**overrides: Any) -> Any:
    return create_app(BusinessCentralOptions(**{"vendor_count": 12, **overrides}))


def company_url(app: Any) -> str:
    store: BusinessCentralStore = app.state.sim
    return f"{BC_ROOT}/companies({store.default_company_id()})"


async def read(client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: str) -> Any:
    response = await client.get(url, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("definition", ENTITY_SETS, ids=lambda d: d.name)
async def test_every_entity_set_is_seeded_with_its_documented_fields(definition: Any) -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await bc_headers(client)
        body = await read(client, f"{company_url(app)}/{definition.name}", headers)
    assert body["value"], f"{definition.name} has no seed rows"
    # Stream properties are not inline: each comes as its media edit and read links.
    media = [
        f"{s}@odata.{link}"
        for s in definition.streams
        for link in ("mediaEditLink", "mediaReadLink")
    ]
    for row in body["value"]:
        assert list(row) == ["@odata.etag", *definition.fields, *media]


async def test_seed_is_referentially_consistent_and_has_cost_center_dimensions() -> None:
    app = make_app()
    async with client_for(app) as client:
        h = await bc_headers(client)
        base = company_url(app)
        vendors = {
            v["id"]: v["number"] for v in (await read(client, f"{base}/vendors", h))["value"]
        }
        items = {i["id"] for i in (await read(client, f"{base}/items", h))["value"]}
        accounts = {a["id"] for a in (await read(client, f"{base}/accounts", h))["value"]}
        dims = await read(client, f"{base}/dimensions", h, **{"$filter": "code eq 'COSTCENTER'"})
        cost_center = dims["value"][0]
        values = await read(client, f"{base}/dimensions({cost_center['id']})/dimensionValues", h)
        all_values = await read(client, f"{base}/dimensionValues", h)
        orders = await read(
            client, f"{base}/purchaseOrders", h, **{"$expand": "purchaseOrderLines"}
        )
        invoices = await read(
            client, f"{base}/purchaseInvoices", h, **{"$expand": "purchaseInvoiceLines"}
        )
    codes = {v["code"] for v in values["value"]}
    assert codes == {"CC100", "CC200", "CC300", "CC400"}
    assert {v["dimensionId"] for v in values["value"]} == {cost_center["id"]}
    assert len(all_values["value"]) > len(values["value"])
    for document, lines in [(o, o["purchaseOrderLines"]) for o in orders["value"]] + [
        (i, i["purchaseInvoiceLines"]) for i in invoices["value"]
    ]:
        assert vendors[document["vendorId"]] == document["vendorNumber"]
        assert document["shortcutDimension2Code"] in codes
        assert lines
        for line in lines:
            assert line["documentId"] == document["id"]
            assert line["itemId"] in items or line["accountId"] in accounts
    assert {i["status"] for i in invoices["value"]} == {"Draft", "Open"}


async def test_seed_depends_only_on_seed_and_counts() -> None:
    async def numbers(**options: Any) -> list[tuple[str, float]]:
        app = make_app(**options)
        async with client_for(app) as client:
            body = await read(
                client, f"{company_url(app)}/purchaseOrders", await bc_headers(client)
            )
        return [(o["vendorNumber"], o["totalAmountExcludingTax"]) for o in body["value"]]

    assert await numbers(seed=1) == await numbers(seed=1)
    assert await numbers(seed=1) != await numbers(seed=2)
    assert len(await numbers(purchase_order_count=3)) == 3


async def test_accounts_are_read_only() -> None:
    app = make_app()
    async with client_for(app) as client:
        h = await bc_headers(client)
        url = f"{company_url(app)}/accounts"
        account = (await read(client, url, h))["value"][0]
        posted = await client.post(url, headers=h, json={"number": "99999", "displayName": "X"})
        patched = await client.patch(
            f"{url}({account['id']})", headers={**h, "If-Match": "*"}, json={"displayName": "Y"}
        )
        deleted = await client.delete(f"{url}({account['id']})", headers={**h, "If-Match": "*"})
    for response in (posted, patched, deleted):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "BadRequest_MethodNotAllowed"
    assert "'POST' requests for 'accounts'" in posted.json()["error"]["message"]


async def test_dimension_values_are_writable_under_their_dimension() -> None:
    app = make_app()
    async with client_for(app) as client:
        h = await bc_headers(client)
        base = company_url(app)
        dims = await read(client, f"{base}/dimensions", h, **{"$filter": "code eq 'DEPARTMENT'"})
        dim_id = dims["value"][0]["id"]
        nested = f"{base}/dimensions({dim_id})/dimensionValues"
        created = await client.post(nested, headers=h, json={"code": "R&D", "displayName": "Lab"})
        duplicate = await client.post(nested, headers=h, json={"code": "R&D"})
        value_id = created.json()["id"]
        renamed = await client.patch(
            f"{nested}({value_id})",
            headers={**h, "If-Match": created.json()["@odata.etag"]},
            json={"displayName": "Research"},
        )
        unknown_parent = await client.get(
            f"{base}/dimensions(00000000-0000-0000-0000-000000000001)/dimensionValues", headers=h
        )
    assert created.status_code == 201
    assert created.json()["dimensionId"] == dim_id
    assert duplicate.status_code == 400
    assert duplicate.json()["error"]["code"] == "Internal_EntityWithSameKeyExists"
    assert renamed.json()["displayName"] == "Research"
    assert unknown_parent.status_code == 404


async def test_deep_insert_expand_totals_and_line_changes_move_the_header() -> None:
    app = make_app()
    async with client_for(app) as client:
        h = await bc_headers(client)
        base = company_url(app)
        vendor = (await read(client, f"{base}/vendors", h, **{"$top": "1"}))["value"][0]
        item = (await read(client, f"{base}/items", h, **{"$top": "1"}))["value"][0]
        created = await client.post(
            f"{base}/purchaseOrders",
            headers=h,
            json={
                "vendorNumber": vendor["number"],
                "vendorId": vendor["id"],
                "orderDate": "2024-03-01",
                "purchaseOrderLines": [
                    {"lineType": "Item", "itemId": item["id"], "quantity": 2, "directUnitCost": 10},
                    {
                        "lineType": "Item",
                        "itemId": item["id"],
                        "quantity": 1,
                        "directUnitCost": 5.5,
                    },
                ],
            },
        )
        order = created.json()
        lines_url = f"{base}/purchaseOrders({order['id']})/purchaseOrderLines"
        lines = (await read(client, lines_url, h))["value"]
        await client.post("/_sim/clock", json={"advance_seconds": 60})
        changed = await client.patch(
            f"{lines_url}({lines[0]['id']})",
            headers={**h, "If-Match": lines[0]["@odata.etag"]},
            json={"quantity": 3},
        )
        after = await read(
            client, f"{base}/purchaseOrders({order['id']})", h, **{"$expand": "purchaseOrderLines"}
        )
        bad_expand = await client.get(
            f"{base}/purchaseOrders", headers=h, params={"$expand": "vendorLines"}
        )
        bad_line = await client.post(
            f"{base}/purchaseOrders",
            headers=h,
            json={"vendorId": vendor["id"], "purchaseOrderLines": [{"quantity": "many"}]},
        )
        orders_after = await read(client, f"{base}/purchaseOrders", h)
    assert created.status_code == 201
    assert [line["sequence"] for line in order["purchaseOrderLines"]] == [10000, 20000]
    assert order["totalAmountExcludingTax"] == 25.5
    assert order["number"].startswith("PO")
    assert changed.status_code == 200
    assert after["totalAmountExcludingTax"] == 35.5
    assert after["lastModifiedDateTime"] > order["lastModifiedDateTime"]
    assert [line["quantity"] for line in after["purchaseOrderLines"]] == [3, 1]
    assert bad_expand.status_code == 400
    assert bad_line.status_code == 400
    # The refused deep insert left no header behind.
    assert len(orders_after["value"]) == 11


async def draft_invoice(client: httpx.AsyncClient, base: str, h: dict[str, str]) -> Any:
    vendor = (await read(client, f"{base}/vendors", h, **{"$top": "1"}))["value"][0]
    account = await read(client, f"{base}/accounts", h, **{"$filter": "directPosting eq true"})
    response = await client.post(
        f"{base}/purchaseInvoices",
        headers=h,
        json={
            "vendorId": vendor["id"],
            "vendorNumber": vendor["number"],
            "vendorInvoiceNumber": "INV-1",
            "invoiceDate": "2024-03-01",
            "purchaseInvoiceLines": [
                {
                    "lineType": "Account",
                    "accountId": account["value"][0]["id"],
                    "quantity": 1,
                    "unitCost": 99.0,
                }
            ],
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_posting_a_purchase_invoice_makes_it_read_only_and_once_only() -> None:
    app = make_app()
    async with client_for(app) as client:
        h = await bc_headers(client)
        base = company_url(app)
        invoice = await draft_invoice(client, base, h)
        url = f"{base}/purchaseInvoices({invoice['id']})"
        posted = await client.post(f"{url}/Microsoft.NAV.post", headers=h)
        after = await read(client, url, h)
        patched = await client.patch(
            url, headers={**h, "If-Match": "*"}, json={"vendorInvoiceNumber": "X"}
        )
        deleted = await client.delete(url, headers={**h, "If-Match": "*"})
        new_line = await client.post(
            f"{url}/purchaseInvoiceLines", headers=h, json={"quantity": 1, "unitCost": 1}
        )
        again = await client.post(f"{url}/Microsoft.NAV.post", headers=h)
        unknown = await client.post(
            f"{base}/purchaseInvoices(00000000-0000-0000-0000-000000000009)/Microsoft.NAV.post",
            headers=h,
        )
    assert invoice["status"] == "Draft"
    assert posted.status_code == 204
    assert after["status"] == "Open"
    for refused in (patched, deleted, new_line, again):
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "Application_DialogException"
    assert "already been posted" in again.json()["error"]["message"]
    assert unknown.status_code == 404


async def test_sales_invoice_post_and_receive_and_invoice_of_an_order() -> None:
    app = make_app()
    async with client_for(app) as client:
        h = await bc_headers(client)
        base = company_url(app)
        drafts = await read(client, f"{base}/salesInvoices", h, **{"$filter": "status eq 'Draft'"})
        sale = drafts["value"][0]
        sold = await client.post(
            f"{base}/salesInvoices({sale['id']})/Microsoft.NAV.post", headers=h
        )
        sale_after = await read(client, f"{base}/salesInvoices({sale['id']})", h)
        order = (await read(client, f"{base}/purchaseOrders", h))["value"][0]
        action = f"{base}/purchaseOrders({order['id']})/Microsoft.NAV.receiveAndInvoice"
        received = await client.post(action, headers=h)
        linked = await read(
            client,
            f"{base}/purchaseInvoices",
            h,
            **{"$filter": f"orderId eq {order['id']}", "$expand": "purchaseInvoiceLines"},
        )
        order_after = await read(
            client, f"{base}/purchaseOrders({order['id']})", h, **{"$expand": "purchaseOrderLines"}
        )
        twice = await client.post(action, headers=h)
    assert sold.status_code == 204
    assert sale_after["status"] == "Open"
    assert sale_after["remainingAmount"] == sale_after["totalAmountIncludingTax"]
    assert received.status_code == 204
    [invoice] = linked["value"]
    assert invoice["status"] == "Open"
    assert invoice["vendorId"] == order["vendorId"]
    assert invoice["totalAmountExcludingTax"] == order["totalAmountExcludingTax"]
    assert order_after["fullyReceived"] is True
    assert {
        line["invoicedQuantity"] == line["quantity"] for line in order_after["purchaseOrderLines"]
    } == {True}
    assert twice.status_code == 400


async def test_batch_runs_operations_with_relative_and_absolute_urls() -> None:
    app = make_app()
    async with client_for(app) as client:
        h = await bc_headers(client)
        company = company_url(app).removeprefix(BC_ROOT + "/")
        vendors = (await read(client, f"{BC_ROOT}/{company}/vendors", h, **{"$top": "1"}))["value"]
        response = await client.post(
            f"{BC_ROOT}/$batch",
            headers=h,
            json={
                "requests": [
                    {"id": "1", "method": "GET", "url": f"{company}/vendors?$top=2"},
                    {
                        "id": "2",
                        "method": "PATCH",
                        "url": f"http://sim.test{BC_ROOT}/{company}/vendors({vendors[0]['id']})",
                        "headers": {"Content-Type": "application/json", "If-Match": "*"},
                        "body": {"displayName": "Batched Name"},
                    },
                    {
                        "id": "3",
                        "method": "POST",
                        "url": f"{company}/vendors",
                        "headers": {"Content-Type": "application/json"},
                        "body": {"displayName": "Batch Vendor"},
                    },
                    {"id": "4", "method": "GET", "url": f"{company}/vendors(not-a-guid)"},
                ]
            },
        )
        too_many = await client.post(
            f"{BC_ROOT}/$batch",
            headers=h,
            json={
                "requests": [
                    {"id": str(i), "method": "GET", "url": "companies"} for i in range(101)
                ]
            },
        )
        calls = (await client.get("/_sim/calls")).json()["calls"]
    assert response.status_code == 200
    answers = {r["id"]: r for r in response.json()["responses"]}
    assert answers["1"]["status"] == 200 and len(answers["1"]["body"]["value"]) == 2
    assert answers["2"]["status"] == 200
    assert answers["2"]["body"]["displayName"] == "Batched Name"
    assert answers["3"]["status"] == 201 and answers["3"]["headers"]["location"]
    assert answers["4"]["status"] == 404
    assert too_many.status_code == 400
    batch_calls = [c for c in calls if c["route"] and c["route"].endswith("$batch")]
    assert sum(c["count"] for c in batch_calls) == 2  # a batch is one call


async def test_batch_with_snapshot_isolation_is_all_or_nothing() -> None:
    app = make_app()
    async with client_for(app) as client:
        h = await bc_headers(client)
        company = company_url(app).removeprefix(BC_ROOT + "/")
        before = await read(client, f"{BC_ROOT}/{company}/vendors", h)
        body = {
            "requests": [
                {"id": "a", "method": "POST", "url": f"{company}/vendors",
                 "body": {"displayName": "Kept?"}},
                {"id": "b", "method": "POST", "url": f"{company}/vendors",
                 "body": {"number": before["value"][0]["number"]}},
                {"id": "c", "method": "POST", "url": f"{company}/vendors",
                 "body": {"displayName": "Never run"}},
            ]
        }  # fmt: skip
        atomic = await client.post(
            f"{BC_ROOT}/$batch", headers={**h, "Isolation": "snapshot"}, json=body
        )
        after_atomic = await read(client, f"{BC_ROOT}/{company}/vendors", h)
        loose = await client.post(f"{BC_ROOT}/$batch", headers=h, json=body)
        after_loose = await read(client, f"{BC_ROOT}/{company}/vendors", h)
    statuses = {r["id"]: r["status"] for r in atomic.json()["responses"]}
    assert statuses == {"a": 424, "b": 400, "c": 424}
    assert len(after_atomic["value"]) == len(before["value"])
    assert [r["status"] for r in loose.json()["responses"]] == [201, 400, 201]
    assert len(after_loose["value"]) == len(before["value"]) + 2


async def test_an_atomicity_group_lands_as_a_whole_beside_operations_that_stand_alone() -> None:
    app = make_app()
    async with client_for(app) as client:
        h = await bc_headers(client)
        company = company_url(app).removeprefix(BC_ROOT + "/")
        before = await read(client, f"{BC_ROOT}/{company}/vendors", h)
        taken = before["value"][0]["number"]

        def post(op: str, group: str | None, **body: str) -> dict[str, object]:
            request = {"id": op, "method": "POST", "url": f"{company}/vendors", "body": body}
            return request | ({"atomicityGroup": group} if group else {})

        body = {"requests": [
            post("alone", None, displayName="Stands alone"),
            post("g1a", "g1", displayName="Group one A"), post("g1b", "g1", number=taken),
            post("g2a", "g2", displayName="Group two A"), post("g2b", "g2", displayName="B"),
            post("bad", None, number=taken),
        ]}  # fmt: skip
        response = await client.post(f"{BC_ROOT}/$batch", headers=h, json=body)
        after = await read(client, f"{BC_ROOT}/{company}/vendors", h)
        split = await client.post(f"{BC_ROOT}/$batch", headers=h, json={"requests": [
            post("x", "g"), post("y", None), post("z", "g")]})  # fmt: skip
        inside = (await client.get("/_sim/batch-operations")).json()
    statuses = {r["id"]: r["status"] for r in response.json()["responses"]}
    assert statuses == {"alone": 201, "g1a": 424, "g1b": 400, "g2a": 201, "g2b": 201, "bad": 400}
    names = {v["displayName"] for v in after["value"]} - {v["displayName"] for v in before["value"]}
    assert names == {"Stands alone", "Group two A", "B"}  # group one left nothing behind
    assert split.status_code == 400 and "adjacent" in split.text
    # Every operation of the first batch ran (the split one ran none), counted by route.
    assert inside["total"] == 6 and {o["method"] for o in inside["operations"]} == {"POST"}
    assert all(o["route"] and o["route"].endswith("/vendors") for o in inside["operations"])


async def test_metadata_describes_types_keys_navigation_and_actions() -> None:
    app = make_app()
    async with client_for(app) as client:
        response = await client.get(f"{BC_ROOT}/$metadata", headers=await bc_headers(client))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    schema = ET.fromstring(response.content).find(f".//{EDM}Schema")
    assert schema is not None and schema.get("Namespace") == "Microsoft.NAV"
    types = {t.get("Name"): t for t in schema.findall(f"{EDM}EntityType")}
    for definition in ENTITY_SETS:
        entity = types[definition.type_name]
        assert entity.find(f"{EDM}Key/{EDM}PropertyRef").get("Name") == "id"  # type: ignore[union-attr]
        properties = {p.get("Name"): p.get("Type") for p in entity.findall(f"{EDM}Property")}
        assert list(properties) == [*definition.fields, *definition.streams]
        assert all(properties[s] == "Edm.Stream" for s in definition.streams)
    order = types["purchaseOrder"]
    assert {p.get("Name"): p.get("Type") for p in order.findall(f"{EDM}Property")}[
        "orderDate"
    ] == "Edm.Date"
    navigation = [n.get("Name") for n in order.findall(f"{EDM}NavigationProperty")]
    assert navigation == ["purchaseOrderLines", "vendor"]
    actions = {
        (a.get("Name"), a.find(f"{EDM}Parameter").get("Type"))  # type: ignore[union-attr]
        for a in schema.findall(f"{EDM}Action")
    }
    assert ("post", "Microsoft.NAV.purchaseInvoice") in actions
    assert ("receiveAndInvoice", "Microsoft.NAV.purchaseOrder") in actions
    sets = {s.get("Name") for s in schema.findall(f"{EDM}EntityContainer/{EDM}EntitySet")}
    assert {"companies", "vendors", "purchaseInvoices", "subscriptions"} <= sets
