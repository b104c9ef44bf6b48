"""ServiceTitan as a target: canonical items into the pricebook, against the simulator over
real HTTP. Services and materials by item type, upsert by code, blocked items inactive, what
the pricebook refuses, and the connection's manners (token cached, app key and tenant on every
call, 429s waited out)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ml_connector.api.errors import InvalidFields
from ml_connector.clients.servicetitan import ServiceTitanClient
from ml_connector.secrets import SecretStore
from simulators import servicetitan
from sinks.base import SinkRecord
from sinks.servicetitan import Placement, ServiceTitanTarget
from tests.clients.conftest import Serve
from tests.clients.connections import st_connection
from tests.clients.simlog import requests, storm

TENANT = "1234567"


def _item(number: str, kind: str, price: str, cost: str = "10", **extra: Any) -> dict[str, Any]:
    return {"number": number, "name": f"Item {number}", "type": kind,
            "unit_price": Decimal(price), "unit_cost": Decimal(cost), "unit_of_measure": "PCS",
            "blocked": False, **extra}  # fmt: skip


def _record(item: dict[str, Any] | None, op: str = "u", entity: str = "item",
            before: dict[str, Any] | None = None) -> SinkRecord:  # fmt: skip
    event = {"after": item, "before": before, "op": op,
             "source": {"connection": "bc", "entity": entity, "native_id": "id-1"}}  # fmt: skip
    return SinkRecord(f"mlc.sink.st.{entity}", 0, 0, "id-1", entity, event)


def _entries(url: str, resource: str) -> dict[str, dict[str, Any]]:
    rows = httpx.get(f"{url}/_sim/entities/{resource}").json()["value"]
    return {r["code"]: r for r in rows}


@pytest.fixture
def url(serve: Serve) -> str:
    options = servicetitan.ServiceTitanOptions(code_max_length=20)
    return serve(servicetitan.create_app(options))


@pytest.fixture
def target(url: str, secrets: SecretStore) -> ServiceTitanTarget:
    return ServiceTitanTarget(ServiceTitanClient(st_connection(url), secrets))


async def test_items_land_as_services_or_materials_by_type(
    url: str, target: ServiceTitanTarget
) -> None:
    outcomes = [
        await target.write(_record(_item("SVC-TUNEUP", "Service", "129.00"))),
        await target.write(_record(_item("1000", "Inventory", "45.50", "25.25"))),
        await target.write(_record(_item("1010", "Non-Inventory", "12", "7.5"))),
        await target.write(_record(_item("1020", "Inventory", "99", blocked=True))),
    ]
    assert [o.status for o in outcomes] == ["inserted"] * 4
    services, materials = _entries(url, "services"), _entries(url, "materials")
    tuneup = services["SVC-TUNEUP"]
    assert (tuneup["displayName"], tuneup["price"], tuneup["active"]) == (
        "Item SVC-TUNEUP",
        129.0,
        True,
    )
    assert "1000" not in services and "SVC-TUNEUP" not in materials
    part = materials["1000"]
    assert (part["price"], part["cost"], part["unitOfMeasure"], part["isInventory"]) == (
        45.5, 25.25, "PCS", True)  # fmt: skip
    assert materials["1010"]["isInventory"] is False
    assert materials["1020"]["active"] is False  # blocked in BC: inactive, not gone
    assert outcomes[1].target_id == str(part["id"])
    await target.aclose()


async def test_a_second_write_updates_the_same_entry_and_a_replay_adds_nothing(
    url: str, target: ServiceTitanTarget
) -> None:
    first = await target.write(_record(_item("1000", "Inventory", "45.50")))
    again = await target.write(_record(_item("1000", "Inventory", "45.50")))
    assert again.status == "ignored" and again.target_id == first.target_id
    # What the pricebook manager wrote for technicians stays through the ERP's edits.
    shown = {"description": "Run capacitor, dual, 45/5 MFD", "memberPrice": 40.0}
    r = httpx.patch(f"{url}/_sim/entities/materials/{first.target_id}", json=shown)
    assert r.status_code == 200, r.text
    edited = await target.write(_record(_item("1000", "Inventory", "52.00", name="Capacitor")))
    assert edited.status == "updated" and edited.target_id == first.target_id
    entry = _entries(url, "materials")["1000"]
    assert (entry["price"], entry["displayName"]) == (52.0, "Capacitor")
    assert (entry["description"], entry["memberPrice"]) == (shown["description"], 40.0)
    # Deleted in BC: the entry stays, inactive.
    # Deleted in BC: the entry stays as it was, inactive (a delete names only the item).
    gone = await target.write(_record(None, "d", before={"number": "1000", "name": "1000"}))
    assert gone.status == "updated" and gone.target_id == first.target_id
    kept = _entries(url, "materials")["1000"]
    assert (kept["active"], kept["price"], kept["displayName"]) == (False, 52.0, "Capacitor")
    again = await target.write(_record(None, "d", before={"number": "1000", "name": "1000"}))
    assert again.status == "ignored"
    codes = Counter(r["code"] for r in httpx.get(f"{url}/_sim/entities/materials").json()["value"])
    assert codes["1000"] == 1
    await target.aclose()


async def test_an_item_changing_type_moves_list_and_retires_its_old_entry(
    url: str, target: ServiceTitanTarget
) -> None:
    await target.write(_record(_item("2000", "Service", "80")))
    moved = await target.write(_record(_item("2000", "Inventory", "85")))
    assert moved.status == "inserted"
    assert _entries(url, "services")["2000"]["active"] is False
    assert _entries(url, "materials")["2000"]["active"] is True
    back = await target.write(_record(_item("2000", "Service", "90")))
    assert back.status == "updated"
    assert _entries(url, "services")["2000"]["active"] is True
    assert _entries(url, "materials")["2000"]["active"] is False
    await target.aclose()


async def test_what_servicetitan_does_not_take_is_refused_with_the_reason(
    url: str, target: ServiceTitanTarget
) -> None:
    account = await target.write(_record({"number": "4000", "name": "Revenue"},
                                         entity="gl_account"))  # fmt: skip
    assert not account.ok and "no chart-of-accounts API" in str(account.error)
    bill = await target.write(_record({"number": "B1"}, entity="purchase_invoice"))
    assert not bill.ok and "AP bills are read-only" in str(bill.error)
    # A flow's table that places no Non-Inventory items: refused, naming the key to fix.
    placed = Placement({"Service": "service"}, "flows.bc-servicetitan.pricebook_types")
    narrow = ServiceTitanTarget(target.client, {"bc": placed})
    refused = await narrow.write(_record(_item("3000", "Non-Inventory", "5")))
    assert not refused.ok and "flows.bc-servicetitan.pricebook_types" in str(refused.error)
    # The pricebook's own refusal names the field; nothing was written for the item.
    with pytest.raises(InvalidFields) as info:
        await target.write(_record(_item("CODE-LONGER-THAN-20-CHARS", "Service", "5")))
    assert "code" in info.value.fields
    assert "maximum length of 20" in str(info.value)
    assert "CODE-LONGER-THAN-20-CHARS" not in _entries(url, "services")
    assert set(_entries(url, "services")) == {f"SVC-00{i}" for i in range(1, 6)}
    await target.aclose()


async def test_token_cached_app_key_and_tenant_on_every_call_429s_waited_out(
    url: str, target: ServiceTitanTarget
) -> None:
    first = await target.write(_record(_item("3999", "Inventory", "10")))
    storm(url, 1.5)  # from now every call answers 429 with Retry-After for a while
    outcomes = [await target.write(_record(_item(f"{4000 + i}", "Inventory", "10")))
                for i in range(12)]  # fmt: skip
    assert [o.status for o in [first, *outcomes]] == ["inserted"] * 13
    assert len(_entries(url, "materials")) == 6 + 13  # the seed's and ours, each once
    log = [e for e in requests(url) if "/v2/tenant/" in e["path"]]
    seen = Counter(e["status"] for e in log)
    assert seen[429] > 0  # the storm was met, waited out and written through
    assert seen[401] == seen[403] == 0  # the app key and the tenant were on every call
    assert all(f"/v2/tenant/{TENANT}/" in e["path"] for e in log)
    assert target.client.auth.tokens_issued == 1  # one token for every call
    await target.aclose()


def _settings(entities: list[str], url: str = "https://api.servicetitan.io", **flow: Any) -> Any:
    from ml_connector.config import parse_settings

    connections = {
        "bc": {"system": "business_central", "base_url": "https://bc", "tenant": "t",
               "environment": "production",
               "auth": {"kind": "entra_client_credentials", "token_url": "https://bc/token",
                        "client_id": "c", "client_secret": {"secret": "s"}}},
        "st": {"system": "servicetitan", "tenant_id": TENANT, "api_url": url,
               "auth": {"kind": "servicetitan", "token_url": f"{url}/connect/token",
                        "client_id": "cid.mlc-sim", "client_secret": {"secret": "st-secret"},
                        "app_key": {"secret": "st-app-key"}}},
    }  # fmt: skip
    flows = {"bc-servicetitan": {"source": "bc", "target": "st", "entities": entities, **flow}}
    return parse_settings({"connections": connections, "flows": flows})


def test_a_flow_writing_accounts_or_bills_into_servicetitan_is_refused_naming_the_key() -> None:
    from app.config_check import problems

    errors, _ = problems(_settings(["item", "gl_account", "purchase_invoice"]))
    assert any("flows.bc-servicetitan.entities: servicetitan cannot be a target of gl_account, "
               "purchase_invoice (it writes item)" in e for e in errors), errors  # fmt: skip
    errors, _ = problems(_settings(["item"]))
    assert not [e for e in errors if "entities" in e], errors


def test_a_pricebook_table_naming_another_list_is_refused_naming_the_key() -> None:
    from ml_connector.config import ConfigError
    from sinks.servicetitan import placements

    with pytest.raises(ConfigError) as info:
        _settings(["item"], pricebook_types={"Service": "equipment"})
    assert "flows.bc-servicetitan.pricebook_types.Service" in str(info.value)
    settings = _settings(["item"], pricebook_types={"Service": "service"})

    assert placements(settings, "st")["bc"] == Placement(
        {"Service": "service"}, "flows.bc-servicetitan.pricebook_types")  # fmt: skip


async def test_the_snapshot_shows_the_pricebook_as_canonical_items(
    url: str, target: ServiceTitanTarget
) -> None:
    await target.write(_record(_item("S-1", "Service", "129.50")))
    await target.write(_record(_item("M-1", "Inventory", "45", "20.25", blocked=True)))
    await target.write(_record(_item("N-1", "Non-Inventory", "3")))
    held = await target.snapshot("item")
    assert held["s-1"] == {"name": "Item S-1", "unit_price": "129.5", "blocked": "false",
                           "type": "Service"}  # fmt: skip
    assert held["m-1"] == {"name": "Item M-1", "unit_price": "45", "unit_cost": "20.25",
                           "blocked": "true", "type": "Inventory"}  # fmt: skip
    assert held["n-1"]["type"] == "Non-Inventory"
    assert "svc-001" in held and "mat-001" in held  # ServiceTitan's own entries too
    # Where a flow's table sends two types to one list, that list tells no type.
    both = Placement({"Service": "service", "Non-Inventory": "service"}, "x")
    narrow = await ServiceTitanTarget(target.client, {"bc": both}).snapshot("item")
    assert "type" not in narrow["s-1"]
    await target.aclose()


async def test_a_flows_field_overrides_reshape_the_entry(url: str, secrets: SecretStore) -> None:
    from sinks.registry import build_target

    fields = {"item": {"unitOfMeasure": {"lookup": {"PCS": "Each"}, "otherwise": "keep"},
                       "description": {"value": "From Business Central"}}}  # fmt: skip
    settings = _settings(["item"], url, fields=fields)
    target = build_target(settings, "st", secrets)
    assert isinstance(target, ServiceTitanTarget)
    assert (await target.write(_record(_item("M-9", "Inventory", "5")))).status == "inserted"
    entry = _entries(url, "materials")["M-9"]
    assert (entry["unitOfMeasure"], entry["description"]) == ("Each", "From Business Central")
    await target.aclose()


def test_an_override_of_a_column_the_pricebook_lacks_is_refused_naming_the_key() -> None:
    from app.config_check import problems

    settings = _settings(["item"], fields={"item": {"u_code": {"drop": True}}})
    errors, _ = problems(settings)
    assert any("flows.bc-servicetitan.fields.item.u_code: the target renders no column "
               "'u_code'" in e and "unitOfMeasure" in e for e in errors), errors  # fmt: skip
