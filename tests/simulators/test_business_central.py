"""The Business Central simulator honours the documented API v2.0 contract.

Requests are shaped as Microsoft documents them (form-encoded token request, OData query
options, If-Match), so a client that passes here should pass against the real service.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from simulators.business_central import BusinessCentralOptions, create_app
from simulators.business_central.store import BusinessCentralStore
from simulators.server import serve_in_thread

SCOPE = "https://api.businesscentral.dynamics.com/.default"
TENANT = "sim-tenant"
ENV = "production"
VENDOR_FIELDS = [
    "@odata.etag",
    "id",
    "number",
    "displayName",
    "addressLine1",
    "addressLine2",
    "city",
    "state",
    "country",
    "postalCode",
    "phoneNumber",
    "email",
    "taxRegistrationNumber",
    "currencyCode",
    "paymentTermsId",
    "blocked",
    "balance",
    "lastModifiedDateTime",
]
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def make_app(**overrides: Any) -> Any:
    return create_app(BusinessCentralOptions(**{"vendor_count": 25, **overrides}))


def store_of(app: Any) -> BusinessCentralStore:
    store: BusinessCentralStore = app.state.sim
    return store


@asynccontextmanager
async def client_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bc.test") as client:
        yield client


async def get_token(client: httpx.AsyncClient, **form: str) -> httpx.Response:
    data = {
        "grant_type": "client_credentials",
        "client_id": "mlc-client",
        "client_secret": "mlc-secret",
        "scope": SCOPE,
        **form,
    }
    return await client.post(f"/{TENANT}/oauth2/v2.0/token", data=data)


async def auth_headers(client: httpx.AsyncClient) -> dict[str, str]:
    response = await get_token(client)
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def api_root(tenant: bool = True) -> str:
    return f"/v2.0/{TENANT}/{ENV}/api/v2.0" if tenant else f"/v2.0/{ENV}/api/v2.0"


def vendors_url(app: Any, tenant: bool = True) -> str:
    company_id = store_of(app).default_company_id()
    return f"{api_root(tenant)}/companies({company_id})/vendors"


async def read_all(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], params: dict[str, str] | None
) -> tuple[list[dict[str, Any]], int]:
    """Follow @odata.nextLink to the end; returns (records, pages)."""
    records: list[dict[str, Any]] = []
    pages = 0
    response = await client.get(url, headers=headers, params=params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        records += body["value"]
        pages += 1
        if "@odata.nextLink" not in body:
            return records, pages
        response = await client.get(body["@odata.nextLink"], headers=headers)


# -- token endpoint -------------------------------------------------------------------------


async def test_token_endpoint_issues_bearer_token() -> None:
    async with client_for(make_app()) as client:
        response = await get_token(client)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599
    assert body["ext_expires_in"] == 3599
    assert body["access_token"].count(".") == 2  # JWT-shaped, like Entra's
    assert "refresh_token" not in body


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "someone-else"}, 401, "invalid_client"),
        ({"scope": "https://graph.microsoft.com/.default"}, 400, "invalid_scope"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
    ],
)
async def test_token_endpoint_refuses_bad_requests(
    form: dict[str, str], status: int, error: str
) -> None:
    async with client_for(make_app()) as client:
        response = await get_token(client, **form)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"]


async def test_token_endpoint_accepts_tenant_guid_and_refuses_unknown_tenant() -> None:
    app = make_app()
    tenant_id = store_of(app).options.tenant_id
    form = {
        "grant_type": "client_credentials",
        "client_id": "mlc-client",
        "client_secret": "mlc-secret",
        "scope": SCOPE,
    }
    async with client_for(app) as client:
        ok = await client.post(f"/{tenant_id}/oauth2/v2.0/token", data=form)
        unknown = await client.post("/other-tenant/oauth2/v2.0/token", data=form)
    assert ok.status_code == 200
    assert unknown.status_code == 400


async def test_api_refuses_missing_unknown_and_expired_tokens() -> None:
    app = make_app(token_lifetime_seconds=60)
    async with client_for(app) as client:
        url = f"{api_root()}/companies"
        missing = await client.get(url)
        unknown = await client.get(url, headers={"Authorization": "Bearer not-a-token"})
        headers = await auth_headers(client)
        fresh = await client.get(url, headers=headers)
        store_of(app).clock.advance(61)
        expired = await client.get(url, headers=headers)
        renewed = await client.get(url, headers=await auth_headers(client))
    assert fresh.status_code == 200
    assert renewed.status_code == 200
    for response in (missing, unknown, expired):
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["code"] == "Authentication_InvalidCredentials"
        assert re.search(r"CorrelationId:\s+[0-9a-f-]{36}", error["message"])


# -- companies ------------------------------------------------------------------------------


async def test_companies_with_and_without_tenant_segment() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth_headers(client)
        with_tenant = await client.get(f"{api_root()}/companies", headers=headers)
        without = await client.get(f"{api_root(tenant=False)}/companies", headers=headers)
        filtered = await client.get(
            f"{api_root()}/companies",
            headers=headers,
            params={"$filter": "name eq 'CRONUS USA, Inc.'"},
        )
        company_id = with_tenant.json()["value"][0]["id"]
        single = await client.get(f"{api_root()}/companies({company_id})", headers=headers)
        wrong_env = await client.get("/v2.0/sandbox/api/v2.0/companies", headers=headers)
    assert with_tenant.status_code == without.status_code == 200
    companies = with_tenant.json()["value"]
    assert [c["name"] for c in companies] == ["CRONUS USA, Inc."]
    assert GUID_RE.match(company_id)
    assert without.json()["value"] == companies
    assert filtered.json()["value"] == companies
    assert with_tenant.json()["@odata.context"].endswith("/api/v2.0/$metadata#companies")
    assert single.json()["id"] == company_id
    assert wrong_env.status_code == 404


async def test_company_id_is_deterministic() -> None:
    assert store_of(make_app()).default_company_id() == store_of(make_app()).default_company_id()


# -- vendor reads ---------------------------------------------------------------------------


async def test_vendor_shape_and_seed() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth_headers(client)
        response = await client.get(vendors_url(app), headers=headers)
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    body = response.json()
    assert body["@odata.context"].endswith(
        f"$metadata#companies({store_of(app).default_company_id()})/vendors"
    )
    assert "@odata.nextLink" not in body  # default page size is 20,000
    vendors = body["value"]
    assert len(vendors) == 25
    for vendor in vendors:
        assert list(vendor) == VENDOR_FIELDS
        assert GUID_RE.match(vendor["id"])
        assert TIMESTAMP_RE.match(vendor["lastModifiedDateTime"])
        etag = vendor["@odata.etag"]
        assert etag.startswith('W/"JzQ0O') and etag.endswith('"')
        assert base64.b64decode(etag[3:-1]).decode().startswith("'44;")
        assert vendor["blocked"] in (" ", "Payment", "All")
        assert isinstance(vendor["balance"], float)
    numbers = sorted(v["number"] for v in vendors)
    assert numbers[0] == "V00010" and numbers[-1] == "V00250"
    ids = [v["id"] for v in vendors]
    assert ids == sorted(ids)  # stable order by id
    stamps = Counter(v["lastModifiedDateTime"] for v in vendors)
    assert max(stamps.values()) >= 3  # ties exist on purpose


async def test_seed_is_deterministic_per_seed() -> None:
    def snapshot(app: Any) -> list[Any]:
        store = store_of(app)
        return [r.values for r in store.rows(store.default_company_id(), "vendors")]

    assert snapshot(make_app(seed=7)) == snapshot(make_app(seed=7))
    assert snapshot(make_app(seed=7)) != snapshot(make_app(seed=8))


async def test_paging_visits_every_record_once_despite_shared_timestamps() -> None:
    app = make_app(vendor_count=23, records_per_timestamp=4)
    async with client_for(app) as client:
        headers = {**(await auth_headers(client)), "Prefer": "odata.maxpagesize=5"}
        first = await client.get(vendors_url(app), headers=headers)
        records, pages = await read_all(client, vendors_url(app), headers, None)
    assert first.headers["Preference-Applied"] == "odata.maxpagesize=5"
    assert len(first.json()["value"]) == 5
    next_link = first.json()["@odata.nextLink"]
    assert next_link.startswith("http://bc.test/v2.0/") and "$skiptoken=" in next_link
    assert pages == 5
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == 23
    assert ids == sorted(ids)
    assert max(Counter(r["lastModifiedDateTime"] for r in records).values()) == 4


async def test_paging_is_stable_when_records_change_between_pages() -> None:
    app = make_app(vendor_count=12)
    store = store_of(app)
    async with client_for(app) as client:
        headers = {**(await auth_headers(client)), "Prefer": "odata.maxpagesize=4"}
        first = await client.get(vendors_url(app), headers=headers)
        seen = [r["id"] for r in first.json()["value"]]
        # A user edits an already-read vendor and a new vendor appears mid-read.
        store.update(store.default_company_id(), "vendors", seen[0], {"city": "Elsewhere"})
        created = store.insert(store.default_company_id(), "vendors", {"displayName": "New"})
        link = first.json()["@odata.nextLink"]
        while link:
            body = (await client.get(link, headers=headers)).json()
            seen += [r["id"] for r in body["value"]]
            link = body.get("@odata.nextLink")
    assert len(seen) == len(set(seen))
    expected = {r.values["id"] for r in store.rows(store.default_company_id(), "vendors")}
    assert set(seen) == expected or set(seen) == expected - {created.values["id"]}


async def test_delta_filter_returns_exactly_the_later_records_across_pages() -> None:
    app = make_app(vendor_count=30, records_per_timestamp=3)
    store = store_of(app)
    rows = [r.values for r in store.rows(store.default_company_id(), "vendors")]
    stamps = sorted({r["lastModifiedDateTime"] for r in rows})
    cursor = stamps[4]  # a timestamp shared by three records
    literal = cursor.strftime("%Y-%m-%dT%H:%M:%S.") + f"{cursor.microsecond // 1000:03d}Z"
    expected = {r["id"] for r in rows if r["lastModifiedDateTime"] > cursor}
    async with client_for(app) as client:
        headers = {**(await auth_headers(client)), "Prefer": "odata.maxpagesize=4"}
        params = {"$filter": f"lastModifiedDateTime gt {literal}"}
        first = await client.get(vendors_url(app), headers=headers, params=params)
        records, _ = await read_all(client, vendors_url(app), headers, params)
        ge_records, _ = await read_all(
            client, vendors_url(app), headers, {"$filter": f"lastModifiedDateTime ge {literal}"}
        )
    assert "$filter=lastModifiedDateTime" in first.json()["@odata.nextLink"]
    assert {r["id"] for r in records} == expected
    assert len(records) == len(expected) == 30 - 15
    assert len(ge_records) == len(expected) + 3


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("number eq 'V00030'", ["V00030"]),
        ("number ne 'V00030' and number le 'V00050'", ["V00010", "V00020", "V00040", "V00050"]),
        ("(number eq 'V00010' or number eq 'V00020') and balance ge 0", ["V00010", "V00020"]),
        ("number eq 'V00010' or (number gt 'V00090' and number lt 'V00110')", ["V00010", "V00100"]),
        ("startswith(number,'V001')", ["V00100", "V00110", "V00120", "V00130"]),
        ("not (number ge 'V00030')", ["V00010", "V00020"]),
    ],
)
async def test_filter_grammar(expression: str, expected: list[str]) -> None:
    app = make_app(vendor_count=13)
    async with client_for(app) as client:
        response = await client.get(
            vendors_url(app), headers=await auth_headers(client), params={"$filter": expression}
        )
    assert response.status_code == 200, response.text
    assert sorted(v["number"] for v in response.json()["value"]) == expected


async def test_filter_on_guid_bool_like_enum_and_number_literals() -> None:
    app = make_app()
    store = store_of(app)
    rows = [r.values for r in store.rows(store.default_company_id(), "vendors")]
    target = rows[3]
    async with client_for(app) as client:
        headers = await auth_headers(client)

        async def numbers(expression: str) -> list[str]:
            response = await client.get(
                vendors_url(app), headers=headers, params={"$filter": expression}
            )
            assert response.status_code == 200, response.text
            return sorted(v["number"] for v in response.json()["value"])

        by_id = await numbers(f"id eq {target['id'].upper()}")
        by_balance = await numbers(f"balance gt {target['balance'] - 0.001}")
        blocked = await numbers("blocked eq 'All' or blocked eq 'Payment'")
    assert by_id == [target["number"]]
    assert by_balance == sorted(r["number"] for r in rows if r["balance"] >= target["balance"])
    assert blocked == sorted(r["number"] for r in rows if r["blocked"] != " ")


@pytest.mark.parametrize(
    "expression",
    [
        "nosuchfield eq 'x'",
        "lastModifiedDateTime gt '2024-01-01T00:00:00Z'",  # quoted datetime is a type error
        "id eq 'not-a-guid'",
        "number eq",
        "(number eq 'V00010'",
    ],
)
async def test_bad_filters_are_400_bad_request(expression: str) -> None:
    app = make_app()
    async with client_for(app) as client:
        response = await client.get(
            vendors_url(app), headers=await auth_headers(client), params={"$filter": expression}
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


async def test_top_skip_select_count_and_orderby() -> None:
    app = make_app(vendor_count=12)
    async with client_for(app) as client:
        headers = await auth_headers(client)
        everything = (await client.get(vendors_url(app), headers=headers)).json()["value"]
        paged_headers = {**headers, "Prefer": "odata.maxpagesize=2"}
        top, pages = await read_all(client, vendors_url(app), paged_headers, {"$top": "5"})
        skipped = await client.get(vendors_url(app), headers=headers, params={"$skip": "10"})
        selected = await client.get(
            vendors_url(app), headers=headers, params={"$select": "number,displayName"}
        )
        counted = await client.get(
            vendors_url(app), headers=headers, params={"$count": "true", "$top": "1"}
        )
        ordered, _ = await read_all(
            client, vendors_url(app), paged_headers, {"$orderby": "lastModifiedDateTime desc"}
        )
        bad_select = await client.get(
            vendors_url(app), headers=headers, params={"$select": "number,nope"}
        )
    assert [r["id"] for r in top] == [r["id"] for r in everything[:5]]
    assert pages == 3
    assert [r["id"] for r in skipped.json()["value"]] == [r["id"] for r in everything[10:]]
    first = selected.json()["value"][0]
    assert list(first) == ["@odata.etag", "number", "displayName"]
    assert counted.json()["@odata.count"] == 12
    assert len(counted.json()["value"]) == 1
    stamps = [(r["lastModifiedDateTime"]) for r in ordered]
    assert stamps == sorted(stamps, reverse=True)
    assert len({r["id"] for r in ordered}) == 12
    assert bad_select.status_code == 400


async def test_page_size_over_20000_is_413() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = {**(await auth_headers(client)), "Prefer": "odata.maxpagesize=20001"}
        response = await client.get(vendors_url(app), headers=headers)
    assert response.status_code == 413


async def test_configured_server_page_size_applies_without_prefer() -> None:
    app = make_app(page_size=10)
    async with client_for(app) as client:
        headers = await auth_headers(client)
        first = await client.get(vendors_url(app), headers=headers)
        records, pages = await read_all(client, vendors_url(app), headers, None)
    assert len(first.json()["value"]) == 10
    assert "Preference-Applied" not in first.headers
    assert pages == 3 and len(records) == 25


# -- vendor writes --------------------------------------------------------------------------


async def test_get_single_vendor_and_unknown_id() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth_headers(client)
        listed = (await client.get(vendors_url(app), headers=headers)).json()["value"][0]
        single = await client.get(f"{vendors_url(app)}({listed['id']})", headers=headers)
        no_tenant = await client.get(
            f"{vendors_url(app, tenant=False)}({listed['id']})", headers=headers
        )
        missing = await client.get(
            f"{vendors_url(app)}(00000000-0000-0000-0000-000000000001)", headers=headers
        )
    assert single.status_code == 200
    body = single.json()
    assert body["@odata.context"].endswith("/vendors/$entity")
    assert {k: v for k, v in body.items() if k != "@odata.context"} == listed
    assert single.headers["ETag"] == listed["@odata.etag"]
    assert no_tenant.status_code == 200
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "BadRequest_NotFound"


async def test_post_creates_vendor_and_refuses_duplicate_number() -> None:
    app = make_app()
    new_vendor = {"number": "V90000", "displayName": "Fabrikam Test", "city": "Seattle"}
    async with client_for(app) as client:
        headers = await auth_headers(client)
        created = await client.post(vendors_url(app), headers=headers, json=new_vendor)
        duplicate = await client.post(vendors_url(app), headers=headers, json=new_vendor)
        numbered = await client.post(
            vendors_url(app), headers=headers, json={"displayName": "No Number"}
        )
        unknown_property = await client.post(
            vendors_url(app), headers=headers, json={"displayName": "x", "colour": "red"}
        )
        bad_enum = await client.post(
            vendors_url(app), headers=headers, json={"displayName": "x", "blocked": "Maybe"}
        )
    assert created.status_code == 201
    body = created.json()
    assert body["number"] == "V90000" and body["city"] == "Seattle"
    assert GUID_RE.match(body["id"])
    assert TIMESTAMP_RE.match(body["lastModifiedDateTime"])
    assert body["@odata.etag"].startswith('W/"')
    assert created.headers["Location"].endswith(f"/vendors({body['id']})")
    assert duplicate.status_code == 400
    assert duplicate.json()["error"]["code"] == "Internal_EntityWithSameKeyExists"
    assert numbered.status_code == 201 and numbered.json()["number"] == "V90010"
    assert unknown_property.status_code == 400
    assert bad_enum.status_code == 400


async def test_patch_needs_if_match_and_refuses_stale_etag() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth_headers(client)
        vendor = (await client.get(vendors_url(app), headers=headers)).json()["value"][0]
        url = f"{vendors_url(app)}({vendor['id']})"
        missing = await client.patch(url, headers=headers, json={"displayName": "A"})
        updated = await client.patch(
            url,
            headers={**headers, "If-Match": vendor["@odata.etag"]},
            json={"displayName": "Renamed Ltd."},
        )
        stale = await client.patch(
            url,
            headers={**headers, "If-Match": vendor["@odata.etag"]},
            json={"displayName": "Lost Update"},
        )
        star = await client.patch(
            url, headers={**headers, "If-Match": "*"}, json={"city": "Denver"}
        )
        reread = await client.get(url, headers=headers)
    assert missing.status_code == 400
    assert updated.status_code == 200
    body = updated.json()
    assert body["displayName"] == "Renamed Ltd."
    assert body["@odata.etag"] != vendor["@odata.etag"]
    assert body["lastModifiedDateTime"] > vendor["lastModifiedDateTime"]
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "Request_EntityChanged"
    assert star.status_code == 200 and star.json()["city"] == "Denver"
    assert reread.json()["displayName"] == "Renamed Ltd."
    assert reread.json()["@odata.etag"] == star.json()["@odata.etag"]


async def test_delete_then_not_found() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth_headers(client)
        vendor = (await client.get(vendors_url(app), headers=headers)).json()["value"][0]
        url = f"{vendors_url(app)}({vendor['id']})"
        no_match = await client.delete(url, headers=headers)
        deleted = await client.delete(url, headers={**headers, "If-Match": vendor["@odata.etag"]})
        again = await client.get(url, headers=headers)
    assert no_match.status_code == 400
    assert deleted.status_code == 204
    assert again.status_code == 404


# -- inspection API -------------------------------------------------------------------------


async def test_inspection_edit_bumps_timestamp_and_shows_up_in_delta() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth_headers(client)
        listing = (await client.get("/_sim/entities/vendors")).json()["value"]
        newest = max(v["lastModifiedDateTime"] for v in listing)
        target = listing[5]
        edited = await client.patch(
            f"/_sim/entities/vendors/{target['id']}", json={"phoneNumber": "2065550100"}
        )
        delta = await client.get(
            vendors_url(app),
            headers=headers,
            params={"$filter": f"lastModifiedDateTime gt {newest}"},
        )
        created = await client.post("/_sim/entities/vendors", json={"displayName": "UI Vendor"})
        forced = await client.patch(
            f"/_sim/entities/vendors/{created.json()['id']}",
            json={"lastModifiedDateTime": target["lastModifiedDateTime"]},
        )
        removed = await client.delete(f"/_sim/entities/vendors/{created.json()['id']}")
        companies = await client.get("/_sim/companies")
    assert edited.status_code == 200
    assert edited.json()["@odata.etag"] != target["@odata.etag"]
    assert edited.json()["lastModifiedDateTime"] > newest
    assert [v["id"] for v in delta.json()["value"]] == [target["id"]]
    assert created.status_code == 201 and created.json()["number"] == "V00260"
    assert forced.json()["lastModifiedDateTime"] == target["lastModifiedDateTime"]
    assert removed.status_code == 204
    assert companies.json()["value"][0]["name"] == "CRONUS USA, Inc."


async def test_request_log_and_call_counts() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth_headers(client)
        await client.get(vendors_url(app), headers=headers)
        await client.get(vendors_url(app, tenant=False), headers=headers)
        await client.get(vendors_url(app), headers=headers, params={"$top": "1"})
        await client.get(vendors_url(app))  # 401, still logged
        await client.get("/_sim/entities/vendors")  # inspection calls are not logged
        log = (await client.get("/_sim/requests")).json()["requests"]
        calls = (await client.get("/_sim/calls")).json()["calls"]
        tenantless = store_of(app).requests.count(
            "GET", "/v2.0/{environment}/api/v2.0/companies({company_id})/vendors"
        )
        reset = await client.delete("/_sim/requests")
        after = (await client.get("/_sim/requests")).json()["requests"]
    template = "/v2.0/{tenant}/{environment}/api/v2.0/companies({company_id})/vendors"
    assert len(log) == 5
    assert log[0]["method"] == "POST" and log[0]["route"] == "/{tenant}/oauth2/v2.0/token"
    assert log[3]["query"] == "%24top=1"
    assert [e["status"] for e in log] == [200, 200, 200, 200, 401]
    assert {"method": "GET", "route": template, "count": 3} in calls
    assert tenantless == 1
    assert reset.status_code == 204 and after == []


# -- over real HTTP -------------------------------------------------------------------------


def test_serves_over_real_http_in_a_thread() -> None:
    app = make_app(vendor_count=9)
    base_url, stop = serve_in_thread(app)
    try:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            token = client.post(
                f"/{TENANT}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "mlc-client",
                    "client_secret": "mlc-secret",
                    "scope": SCOPE,
                },
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}", "Prefer": "odata.maxpagesize=4"}
            body = client.get(vendors_url(app), headers=headers).json()
            ids = [v["id"] for v in body["value"]]
            while "@odata.nextLink" in body:
                assert body["@odata.nextLink"].startswith(base_url)
                body = client.get(body["@odata.nextLink"], headers=headers).json()
                ids += [v["id"] for v in body["value"]]
    finally:
        stop()
    stop()  # idempotent
    assert len(ids) == len(set(ids)) == 9
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/_sim/calls", timeout=2)


async def test_clock_route_expires_tokens_for_out_of_process_tests() -> None:
    app = make_app(token_lifetime_seconds=10)
    async with client_for(app) as client:
        headers = await auth_headers(client)
        before = await client.get(f"{api_root()}/companies", headers=headers)
        moved = await client.post("/_sim/clock", json={"advance_seconds": 11})
        after = await client.get(f"{api_root()}/companies", headers=headers)
        bad = await client.post("/_sim/clock", content=b"nope")
        revoked = await client.post("/_sim/tokens/revoke")
    assert before.status_code == 200
    assert moved.status_code == 200 and "now" in moved.json()
    assert after.status_code == 401
    assert bad.status_code == 400
    assert revoked.json() == {"revoked": 1}
