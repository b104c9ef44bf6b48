"""The ServiceNow simulator honours the documented OAuth, Table API and Import Set contracts."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from simulators.server import serve_in_thread
from simulators.servicenow import ServiceNowOptions, create_app
from simulators.servicenow.store import ServiceNowStore

USER, PASSWORD = "mlc.integration", "mlc-password"
CLIENT = {"client_id": "mlc-client", "client_secret": "mlc-secret"}
STAGING = "sn_fcms_intg_imp_supplier"
SYS_ID_RE = re.compile(r"^[0-9a-f]{32}$")
STAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
UNAUTHENTICATED = {
    "error": {
        "message": "User Not Authenticated",
        "detail": "Required to provide Auth information",
    },
    "status": "failure",
}


def make_app(**overrides: Any) -> Any:
    return create_app(ServiceNowOptions(**overrides))


def store_of(app: Any) -> ServiceNowStore:
    store: ServiceNowStore = app.state.sim
    return store


@asynccontextmanager
async def client_for(
    app: Any, auth: tuple[str, str] | None = (USER, PASSWORD)
) -> AsyncIterator[httpx.AsyncClient]:
    """A client sending Basic auth by default (``auth=None`` for OAuth-only clients)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="https://dev-sim.service-now.test", auth=auth
    ) as client:
        yield client


def supplier(number: str, name: str, **extra: str) -> dict[str, str]:
    return {
        "u_vendor_number": number,
        "u_name": name,
        "u_street": "1 Main St",
        "u_city": "Atlanta",
        "u_state": "GA",
        "u_zip": "30301",
        "u_country": "US",
        "u_phone": "4045550100",
        "u_email": "ap@example.com",
        "u_tax_id": "12-3456789",
        "u_currency": "USD",
        "u_active": "true",
        **extra,
    }


# -- OAuth ----------------------------------------------------------------------------------


async def test_password_grant_and_refresh() -> None:
    async with client_for(make_app()) as client:
        issued = await client.post(
            "/oauth_token.do",
            data={"grant_type": "password", **CLIENT, "username": USER, "password": PASSWORD},
        )
        body = issued.json()
        refreshed = await client.post(
            "/oauth_token.do",
            data={"grant_type": "refresh_token", **CLIENT, "refresh_token": body["refresh_token"]},
        )
        bearer = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        used = await client.get("/api/now/table/sys_user", headers=bearer)
    assert issued.status_code == 200
    assert set(body) == {"access_token", "refresh_token", "scope", "token_type", "expires_in"}
    assert body["scope"] == "useraccount"
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1799
    assert refreshed.status_code == 200
    assert refreshed.json()["access_token"] != body["access_token"]
    assert used.status_code == 200


async def test_client_credentials_grant_when_enabled_and_disabled() -> None:
    form = {"grant_type": "client_credentials", **CLIENT}
    async with client_for(make_app()) as client:
        enabled = await client.post("/oauth_token.do", data=form)
    async with client_for(make_app(client_credentials_enabled=False)) as client:
        disabled = await client.post("/oauth_token.do", data=form)
    assert enabled.status_code == 200
    assert "refresh_token" not in enabled.json()
    assert enabled.json()["expires_in"] == 1799
    assert disabled.status_code == 401
    assert disabled.json()["error"] == "access_denied"
    assert disabled.json()["error_description"]


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password", **CLIENT, "username": USER, "password": "wrong"},
        {"grant_type": "client_credentials", "client_id": "mlc-client", "client_secret": "x"},
        {"grant_type": "refresh_token", **CLIENT, "refresh_token": "unknown"},
    ],
)
async def test_token_endpoint_refuses_bad_credentials(form: dict[str, str]) -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/oauth_token.do", data=form)
    assert response.status_code == 401
    assert "error" in response.json()


async def test_bad_or_expired_auth_is_401_with_servicenow_body() -> None:
    app = make_app(access_token_lifetime_seconds=30)
    async with client_for(app, auth=None) as client:
        token = (
            await client.post(
                "/oauth_token.do", data={"grant_type": "client_credentials", **CLIENT}
            )
        ).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        fresh = await client.get("/api/now/table/core_company", headers=bearer)
        store_of(app).clock.advance(31)
        expired = await client.get("/api/now/table/core_company", headers=bearer)
        wrong_basic = await client.get("/api/now/table/core_company", auth=(USER, "nope"))
        nothing = await client.get("/api/now/table/core_company")
        basic = await client.get("/api/now/table/core_company", auth=(USER, PASSWORD))
    assert fresh.status_code == 200
    assert basic.status_code == 200
    for response in (expired, wrong_basic, nothing):
        assert response.status_code == 401
        assert response.json() == UNAUTHENTICATED


