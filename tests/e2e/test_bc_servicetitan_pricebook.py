"""Business Central items -> the ServiceTitan pricebook on a real broker, against both
simulators: services and materials at BC's prices, an edit updating the same entry, a reset of
the sink group creating nothing, a code the pricebook refuses dead-lettered with its reason
while its neighbours are written, and reconciliation naming exactly what differs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.demo_pricebook import FLOW, FLOWS, seed_items
from app.dlq import DeadLetters
from app.offsets import group_stopped, reset_group
from devkit.servicetitan import CONNECTION, ServiceTitanSim, start_servicetitan
from ml_connector.kafka.admin import group_lag
from tests.clients.simlog import max_in_window, requests
from tests.e2e.test_reconcile import differences, reconcile

pytestmark = pytest.mark.kafka

ST = CONNECTION
TOO_LONG = "HVAC-COIL-XL-2024"  # a valid BC number (20 at most), longer than the pricebook takes
WRITES = {("POST", "/pricebook/v2/tenant/{tenant}/services"),
          ("POST", "/pricebook/v2/tenant/{tenant}/materials"),
          ("PATCH", "/pricebook/v2/tenant/{tenant}/services/{id}"),
          ("PATCH", "/pricebook/v2/tenant/{tenant}/materials/{id}")}  # fmt: skip


@pytest.fixture
def st() -> Iterator[ServiceTitanSim]:
    sim = start_servicetitan(code_max_length=15)
    yield sim
    sim.stop()


def _start(pipeline_factory: Callable[..., Any], st: ServiceTitanSim, items: int) -> Any:
    options = st.sandbox_options(FLOWS, bc_flow=False, vendors=5, bc_options={"item_count": 0},
                                 poll_interval=1.0)  # fmt: skip
    p = pipeline_factory(run=False, **options)
    seed_items(p.box.bc_url, items)
    return p


def _pricebook(st: ServiceTitanSim) -> dict[str, list[dict[str, Any]]]:
    return {r: list(httpx.get(f"{st.url}/_sim/entities/{r}").json()["value"])
            for r in ("services", "materials")}  # fmt: skip


def _codes(st: ServiceTitanSim) -> Counter[str]:
    return Counter(e["code"] for entries in _pricebook(st).values() for e in entries)


def _writes(st: ServiceTitanSim) -> int:
    calls = httpx.get(f"{st.url}/_sim/calls").json()["calls"]
    return sum(c["count"] for c in calls if (c["method"], c["route"]) in WRITES)


def _as_in_bc(p: Any, st: ServiceTitanSim) -> bool:
    """Every BC item (but the one refused) in its list at its price, active as in BC."""
    book = _pricebook(st)
    by_code = {(r, e["code"]): e for r, entries in book.items() for e in entries}
    for item in p.bc_rows("items"):
        if item["number"] == TOO_LONG:
            continue
        entry = by_code.get(("services" if item["type"] == "Service" else "materials",
                             item["number"]))  # fmt: skip
        if entry is None or entry["price"] != item["unitPrice"]:
            return False
        if entry["active"] == item["blocked"]:
            return False
    return True


def _lag(p: Any) -> int:
    t = p.topics
    return group_lag(p.box.bootstrap, t.processor_app(), [t.change("bc", "item")]) + group_lag(
        p.box.bootstrap, t.sink_group(ST), [t.sink(ST, "item")]
    )


def _dead(p: Any) -> list[Any]:
    t = p.topics
    return list(DeadLetters(p.box.bootstrap, t.dlq(ST), t.state, ST, t.audit).records())


def test_items_land_in_their_lists_an_edit_updates_the_entry_a_refusal_is_dead_lettered(
    pipeline_factory: Callable[..., Any], st: ServiceTitanSim
) -> None:
    p = _start(pipeline_factory, st, items=40)
    refused = p.bc.post("/_sim/entities/items", json={
        "number": TOO_LONG, "displayName": "Evaporator coil XL", "type": "Inventory",
        "unitPrice": 1450.0, "unitCost": 910.0})  # fmt: skip
    assert refused.status_code in (200, 201), refused.text
    seeded = _codes(st)
    p.supervisor.start()
    p.wait("every BC item in the pricebook at its price", lambda: _as_in_bc(p, st))
    p.wait("the refused item dead-lettered", lambda: len(_dead(p)) == 1)

    items = p.bc_rows("items")
    book = _pricebook(st)
    services = {e["code"] for e in book["services"]}
    materials = {e["code"]: e for e in book["materials"]}
    assert {i["number"] for i in items if i["type"] == "Service"} <= services
    stocked = [i for i in items if i["type"] == "Inventory" and i["number"] != TOO_LONG]
    supplies = [i for i in items if i["type"] == "Non-Inventory"]
    assert stocked and supplies
    for i in stocked + supplies:
        entry = materials[i["number"]]
        assert entry["cost"] == i["unitCost"] and entry["isInventory"] == (i["type"] == "Inventory")
    assert not services & set(materials) - set(seeded)  # each code in one list only
    blocked = [i for i in items if i["blocked"]]
    assert blocked and all(materials.get(i["number"], {}).get("active") is not True
                           for i in blocked)  # fmt: skip
    # Each code once; the refused one nowhere; the pricebook's own entries untouched.
    codes = _codes(st)
    assert set(codes.values()) == {1}
    assert TOO_LONG not in codes
    assert set(codes) == set(seeded) | {i["number"] for i in items if i["number"] != TOO_LONG}
    # The sink's writes (several keys at once) stayed inside the app's 60 calls a second.
    calls = [e for e in requests(st.url) if "/v2/tenant/" in e["path"]]
    assert max_in_window(calls, 1.0) <= 60
    assert not [e for e in calls if e["status"] in (401, 403, 429)]
    [dead] = _dead(p)
    assert dead.key == next(i["id"] for i in items if i["number"] == TOO_LONG)
    assert dead.error_class == "InvalidFields" and "maximum length of 15" in dead.error
    assert "code" in dead.error

    # An edit in BC updates the same entry.
    part = stocked[0]
    before = materials[part["number"]]
    r = p.bc.patch(f"/_sim/entities/items/{part['id']}", json={"unitPrice": 999.95})
    assert r.status_code == 200, r.text
    p.wait("the new price in the pricebook", lambda: _as_in_bc(p, st))
    after = [e for e in _pricebook(st)["materials"] if e["code"] == part["number"]]
    assert [(e["id"], e["price"]) for e in after] == [(before["id"], 999.95)]
    assert _codes(st) == codes

    # Reconciliation names the refused item, then exactly a hand edit in ServiceTitan.
    p.wait("the pipeline idle", lambda: _lag(p) == 0)
    found = reconcile(p, FLOW)
    assert found.exit_code == 1
    assert differences(found.output) == [
        f"missing   item {TOO_LONG.casefold()}: in the source, not in the target"]  # fmt: skip
    p.supervisor.hold("producers")
    service = next(e for e in _pricebook(st)["services"] if e["code"] in
                   {i["number"] for i in items if not i["blocked"]})  # fmt: skip
    r = httpx.patch(f"{st.url}/_sim/entities/services/{service['id']}", json={"price": 1.0})
    assert r.status_code == 200, r.text
    found = reconcile(p, FLOW)
    price = next(i["unitPrice"] for i in items if i["number"] == service["code"])
    assert differences(found.output) == [
        f"missing   item {TOO_LONG.casefold()}: in the source, not in the target",
        f"different item {service['code'].casefold()}: unit_price: source "
        f"'{format(Decimal(str(price)).normalize(), 'f')}' target '1'",
    ]


def test_a_reset_of_the_sink_group_to_earliest_creates_and_writes_nothing(
    pipeline_factory: Callable[..., Any], st: ServiceTitanSim
) -> None:
    p = _start(pipeline_factory, st, items=30)
    p.supervisor.start()
    p.wait("every BC item in the pricebook at its price", lambda: _as_in_bc(p, st))
    p.wait("the pipeline idle", lambda: _lag(p) == 0)
    codes, writes = _codes(st), _writes(st)
    assert writes == 30  # one POST per item: nothing re-written by the poll's overlap

    group = p.topics.sink_group(ST)
    p.supervisor.hold("sinks")
    p.wait("the ServiceTitan sink group to empty", lambda: group_stopped(p.box.bootstrap, group))
    moved = reset_group(p.box.bootstrap, group, to_earliest=True)
    assert sum(m.replayed for m in moved if m.topic == p.topics.sink(ST, "item")) == 30
    p.supervisor.release("sinks")
    p.wait("the replay consumed", lambda: _lag(p) == 0)

    assert _codes(st) == codes  # looked up by code, found the same: nothing created
    assert _writes(st) == writes  # and nothing written
    assert _dead(p) == []
    clean = reconcile(p, FLOW)
    assert clean.exit_code == 0 and "no differences" in clean.output, clean.output


def test_an_item_edit_arrives_by_business_central_notification(
    pipeline_factory: Callable[..., Any], st: ServiceTitanSim
) -> None:
    # Polling every 10 minutes: after the first poll only a notification can carry a change.
    bc = {"item_count": 0, "notification_delay_seconds": 0.2}
    options = st.sandbox_options(FLOWS, bc_flow=False, vendors=5, poll_interval=600.0,
                                 webhooks=True, bc_options=bc)  # fmt: skip
    p = pipeline_factory(run=False, **options)
    seed_items(p.box.bc_url, 12)  # ten services, then materials
    p.supervisor.start()
    p.wait("the first poll's items in the pricebook", lambda: _as_in_bc(p, st))

    def subscriptions() -> list[dict[str, Any]]:
        return list(p.bc.get("/_sim/subscriptions").json()["subscriptions"])

    p.wait("an items subscription", lambda: len(subscriptions()) == 1)
    assert subscriptions()[0]["resource"].endswith("/items")

    service = next(i for i in p.bc_rows("items") if i["type"] == "Service")
    r = p.bc.patch(f"/_sim/entities/items/{service['id']}", json={"unitPrice": 212.0})
    assert r.status_code == 200, r.text
    p.wait("the notified price in the pricebook", lambda: any(
        e["code"] == service["number"] and e["price"] == 212.0
        for e in _pricebook(st)["services"]), 60)  # fmt: skip
    stages = [r.stage for r in p.audit_trail(service["id"], "item", source="bc")]
    assert "received" in stages  # it came by notification, not by poll

    # Deleted in BC: the entry stays in the pricebook, inactive, as it was.
    part = next(i for i in p.bc_rows("items") if i["type"] != "Service" and not i["blocked"])
    assert p.bc.delete(f"/_sim/entities/items/{part['id']}").status_code in (200, 204)

    def entry() -> dict[str, Any]:
        [found] = [e for e in _pricebook(st)["materials"] if e["code"] == part["number"]]
        return found

    p.wait("the deleted item inactive in the pricebook", lambda: not entry()["active"], 60)
    assert (entry()["price"], entry()["displayName"]) == (part["unitPrice"], part["displayName"])
