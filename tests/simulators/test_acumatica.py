"""The Acumatica simulator honours the documented OAuth, session and contract-based REST API.

Requests are shaped as the Acumatica integration guide shows them: a form-encoded password
grant with ``client_id={guid}@{tenant}``, ``/entity/auth/login`` with a JSON body, wrapped
``{"value": ...}`` fields on PUT, v3-style ``datetimeoffset'...'`` literals in ``$filter``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from simulators.acumatica import AcumaticaOptions, PushNotification, create_app
from simulators.acumatica.limits import LicenceLimits
from simulators.acumatica.store import AcumaticaStore
from simulators.faults import FaultSettings
from simulators.server import serve_in_thread
from tests.simulators.receivers import Receiver
from tests.simulators.support import client_for

CLIENT_ID = "6F0B7A52-3F1E-4C55-9D0A-5B2C1C7E9A10@MLC"
PASSWORD_GRANT = {
    "grant_type": "password",
    "client_id": CLIENT_ID,
    "client_secret": "mlc-secret",
    "username": "mlc.integration",
    "password": "mlc-password",
    "scope": "api offline_access",
}
LOGIN = {"name": "mlc.integration", "password": "mlc-password", "tenant": "MLC", "branch": "EAST"}
API = "/entity/Default/24.200.001"
GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NOT_LOGGED_IN = {"message": "You are not logged in."}


def make_app(**overrides: Any) -> Any:
    defaults: dict[str, Any] = {
        "vendor_count": 20,
        "bill_count": 12,
        "purchase_order_count": 6,
        "check_count": 3,
    }
    return create_app(AcumaticaOptions(**{**defaults, **overrides}))


def store_of(app: Any) -> AcumaticaStore:
    store: AcumaticaStore = app.state.sim
    return store


async def token(client: httpx.AsyncClient, **form: str) -> httpx.Response:
    return await client.post("/identity/connect/token", data={**PASSWORD_GRANT, **form})


async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    response = await token(client)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def v(record: dict[str, Any], name: str) -> Any:
    return record[name]["value"]


def wrapped(**values: Any) -> dict[str, Any]:
    return {k: {"value": x} for k, x in values.items()}


# -- OAuth ----------------------------------------------------------------------------------


async def test_password_grant_issues_access_and_refresh_tokens() -> None:
    async with client_for(make_app()) as client:
        full = await token(client)
        api_only = await token(client, scope="api")
    body = full.json()
    assert full.status_code == 200
    assert body["expires_in"] == 3600 and body["token_type"] == "Bearer"
    assert body["access_token"] and body["refresh_token"]
    assert api_only.status_code == 200 and "refresh_token" not in api_only.json()


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"client_id": "6F0B7A52-3F1E-4C55-9D0A-5B2C1C7E9A10"}, "invalid_client"),
        ({"client_id": "6F0B7A52-3F1E-4C55-9D0A-5B2C1C7E9A10@Other"}, "invalid_client"),
        ({"client_secret": "nope"}, "invalid_client"),
        ({"password": "nope"}, "invalid_grant"),
        ({"scope": "everything"}, "invalid_scope"),
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
    ],
)
async def test_token_refusals(form: dict[str, str], error: str) -> None:
    async with client_for(make_app()) as client:
        response = await token(client, **form)
    assert response.status_code == 400
    assert response.json()["error"] == error


async def test_refresh_rotates_and_the_chain_ends_after_30_days() -> None:
    app = make_app()
    clock = store_of(app).clock
    refresh_form = {k: PASSWORD_GRANT[k] for k in ("client_id", "client_secret")}
    async with client_for(app) as client:
        first = (await token(client)).json()
        clock.advance(3601)
        expired = await client.get(
            f"{API}/Vendor", headers={"Authorization": f"Bearer {first['access_token']}"}
        )
        clock.advance(29 * 86400 - 7200)
        second = await client.post(
            "/identity/connect/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": first["refresh_token"],
                **refresh_form,
            },
        )
        reused = await client.post(
            "/identity/connect/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": first["refresh_token"],
                **refresh_form,
            },
        )
        works = await client.get(
            f"{API}/Vendor", headers={"Authorization": f"Bearer {second.json()['access_token']}"}
        )
        clock.advance(86400 + 7200)
        ended = await client.post(
            "/identity/connect/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": second.json()["refresh_token"],
                **refresh_form,
            },
        )
    assert expired.status_code == 401 and expired.json() == NOT_LOGGED_IN
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert works.status_code == 200
    assert ended.status_code == 400 and ended.json()["error"] == "invalid_grant"


async def test_missing_or_bad_token_is_401_not_logged_in() -> None:
    async with client_for(make_app()) as client:
        missing = await client.get(f"{API}/Vendor")
        bad = await client.get(f"{API}/Vendor", headers={"Authorization": "Bearer nope"})
    for response in (missing, bad):
        assert response.status_code == 401 and response.json() == NOT_LOGGED_IN


# -- legacy sessions ------------------------------------------------------------------------


async def test_cookie_login_logout_and_licence_login_limit() -> None:
    app = make_app(max_api_sessions=2)
    transport = httpx.ASGITransport(app=app)
    base = "http://sim.test"
    async with (
        httpx.AsyncClient(transport=transport, base_url=base) as one,
        httpx.AsyncClient(transport=transport, base_url=base) as two,
        httpx.AsyncClient(transport=transport, base_url=base) as three,
    ):
        first = await one.post("/entity/auth/login", json=LOGIN)
        assert first.status_code == 204 and ".ASPXAUTH" in one.cookies
        assert one.cookies["UserBranch"] == "EAST"
        read = await one.get(f"{API}/Branch")
        assert (await two.post("/entity/auth/login", json=LOGIN)).status_code == 204
        limited = await three.post("/entity/auth/login", json=LOGIN)
        sessions = (await one.get("/_sim/sessions")).json()
        out = await one.post("/entity/auth/logout")
        after_logout = await one.get(f"{API}/Branch")
        retried = await three.post("/entity/auth/login", json=LOGIN)
    assert read.status_code == 200 and len(read.json()) == 3
    assert limited.status_code == 500
    assert limited.json()["exceptionMessage"] == "API Login Limit"
    assert len(sessions["sessions"]) == 2
    assert out.status_code == 204
    assert after_logout.status_code == 401 and after_logout.json() == NOT_LOGGED_IN
    assert retried.status_code == 204


async def test_sessions_idle_out_and_free_their_licence_seat() -> None:
    app = make_app(max_api_sessions=1, session_timeout_seconds=600)
    async with client_for(app) as client:
        await client.post("/entity/auth/login", json=LOGIN)
        store_of(app).clock.advance(300)
        active = await client.get(f"{API}/Branch")  # activity renews the session
        store_of(app).clock.advance(599)
        still = await client.get(f"{API}/Branch")
        store_of(app).clock.advance(601)
        idle = await client.get(f"{API}/Branch")
        again = await client.post("/entity/auth/login", json=LOGIN)
    assert active.status_code == still.status_code == 200
    assert idle.status_code == 401
    assert again.status_code == 204


async def test_login_with_bad_credentials() -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/entity/auth/login", json={**LOGIN, "password": "nope"})
    assert response.status_code == 500
    assert response.json()["exceptionMessage"] == "Invalid credentials. Please try again."


# -- endpoint versions ----------------------------------------------------------------------


async def test_served_versions_and_404_for_others() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        old = await client.get("/entity/Default/23.200.001/Vendor", headers=headers)
        new = await client.get("/entity/Default/24.200.001/Vendor", headers=headers)
        missing = await client.get("/entity/Default/22.200.001/Vendor", headers=headers)
        custom = await client.get("/entity/Custom/24.200.001/Vendor", headers=headers)
        entity = await client.get(f"{API}/Nothing", headers=headers)
        listing = await client.get("/entity", headers=headers)
    assert old.status_code == new.status_code == 200
    assert missing.status_code == 404
    assert "22.200.001" in missing.json()["exceptionMessage"]
    assert "Default/24.200.001" in missing.json()["exceptionMessage"]
    assert custom.status_code == 404 and entity.status_code == 404
    assert [e["version"] for e in listing.json()["endpoints"]] == ["23.200.001", "24.200.001"]


# -- reads ----------------------------------------------------------------------------------


async def test_records_wrap_every_value() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        vendors = (await client.get(f"{API}/Vendor", headers=headers)).json()
        bills = (await client.get(f"{API}/Bill", headers=headers)).json()
        expanded = (
            await client.get(f"{API}/Bill", headers=headers, params={"$expand": "Details"})
        ).json()
    first = vendors[0]
    assert GUID_RE.match(first["id"]) and first["rowNumber"] == 1 and first["custom"] == {}
    assert v(first, "VendorID") == "V000001"
    assert [r["rowNumber"] for r in vendors] == list(range(1, 21))
    for name in ("VendorName", "Status", "LastModifiedDateTime"):
        assert set(first[name]) == {"value"}
    assert set(bills[0]) >= {
        "Type",
        "ReferenceNbr",
        "Vendor",
        "VendorRef",
        "Date",
        "DueDate",
        "BranchID",
        "CurrencyID",
        "Amount",
        "Balance",
        "Status",
        "Hold",
        "LastModifiedDateTime",
    }
    assert "Details" not in bills[0]
    lines = expanded[0]["Details"]
    assert lines and all(GUID_RE.match(line["id"]) for line in lines)
    assert round(sum(v(line, "Amount") for line in lines), 2) == v(expanded[0], "Amount")


async def test_seed_is_deterministic_and_consistent() -> None:
    async with client_for(make_app()) as a, client_for(make_app()) as b:
        bills_a = (
            await a.get(f"{API}/Bill", headers=await auth(a), params={"$expand": "Details"})
        ).json()
        bills_b = (
            await b.get(f"{API}/Bill", headers=await auth(b), params={"$expand": "Details"})
        ).json()
        vendors = {
            v(r, "VendorID") for r in (await a.get(f"{API}/Vendor", headers=await auth(a))).json()
        }
        accounts = {
            v(r, "AccountCD") for r in (await a.get(f"{API}/Account", headers=await auth(a))).json()
        }
        subs = {
            v(r, "SubaccountCD")
            for r in (await a.get(f"{API}/Subaccount", headers=await auth(a))).json()
        }
        orders = (
            await a.get(
                f"{API}/PurchaseOrder", headers=await auth(a), params={"$expand": "Details"}
            )
        ).json()
    assert bills_a == bills_b
    assert {v(b, "Vendor") for b in bills_a} <= vendors
    assert {v(o, "VendorID") for o in orders} <= vendors
    for doc in [*bills_a, *orders]:
        for line in doc["Details"]:
            assert v(line, "Account") in accounts and v(line, "Subaccount") in subs


async def test_paging_with_top_skip_visits_every_record_once_on_shared_timestamps() -> None:
    app = make_app(vendor_count=23, records_per_timestamp=5)
    async with client_for(app) as client:
        headers = await auth(client)
        seen: list[str] = []
        skip = 0
        while True:
            page = (
                await client.get(
                    f"{API}/Vendor",
                    headers=headers,
                    params={
                        "$filter": "LastModifiedDateTime ge datetimeoffset'2024-01-01T00:00:00Z'",
                        "$top": "4",
                        "$skip": str(skip),
                    },
                )
            ).json()
            seen += [v(r, "VendorID") for r in page]
            if len(page) < 4:
                break
            assert [r["rowNumber"] for r in page] == list(range(skip + 1, skip + 5))
            skip += 4
        everyone = (await client.get(f"{API}/Vendor", headers=headers)).json()
    stamps = Counter(v(r, "LastModifiedDateTime") for r in everyone)
    assert max(stamps.values()) == 5  # pages cut through groups sharing a timestamp
    assert len(seen) == len(set(seen)) == 23


async def test_delta_filter_and_user_edits_bump_last_modified() -> None:
    app = make_app(records_per_timestamp=3)
    store = store_of(app)
    async with client_for(app) as client:
        headers = await auth(client)
        vendors = (await client.get(f"{API}/Vendor", headers=headers)).json()
        stamps = sorted({v(r, "LastModifiedDateTime") for r in vendors})
        assert Counter(v(r, "LastModifiedDateTime") for r in vendors)[stamps[0]] == 3
        cursor = stamps[2]
        later = (
            await client.get(
                f"{API}/Vendor",
                headers=headers,
                params={"$filter": f"LastModifiedDateTime gt datetimeoffset'{cursor}'"},
            )
        ).json()
        store.clock.advance(10)
        edited = await client.patch(
            f"/_sim/entities/Vendor/{vendors[4]['id']}", json={"VendorName": "Edited on screen"}
        )
        newest = max(stamps)
        delta = (
            await client.get(
                f"{API}/Vendor",
                headers=headers,
                params={"$filter": f"LastModifiedDateTime gt datetimeoffset'{newest}'"},
            )
        ).json()
    expected = {v(r, "VendorID") for r in vendors if v(r, "LastModifiedDateTime") > cursor}
    assert {v(r, "VendorID") for r in later} == expected and len(expected) == 11
    assert edited.status_code == 200
    assert [(v(r, "VendorID"), v(r, "VendorName")) for r in delta] == [
        (v(vendors[4], "VendorID"), "Edited on screen")
    ]


@pytest.mark.parametrize(
    ("expression", "check"),
    [
        ("Status eq 'Open'", lambda r: r["Status"] == "Open"),
        (
            "Status eq 'Open' and Amount gt 500",
            lambda r: r["Status"] == "Open" and r["Amount"] > 500,
        ),
        ("Hold eq true or Status eq 'Balanced'", lambda r: r["Hold"] or r["Status"] == "Balanced"),
        ("Amount le 1200", lambda r: r["Amount"] <= 1200),
        ("Date lt datetimeoffset'2024-01-07T00:00:00Z'", lambda r: r["Date"] < "2024-01-07"),
        ("Vendor ne 'V000001'", lambda r: r["Vendor"] != "V000001"),
    ],
)
async def test_filter_comparisons(expression: str, check: Any) -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        everything = (await client.get(f"{API}/Bill", headers=headers)).json()
        filtered = await client.get(f"{API}/Bill", headers=headers, params={"$filter": expression})
    assert filtered.status_code == 200, filtered.text
    plain = [
        {k: c["value"] for k, c in r.items() if isinstance(c, dict) and "value" in c}
        for r in everything
    ]
    expected = [r["ReferenceNbr"] for r in plain if check(r)]
    assert [v(r, "ReferenceNbr") for r in filtered.json()] == expected
    assert 0 < len(expected) < len(plain) or expression.startswith("Vendor ne")


@pytest.mark.parametrize(
    "params",
    [
        {"$filter": "Nope eq 1"},
        {"$filter": "Amount eq"},
        {"$select": "Nope"},
        {"$expand": "Nope"},
        {"$top": "x"},
    ],
)
async def test_bad_query_options_are_400(params: dict[str, str]) -> None:
    async with client_for(make_app()) as client:
        response = await client.get(f"{API}/Bill", headers=await auth(client), params=params)
    assert response.status_code == 400
    assert response.json()["exceptionMessage"]


async def test_select_and_get_by_key_or_id() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        selected = (
            await client.get(
                f"{API}/Vendor", headers=headers, params={"$select": "VendorID,VendorName"}
            )
        ).json()
        by_key = await client.get(f"{API}/Vendor/V000003", headers=headers)
        by_id = await client.get(f"{API}/Vendor/{by_key.json()['id']}", headers=headers)
        bill = await client.get(
            f"{API}/Bill/Bill/000002", headers=headers, params={"$expand": "Details"}
        )
        missing = await client.get(f"{API}/Vendor/V999999", headers=headers)
        wrong_shape = await client.get(f"{API}/Bill/000002", headers=headers)
    assert set(selected[0]) == {"id", "rowNumber", "VendorID", "VendorName", "custom", "_links"}
    assert v(by_key.json(), "VendorID") == "V000003" and by_id.json() == by_key.json()
    assert v(bill.json(), "ReferenceNbr") == "000002" and bill.json()["Details"]
    assert missing.status_code == 404 and missing.json()["exceptionMessage"]
    assert wrong_shape.status_code == 400


# -- writes ---------------------------------------------------------------------------------


async def test_put_is_an_upsert_on_key_fields_or_id() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        created = await client.put(
            f"{API}/Vendor", headers=headers, json=wrapped(VendorID="V000100", VendorName="First")
        )
        updated = await client.put(
            f"{API}/Vendor", headers=headers, json=wrapped(VendorID="V000100", VendorName="Second")
        )
        by_id = await client.put(
            f"{API}/Vendor",
            headers=headers,
            json={"id": created.json()["id"], **wrapped(Terms="15D")},
        )
        everyone = (await client.get(f"{API}/Vendor", headers=headers)).json()
    assert created.status_code == updated.status_code == by_id.status_code == 200
    assert created.json()["id"] == updated.json()["id"] == by_id.json()["id"]
    assert v(by_id.json(), "VendorName") == "Second" and v(by_id.json(), "Terms") == "15D"
    assert v(created.json(), "Status") == "Active"  # defaults as the screen sets them
    assert [v(r, "VendorID") for r in everyone].count("V000100") == 1 and len(everyone) == 21


async def test_if_match_star_is_update_only_and_if_none_match_insert_only() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        missing = await client.put(
            f"{API}/Vendor",
            headers={**headers, "If-Match": "*"},
            json=wrapped(VendorID="V000777", VendorName="Nobody"),
        )
        existing = await client.put(
            f"{API}/Vendor",
            headers={**headers, "If-Match": "*"},
            json=wrapped(VendorID="V000002", VendorName="Renamed"),
        )
        duplicate = await client.put(
            f"{API}/Vendor",
            headers={**headers, "If-None-Match": "*"},
            json=wrapped(VendorID="V000002", VendorName="Again"),
        )
        absent = await client.get(f"{API}/Vendor/V000777", headers=headers)
    assert missing.status_code == 412 and absent.status_code == 404
    assert existing.status_code == 200 and v(existing.json(), "VendorName") == "Renamed"
    assert duplicate.status_code == 412


async def test_validation_failures_are_422_with_field_errors_and_save_nothing() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        no_name = await client.put(
            f"{API}/Vendor", headers=headers, json=wrapped(VendorID="V000500")
        )
        bad_vendor = await client.put(
            f"{API}/Bill", headers=headers, json=wrapped(Vendor="V999999", VendorRef="X-1")
        )
        bad_line = await client.put(
            f"{API}/Bill",
            headers=headers,
            json={
                **wrapped(Vendor="V000001"),
                "Details": [wrapped(Qty=1, UnitCost=5, Account="99999")],
            },
        )
        bad_type = await client.put(
            f"{API}/Bill", headers=headers, json=wrapped(Vendor="V000001", Hold="maybe")
        )
        unwrapped = await client.put(f"{API}/Vendor", headers=headers, json={"VendorID": "V1"})
        bills = (await client.get(f"{API}/Bill", headers=headers)).json()
    assert no_name.status_code == 422
    assert "cannot be empty" in no_name.json()["VendorName"]["error"]
    assert "error" not in no_name.json()["VendorID"]
    assert bad_vendor.status_code == 422 and "V999999" in bad_vendor.json()["Vendor"]["error"]
    assert bad_line.status_code == 422
    assert "99999" in bad_line.json()["Details"][0]["Account"]["error"]
    assert bad_type.status_code == 422 and bad_type.json()["Hold"]["error"]
    assert unwrapped.status_code == 400
    assert len(bills) == 12


async def test_detail_lines_are_added_updated_and_deleted_by_id() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        bill = (
            await client.put(
                f"{API}/Bill",
                headers=headers,
                json={
                    **wrapped(Vendor="V000003", VendorRef="SN-1", Hold=True),
                    "Details": [
                        wrapped(Qty=1, UnitCost=10, Account="61000"),
                        wrapped(Qty=2, UnitCost=20, Account="62000"),
                    ],
                },
            )
        ).json()
        first, second = bill["Details"]
        changed = (
            await client.put(
                f"{API}/Bill",
                headers=headers,
                json={
                    "id": bill["id"],
                    "Details": [
                        {"id": first["id"], **wrapped(Qty=3)},
                        {"id": second["id"], "delete": True},
                        wrapped(Qty=1, UnitCost=1, Account="63000"),
                    ],
                },
            )
        ).json()
    assert v(bill, "Amount") == 50 and v(bill, "Status") == "On Hold"
    assert re.fullmatch(r"\d{6}", v(bill, "ReferenceNbr"))
    assert [v(line, "Amount") for line in changed["Details"]] == [30, 1]
    assert changed["Details"][0]["id"] == first["id"]
    assert v(changed, "Amount") == 31 == v(changed, "Balance")


async def test_release_bill_is_a_long_running_action_and_makes_the_bill_read_only() -> None:
    app = make_app(action_seconds=30)
    store = store_of(app)
    async with client_for(app) as client:
        headers = await auth(client)
        bill = (
            await client.put(
                f"{API}/Bill",
                headers=headers,
                json={**wrapped(Vendor="V000004"), "Details": [wrapped(Qty=1, UnitCost=80)]},
            )
        ).json()
        assert v(bill, "Status") == "Balanced"
        started = await client.post(
            f"{API}/Bill/ReleaseBill",
            headers=headers,
            json={
                "entity": {"Type": bill["Type"], "ReferenceNbr": bill["ReferenceNbr"]},
                "parameters": {},
            },
        )
        location = started.headers["Location"]
        running = await client.get(location, headers=headers)
        store.clock.advance(30)
        done = await client.get(location, headers=headers)
        released = (await client.get(f"{API}/Bill/{bill['id']}", headers=headers)).json()
        edit = await client.put(
            f"{API}/Bill", headers=headers, json={"id": bill["id"], **wrapped(VendorRef="late")}
        )
        line_edit = await client.put(
            f"{API}/Bill", headers=headers, json={"id": bill["id"], "Details": [wrapped(Qty=1)]}
        )
        same = await client.put(
            f"{API}/Bill", headers=headers, json={"id": bill["id"], **wrapped(Vendor="V000004")}
        )
        delete = await client.delete(f"{API}/Bill/{bill['id']}", headers=headers)
        again = await client.post(
            f"{API}/Bill/ReleaseBill", headers=headers, json={"entity": {"id": bill["id"]}}
        )
        store.clock.advance(30)
        failed = await client.get(again.headers["Location"], headers=headers)
    assert started.status_code == 202
    assert location.startswith(f"{API}/Bill/ReleaseBill/status/")
    assert running.status_code == 202 and done.status_code == 204
    assert v(released, "Status") == "Open" and v(released, "Balance") == 80
    assert edit.status_code == 422 and "cannot be edited" in edit.json()["VendorRef"]["error"]
    assert line_edit.status_code == 422
    assert same.status_code == 200  # sending unchanged values is not an edit
    assert delete.status_code == 422
    assert failed.status_code == 500 and "cannot be released" in failed.json()["exceptionMessage"]


async def test_release_check_pays_open_bills() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        bill = (
            await client.put(
                f"{API}/Bill",
                headers=headers,
                json={**wrapped(Vendor="V000005"), "Details": [wrapped(Qty=1, UnitCost=100)]},
            )
        ).json()
        await client.post(
            f"{API}/Bill/ReleaseBill", headers=headers, json={"entity": {"id": bill["id"]}}
        )
        check = (
            await client.put(
                f"{API}/Check",
                headers=headers,
                json={
                    **wrapped(Vendor="V000005", PaymentAmount=100),
                    "Details": [
                        wrapped(
                            DocType="Bill", ReferenceNbr=v(bill, "ReferenceNbr"), AmountPaid=100
                        )
                    ],
                },
            )
        ).json()
        released = await client.post(
            f"{API}/Check/ReleaseCheck", headers=headers, json={"entity": {"id": check["id"]}}
        )
        status = await client.get(released.headers["Location"], headers=headers)
        paid = (await client.get(f"{API}/Bill/{bill['id']}", headers=headers)).json()
        closed = (await client.get(f"{API}/Check/{check['id']}", headers=headers)).json()
        unknown = await client.post(f"{API}/Bill/Explode", headers=headers, json={"entity": {}})
    assert released.status_code == 202 and status.status_code == 204
    assert v(paid, "Status") == "Closed" and v(paid, "Balance") == 0
    assert v(closed, "Status") == "Closed"
    assert unknown.status_code == 404


# -- push notifications ---------------------------------------------------------------------


def push_app(receiver: Receiver, **overrides: Any) -> Any:
    notification = PushNotification(
        name="VendorChanges",
        entity="Vendor",
        url="https://receiver.test/acumatica/push",
        header_name="X-Push-Secret",
        header_value="shared-secret",
    )
    return make_app(
        push_notifications=(notification,),
        auto_dispatch=False,
        delivery_transport=receiver.transport(),
        **overrides,
    )


async def test_push_notifications_insert_update_delete_with_secret_header() -> None:
    receiver = Receiver()
    app = push_app(receiver)
    async with client_for(app) as client:
        headers = await auth(client)
        created = await client.put(
            f"{API}/Vendor", headers=headers, json=wrapped(VendorID="V000900", VendorName="Pushy")
        )
        await client.put(
            f"{API}/Vendor", headers=headers, json=wrapped(VendorID="V000900", VendorName="Pushier")
        )
        await client.delete(f"{API}/Vendor/V000900", headers=headers)
        await client.put(
            f"{API}/Branch", headers=headers, json=wrapped(BranchID="NORTH", BranchName="N")
        )
        sent = (await client.post("/_sim/deliveries/dispatch")).json()["sent"]
    assert created.status_code == 200 and sent == 3
    bodies = [call.json() for call in sorted(receiver.calls, key=lambda c: c.json()["TimeStamp"])]
    assert all(c.headers["x-push-secret"] == "shared-secret" for c in receiver.calls)
    insert, update, delete = bodies
    assert [r["VendorName"] for r in insert["Inserted"]] == ["Pushy"] and insert["Deleted"] == []
    assert [r["VendorName"] for r in update["Deleted"]] == ["Pushy"]
    assert [r["VendorName"] for r in update["Inserted"]] == ["Pushier"]
    assert delete["Inserted"] == [] and [r["VendorID"] for r in delete["Deleted"]] == ["V000900"]
    for body in bodies:
        assert body["Query"] == "VendorChanges" and body["CompanyId"] == "MLC"
        assert GUID_RE.match(body["Id"]) and isinstance(body["TimeStamp"], int)
        assert body["AdditionalInfo"] == {}
    assert insert["TimeStamp"] < update["TimeStamp"] <= delete["TimeStamp"]


async def test_push_notifications_stop_after_five_attempts() -> None:
    receiver = Receiver(*([500] * 10))
    app = push_app(receiver, push_retry_delays=(5, 10, 20, 40))
    store = store_of(app)
    async with client_for(app) as client:
        vendor = (await client.get("/_sim/entities/Vendor")).json()["value"][0]
        await client.patch(f"/_sim/entities/Vendor/{vendor['id']}", json={"Terms": "COD"})
        for delay in (0, 5, 10, 20, 40, 3600):
            store.clock.advance(delay)
            await client.post("/_sim/deliveries/dispatch")
        delivery = (await client.get("/_sim/deliveries")).json()["deliveries"][0]
        replayed = await client.post(f"/_sim/deliveries/{delivery['id']}/replay")
        await client.post("/_sim/deliveries/dispatch")
    assert len(delivery["attempts"]) == 5 and delivery["state"] == "failed"
    assert replayed.status_code == 202 and len(receiver.calls) == 6


async def test_push_notifications_can_be_defined_at_run_time() -> None:
    receiver = Receiver()
    app = make_app(auto_dispatch=False, delivery_transport=receiver.transport())
    async with client_for(app) as client:
        added = await client.post(
            "/_sim/push-notifications",
            json={"name": "Bills", "entity": "Bill", "url": "https://r.test/bills"},
        )
        bad = await client.post(
            "/_sim/push-notifications", json={"name": "X", "entity": "Nope", "url": "https://r"}
        )
        bill = (await client.get("/_sim/entities/Bill")).json()["value"][0]
        await client.patch(f"/_sim/entities/Bill/{bill['id']}", json={"Description": "edited"})
        await client.post("/_sim/deliveries/dispatch")
    assert added.status_code == 201 and bad.status_code == 400
    assert receiver.calls[0].headers["x-mlc-push-secret"] == "mlc-push-secret"
    assert receiver.calls[0].json()["Inserted"][0]["Description"] == "edited"


# -- licence limits and faults --------------------------------------------------------------


async def test_past_half_the_licence_rate_requests_wait_and_a_full_queue_is_429() -> None:
    app = make_app(licence=LicenceLimits(requests_per_minute=4, max_queue=2))
    store = store_of(app)
    async with client_for(app) as client:
        headers = await auth(client)
        quick = [await client.get(f"{API}/Branch", headers=headers) for _ in range(2)]
        tasks = [
            asyncio.create_task(client.get(f"{API}/Branch", headers=headers)) for _ in range(4)
        ]
        await asyncio.sleep(0.2)
        finished = [t.result() for t in tasks if t.done()]
        licence = (await client.get("/_sim/licence")).json()
        store.clock.advance(120)
        delayed = await asyncio.gather(*[t for t in tasks if not t.done()])
    assert [r.status_code for r in quick] == [200, 200]
    assert [r.status_code for r in finished] == [429, 429]
    assert all(int(r.headers["Retry-After"]) >= 1 for r in finished)
    assert licence["waiting"] == 2 and licence["rejected"] == 2
    assert [r.status_code for r in delayed] == [200, 200]


async def test_injected_faults_use_the_acumatica_error_shape() -> None:
    app = make_app(faults=FaultSettings(error_rate=1.0, error_status=503, seed=1))
    async with client_for(app) as client:
        response = await client.get(f"{API}/Vendor")
        await client.put("/_sim/faults", json={"error_rate": 0.0})
        calm = await client.get(f"{API}/Vendor")
    assert response.status_code == 503 and response.json()["exceptionMessage"]
    assert calm.status_code == 401


# -- over real HTTP -------------------------------------------------------------------------


def test_serves_over_real_http_with_push_to_a_real_receiver() -> None:
    receiver = Receiver(502)
    receiver_url, stop_receiver = serve_in_thread(receiver.app)
    notification = PushNotification("Bills", "Bill", f"{receiver_url}/push")
    app = make_app(push_notifications=(notification,), retry_scale=0.01)
    base_url, stop = serve_in_thread(app)
    try:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            access = client.post("/identity/connect/token", data=PASSWORD_GRANT).json()[
                "access_token"
            ]
            headers = {"Authorization": f"Bearer {access}"}
            bills = client.get(
                f"{API}/Bill", headers=headers, params={"$top": "5", "$skip": "5"}
            ).json()
            created = client.put(
                f"{API}/Bill",
                headers=headers,
                json={**wrapped(Vendor="V000002"), "Details": [wrapped(Qty=1, UnitCost=9)]},
            ).json()
            deadline = time.monotonic() + 10
            while len(receiver.calls) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            login = client.post("/entity/auth/login", json=LOGIN)
            cookie_read = client.get(f"{API}/Branch")
            client.post("/entity/auth/logout")
    finally:
        stop()
        stop_receiver()
    assert [r["rowNumber"] for r in bills] == [6, 7, 8, 9, 10]
    assert [json.loads(c.body)["Inserted"][0]["ReferenceNbr"] for c in receiver.calls] == [
        created["ReferenceNbr"]["value"]
    ] * 2
    assert login.status_code == 204 and cookie_read.status_code == 200


async def test_inspection_create_delete_and_call_counts() -> None:
    app = make_app()
    async with client_for(app) as client:
        headers = await auth(client)
        created = await client.post(
            "/_sim/entities/Bill",
            json={
                "Vendor": "V000002",
                "Details": [{"Qty": 2, "UnitCost": 7.5, "Account": "61000"}],
            },
        )
        bill = created.json()
        read = await client.get(f"{API}/Bill/{bill['id']}", headers=headers)
        deleted = await client.delete(f"/_sim/entities/Bill/{bill['id']}")
        gone = await client.get(f"{API}/Bill/{bill['id']}", headers=headers)
        calls = (await client.get("/_sim/calls")).json()["calls"]
    assert created.status_code == 201
    assert bill["Amount"] == 15 and bill["Status"] == "Balanced" and bill["ReferenceNbr"]
    assert read.status_code == 200 and v(read.json(), "Amount") == 15
    assert deleted.status_code == 204 and gone.status_code == 404
    counted = {(c["method"], c["route"]): c["count"] for c in calls}
    assert counted[("GET", "/entity/{endpoint}/{version}/{entity}/{keys:path}")] == 2
    assert counted[("POST", "/identity/connect/token")] == 1


async def test_put_without_the_default_key_part_matches_the_existing_record() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        before = (await client.get(f"{API}/Bill/Bill/000003", headers=headers)).json()
        hold = v(before, "Status") in ("Open", "Closed")
        response = await client.put(
            f"{API}/Bill", headers=headers, json=wrapped(ReferenceNbr="000003", VendorRef="R-3")
        )
        count = len((await client.get(f"{API}/Bill", headers=headers)).json())
    assert count == 12  # matched, never a second 000003
    assert response.status_code == (422 if hold else 200)
    assert response.json()["id"] == before["id"]


async def test_put_by_id_onto_another_records_key_is_refused() -> None:
    async with client_for(make_app()) as client:
        headers = await auth(client)
        first = (await client.get(f"{API}/Vendor/V000001", headers=headers)).json()
        response = await client.put(
            f"{API}/Vendor",
            headers=headers,
            json={"id": first["id"], **wrapped(VendorID="V000002")},
        )
        still = await client.get(f"{API}/Vendor/V000001", headers=headers)
    assert response.status_code == 400 and "V000002" in response.json()["exceptionMessage"]
    assert still.status_code == 200