# -- Table API reads ------------------------------------------------------------------------


async def test_records_are_all_strings_with_system_fields() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/api/now/table/core_company")
    assert response.status_code == 200
    records = response.json()["result"]
    assert len(records) == 10
    assert response.headers["X-Total-Count"] == "10"
    for record in records:
        assert all(isinstance(v, str) for v in record.values())
        assert SYS_ID_RE.match(record["sys_id"])
        assert STAMP_RE.match(record["sys_created_on"])
        assert STAMP_RE.match(record["sys_updated_on"])
        assert record["sys_mod_count"] == "0"
        assert record["vendor"] == "false"


async def test_seed_is_deterministic() -> None:
    assert store_of(make_app()).snapshot("core_company") == store_of(make_app()).snapshot(
        "core_company"
    )
    assert store_of(make_app(seed=1)).snapshot("core_company") != store_of(
        make_app(seed=2)
    ).snapshot("core_company")


def parse_links(header: str) -> dict[str, str]:
    links = {}
    for part in header.split(","):
        url, rel = re.fullmatch(r'\s*<([^>]*)>;rel="(\w+)"\s*', part).groups()  # type: ignore[union-attr]
        links[rel] = url
    return links


async def test_link_header_next_pages_cover_all_rows_once() -> None:
    app = make_app(company_count=11)
    async with client_for(app) as client:
        params = {"sysparm_query": "ORDERBYname", "sysparm_limit": "3"}
        response = await client.get("/api/now/table/core_company", params=params)
        first_links = parse_links(response.headers["Link"])
        names: list[str] = []
        pages = 0
        while True:
            assert response.status_code == 200
            assert response.headers["X-Total-Count"] == "11"
            names += [r["name"] for r in response.json()["result"]]
            pages += 1
            links = parse_links(response.headers["Link"])
            if "next" not in links:
                break
            response = await client.get(links["next"])
        last = await client.get(links["last"])
    assert set(first_links) == {"first", "next", "last"}
    assert "sysparm_query=ORDERBYname" in first_links["next"]
    assert "sysparm_offset=3" in first_links["next"]
    assert "sysparm_offset=9" in first_links["last"]
    assert set(links) == {"first", "prev", "last"}
    assert pages == 4
    assert len(names) == 11
    assert names == sorted(names, key=str.casefold)
    assert [r["name"] for r in last.json()["result"]] == names[9:]


async def test_encoded_query_orderby_and_or() -> None:
    app = make_app(company_count=12)
    rows = store_of(app).snapshot("core_company")
    async with client_for(app) as client:
        response = await client.get(
            "/api/now/table/core_company",
            params={
                "sysparm_query": "customer=true^ORmanufacturer=true^ORDERBYDESCname^ORDERBYsys_id"
            },
        )
        delta = await client.get(
            "/api/now/table/core_company",
            params={
                "sysparm_query": (
                    f"sys_updated_on>={rows[5]['sys_updated_on']}^ORDERBYsys_updated_on^ORDERBYsys_id"
                )
            },
        )
    got = [r["sys_id"] for r in response.json()["result"]]
    wanted = [r for r in rows if r["customer"] == "true" or r["manufacturer"] == "true"]
    wanted.sort(key=lambda r: r["sys_id"])
    wanted.sort(key=lambda r: r["name"].casefold(), reverse=True)
    assert got == [r["sys_id"] for r in wanted]
    assert 0 < len(got) < 12
    delta_rows = delta.json()["result"]
    assert [r["sys_id"] for r in delta_rows] == [
        r["sys_id"] for r in sorted(rows[5:], key=lambda r: (r["sys_updated_on"], r["sys_id"]))
    ]


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("nameLIKEinc", lambda r: "inc" in r["name"].lower()),
        ("nameNOTLIKEinc", lambda r: "inc" not in r["name"].lower()),
        ("nameSTARTSWITHf", lambda r: r["name"].lower().startswith("f")),
        ("nameENDSWITHllc", lambda r: r["name"].lower().endswith("llc")),
        ("cityINatlanta,Chicago", lambda r: r["city"] in ("Atlanta", "Chicago")),
        ("city!=Atlanta", lambda r: r["city"] != "Atlanta"),
        ("faxISEMPTY", lambda r: True),
        ("faxISNOTEMPTY", lambda r: False),
        ("nosuchfield=1^customer=true", lambda r: r["customer"] == "true"),
        ("sys_mod_count>=0^sys_mod_count<1", lambda r: True),
        (
            "customer=true^manufacturer=true^NQcity=Denver",
            lambda r: (r["customer"] == r["manufacturer"] == "true") or r["city"] == "Denver",
        ),
    ],
)
async def test_encoded_query_operators(query: str, predicate: Any) -> None:
    app = make_app(company_count=20)
    rows = store_of(app).snapshot("core_company")
    async with client_for(app) as client:
        response = await client.get("/api/now/table/core_company", params={"sysparm_query": query})
    assert response.status_code == 200
    assert [r["sys_id"] for r in response.json()["result"]] == [
        r["sys_id"] for r in rows if predicate(r)
    ]


async def test_invalid_query_can_return_no_rows() -> None:
    async with client_for(make_app(invalid_query_returns_no_rows=True)) as client:
        response = await client.get(
            "/api/now/table/core_company", params={"sysparm_query": "nosuchfield=1"}
        )
    assert response.json()["result"] == []


async def test_fields_reference_links_and_dot_walk() -> None:
    async with client_for(make_app()) as client:
        linked = await client.get(
            "/api/now/table/sys_user_has_role",
            params={"sysparm_query": f"user.user_name={USER}", "sysparm_fields": "user,role"},
        )
        plain = await client.get(
            "/api/now/table/sys_user_has_role",
            params={
                "sysparm_query": f"user.user_name={USER}",
                "sysparm_fields": "user,role.name,nosuch",
                "sysparm_exclude_reference_link": "true",
            },
        )
        display = await client.get(
            "/api/now/table/sys_user_has_role",
            params={"sysparm_fields": "role", "sysparm_display_value": "true"},
        )
    roles = linked.json()["result"]
    assert len(roles) == 4
    assert set(roles[0]) == {"user", "role"}
    assert roles[0]["user"]["link"].startswith(
        "https://dev-sim.service-now.test/api/now/table/sys_user/"
    )
    assert SYS_ID_RE.match(roles[0]["user"]["value"])
    rows = plain.json()["result"]
    assert set(rows[0]) == {"user", "role.name"}
    assert isinstance(rows[0]["user"], str)
    assert {r["role.name"] for r in rows} == {
        "rest_service",
        "import_transformer",
        "sn_ap_apm.accounts_payable_specialist",
        "procurement_user",
    }
    assert {r["role"]["display_value"] for r in display.json()["result"]} == {
        r["role.name"] for r in rows
    }


# -- Table API writes -----------------------------------------------------------------------


async def test_table_crud() -> None:
    app = make_app()
    async with client_for(app) as client:
        created = await client.post(
            "/api/now/table/core_company",
            json={"name": "Contoso Parts", "vendor": True, "unknown_field": "dropped"},
        )
        sys_id = created.json()["result"]["sys_id"]
        url = f"/api/now/table/core_company/{sys_id}"
        fetched = await client.get(url)
        store_of(app).clock.advance(5)
        patched = await client.patch(url, json={"city": "Austin"})
        unchanged = await client.patch(url, json={"city": "Austin"})
        put = await client.put(url, json={"phone": "5125550100"})
        deleted = await client.delete(url)
        gone = await client.get(url)
        missing_update = await client.patch(url, json={"city": "x"})
        bad_body = await client.post(
            "/api/now/table/core_company",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
    assert created.status_code == 201
    record = created.json()["result"]
    assert created.headers["Location"].endswith(url)
    assert record["vendor"] == "true" and record["name"] == "Contoso Parts"
    assert "unknown_field" not in record
    assert record["sys_created_by"] == USER
    assert fetched.json()["result"] == record
    assert patched.status_code == 200
    assert patched.json()["result"]["sys_mod_count"] == "1"
    assert patched.json()["result"]["sys_updated_on"] > record["sys_updated_on"]
    assert unchanged.json()["result"]["sys_mod_count"] == "1"
    assert put.json()["result"]["sys_mod_count"] == "2"
    assert put.json()["result"]["city"] == "Austin"
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert gone.json()["status"] == "failure"
    assert gone.json()["error"]["message"] == "No Record found"
    assert missing_update.status_code == 404
    assert bad_body.status_code == 400


async def test_unknown_table_error_shape() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/api/now/table/u_nope")
        posted = await client.post("/api/now/table/u_nope", json={})
        imported = await client.post("/api/now/import/u_nope", json={})
    assert response.status_code == 400
    assert response.json() == {
        "error": {"message": "Invalid table u_nope", "detail": None},
        "status": "failure",
    }
    assert posted.status_code == imported.status_code == 400


# -- Import Set API -------------------------------------------------------------------------


async def test_import_insert_update_ignore() -> None:
    app = make_app()
    async with client_for(app) as client:
        inserted = await client.post(f"/api/now/import/{STAGING}", json=supplier("V00010", "Acme"))
        ignored = await client.post(f"/api/now/import/{STAGING}", json=supplier("V00010", "Acme"))
        updated = await client.post(
            f"/api/now/import/{STAGING}", json=supplier("V00010", "Acme Holdings")
        )
        counts = (await client.get("/_sim/tables/core_company/counts")).json()
    assert inserted.status_code == 201
    body = inserted.json()
    assert body["import_set"] == "ISET0010001"
    assert body["staging_table"] == STAGING
    [result] = body["result"]
    assert result["status"] == "inserted"
    assert result["table"] == "core_company"
    assert result["transform_map"]
    assert result["display_name"] == "name" and result["display_value"] == "Acme"
    assert SYS_ID_RE.match(result["sys_id"])
    assert result["record_link"].endswith(f"/api/now/table/core_company/{result['sys_id']}")
    [again] = ignored.json()["result"]
    assert again["status"] == "ignored"
    assert again["status_message"] == "No field values changed"
    assert again["sys_id"] == result["sys_id"]
    [changed] = updated.json()["result"]
    assert changed["status"] == "updated" and changed["sys_id"] == result["sys_id"]
    assert changed["display_value"] == "Acme Holdings"
    target = store_of(app).tables["core_company"].get(result["sys_id"])
    assert target["vendor"] == "true"  # set on insert by the transform map
    assert target["u_vendor_number"] == "V00010" and target["zip"] == "30301"
    assert counts["field"] == "u_vendor_number"
    assert counts["counts"] == {"v00010": 1} and counts["duplicates"] == {}


async def test_import_coalesce_is_case_insensitive() -> None:
    app = make_app(preexisting_vendor_numbers=("v00020",))
    before = len(store_of(app).snapshot("core_company"))
    async with client_for(app) as client:
        response = await client.post(
            f"/api/now/import/{STAGING}", json=supplier("V00020", "Fabrikam Inc.")
        )
        counts = (
            await client.get(
                "/_sim/tables/core_company/counts", params={"field": "u_vendor_number"}
            )
        ).json()
    [result] = response.json()["result"]
    assert result["status"] == "updated"
    assert len(store_of(app).snapshot("core_company")) == before
    assert counts["counts"] == {"v00020": 1}


async def test_import_error_when_coalesce_or_mandatory_value_is_empty() -> None:
    async with client_for(make_app()) as client:
        no_key = await client.post(f"/api/now/import/{STAGING}", json=supplier("", "Nameless Key"))
        no_name = await client.post(f"/api/now/import/{STAGING}", json=supplier("V00990", ""))
    [key_result] = no_key.json()["result"]
    assert key_result["status"] == "error"
    assert "u_vendor_number" in key_result["error_message"]
    [name_result] = no_name.json()["result"]
    assert name_result["status"] == "error"
    assert "name" in name_result["error_message"]


async def test_insert_multiple_and_row_status() -> None:
    app = make_app()
    async with client_for(app) as client:
        await client.post(f"/api/now/import/{STAGING}", json=supplier("V00010", "Acme"))
        batch = await client.post(
            f"/api/now/import/{STAGING}/insertMultiple",
            json={
                "records": [
                    # Same vendor in another case: matched, and the key's case is a change.
                    supplier("v00010", "Acme"),
                    supplier("V00030", "Tailspin"),
                    supplier("V00040", "Northwind"),
                    supplier("", "Broken"),
                ]
            },
        )
        ids = batch.json()
        rows = await client.get(
            f"/api/now/table/{STAGING}",
            params={
                "sysparm_query": f"sys_import_set={ids['import_set_id']}^ORDERBYsys_import_row",
                "sysparm_exclude_reference_link": "true",
            },
        )
        statuses = [
            (await client.get(f"/api/now/import/{STAGING}/{row['sys_id']}")).json()
            for row in rows.json()["result"]
        ]
        counts = (await client.get("/_sim/tables/core_company/counts")).json()
        missing = await client.get(f"/api/now/import/{STAGING}/{'0' * 32}")
        calls = (await client.get("/_sim/calls")).json()["calls"]
    assert batch.status_code == 201
    assert set(ids) == {"import_set_id", "multi_import_set_id"}
    assert SYS_ID_RE.match(ids["import_set_id"]) and SYS_ID_RE.match(ids["multi_import_set_id"])
    staged = rows.json()["result"]
    assert [r["sys_import_state"] for r in staged] == ["updated", "inserted", "inserted", "error"]
    assert [s["result"][0]["status"] for s in statuses] == [
        "updated",
        "inserted",
        "inserted",
        "error",
    ]
    assert statuses[0]["import_set"] == "ISET0010002"
    assert statuses[0]["staging_table"] == STAGING
    assert counts["counts"] == {"v00010": 1, "v00030": 1, "v00040": 1}
    assert missing.status_code == 404
    by_route = {(c["method"], c["route"]): c["count"] for c in calls}
    assert by_route[("POST", "/api/now/import/{staging_table}")] == 1
    assert by_route[("POST", "/api/now/import/{staging_table}/insertMultiple")] == 1
    assert by_route[("GET", "/api/now/import/{staging_table}/{sys_id}")] == 5


async def test_insert_multiple_refuses_bad_body() -> None:
    async with client_for(make_app()) as client:
        response = await client.post(f"/api/now/import/{STAGING}/insertMultiple", json={"rows": []})
    assert response.status_code == 400
    assert response.json()["status"] == "failure"


# -- inspection API -------------------------------------------------------------------------


async def test_inspection_routes() -> None:
    app = make_app()
    async with client_for(app) as client:
        await client.get("/api/now/table/core_company")
        tables = (await client.get("/_sim/tables")).json()["tables"]
        rows = (await client.get("/_sim/tables/core_company")).json()["result"]
        created = await client.post("/_sim/tables/core_company", json={"name": "UI Co"})
        sys_id = created.json()["result"]["sys_id"]
        store_of(app).clock.advance(2)
        edited = await client.patch(f"/_sim/tables/core_company/{sys_id}", json={"city": "Miami"})
        fetched = await client.get(f"/_sim/tables/core_company/{sys_id}")
        deleted = await client.delete(f"/_sim/tables/core_company/{sys_id}")
        maps = (await client.get("/_sim/transform-maps")).json()["transform_maps"]
        log = (await client.get("/_sim/requests")).json()["requests"]
        await client.delete("/_sim/requests")
        after = (await client.get("/_sim/requests")).json()["requests"]
    assert {"name": "core_company", "count": 10} in tables
    assert {"name": STAGING, "count": 0} in tables
    assert len(rows) == 10
    assert created.status_code == 201 and created.json()["result"]["sys_created_by"] == "admin"
    assert edited.json()["result"]["sys_mod_count"] == "1"
    assert edited.json()["result"]["sys_updated_on"] > created.json()["result"]["sys_updated_on"]
    assert fetched.json()["result"]["city"] == "Miami"
    assert deleted.status_code == 204
    assert maps[0]["source_table"] == STAGING and maps[0]["coalesce"] == ["u_vendor_number"]
    assert [(e["method"], e["route"], e["status"]) for e in log] == [
        ("GET", "/api/now/table/{table}", 200)
    ]
    assert after == []


# -- over real HTTP -------------------------------------------------------------------------


def test_serves_over_real_http_in_a_thread() -> None:
    app = make_app()
    base_url, stop = serve_in_thread(app)
    try:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            token = client.post(
                "/oauth_token.do", data={"grant_type": "client_credentials", **CLIENT}
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            result = client.post(
                f"/api/now/import/{STAGING}", headers=headers, json=supplier("V00070", "Coho")
            ).json()["result"][0]
            page = client.get(
                "/api/now/table/core_company",
                headers=headers,
                params={"sysparm_query": "vendor=true", "sysparm_limit": "1"},
            )
    finally:
        stop()
    assert result["status"] == "inserted"
    assert result["record_link"].startswith(base_url)
    assert page.headers["X-Total-Count"] == "1"
    assert page.json()["result"][0]["u_vendor_number"] == "V00070"


async def test_import_rejects_an_unknown_currency_until_it_exists() -> None:
    app = make_app()
    async with client_for(app) as client:
        refused = await client.post(
            f"/api/now/import/{STAGING}", json=supplier("V00020", "Zeta", u_currency="XTS")
        )
        created = await client.post("/_sim/tables/fx_currency", json={"code": "XTS"})
        accepted = await client.post(
            f"/api/now/import/{STAGING}", json=supplier("V00020", "Zeta", u_currency="XTS")
        )
    [error] = refused.json()["result"]
    assert error["status"] == "error"
    assert "fx_currency" in error["error_message"] and "XTS" in error["error_message"]
    assert created.status_code in (200, 201)
    [ok] = accepted.json()["result"]
    assert ok["status"] == "inserted"
    currency = store_of(app).tables["core_company"].get(ok["sys_id"])["u_currency"]
    assert currency == created.json()["result"]["sys_id"]  # a reference, resolved by code
