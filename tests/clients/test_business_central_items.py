"""Business Central items as a source: polled on lastModifiedDateTime, notified by
subscription, mapped to the canonical item, against the simulator over real HTTP."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from ml_connector.canonical import model_for
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.secrets import SecretStore
from ml_connector.streams import read
from producers.business_central import NOTIFIED, BusinessCentralSource
from producers.events import parse_timestamp
from producers.hint import Hint
from simulators import business_central
from tests.clients.conftest import Serve
from tests.clients.connections import bc_connection


@pytest.fixture
def url(serve: Serve) -> str:
    return serve(
        business_central.create_app(business_central.BusinessCentralOptions(item_count=30))
    )


@pytest.fixture
def source(url: str, secrets: SecretStore) -> BusinessCentralSource:
    client = BusinessCentralClient(bc_connection(url), secrets)
    return BusinessCentralSource(client, cost_center_dimension="COSTCENTER")


async def test_items_map_to_the_canonical_item(source: BusinessCentralSource) -> None:
    stream = source.streams["item"]
    raw = [r async for page in read(source.client, stream) for r in page]
    assert len(raw) == 30
    items = [stream.to_canonical(r) for r in raw]
    for r, item in zip(raw, items, strict=True):
        model_for("item").model_validate(item)  # the canonical model takes it as it is
        assert item["number"] == r["number"] and item["name"] == r["displayName"]
        assert item["type"] == r["type"]
        assert item["unit_price"] == Decimal(str(r["unitPrice"]))
        assert item["unit_cost"] == Decimal(str(r["unitCost"]))
        assert item["unit_of_measure"] == r["baseUnitOfMeasureCode"]
        assert item["blocked"] is r["blocked"]
    # The seed holds every kind the pricebook mapping must place.
    assert {i["type"] for i in items} == {"Inventory", "Service", "Non-Inventory"}
    await source.aclose()


async def test_an_edited_item_is_read_again_by_its_modified_time(
    url: str, source: BusinessCentralSource
) -> None:
    stream = source.streams["item"]
    raw = [r async for page in read(source.client, stream) for r in page]
    newest = max(parse_timestamp(r["lastModifiedDateTime"]) for r in raw)
    edited = raw[3]
    r = httpx.patch(f"{url}/_sim/entities/items/{edited['id']}", json={"unitPrice": 77.5})
    assert r.status_code == 200, r.text

    # At or after the newest stamp seen: the edit, and the tied newest record re-read.
    delta = {d["number"]: d for page in [p async for p in read(source.client, stream, newest)]
             for d in page}  # fmt: skip
    assert edited["number"] in delta and len(delta) <= 2
    assert stream.to_canonical(delta[edited["number"]])["unit_price"] == Decimal("77.5")
    await source.aclose()


async def test_an_item_notification_fetches_that_item(source: BusinessCentralSource) -> None:
    # Items are eligible for BC change subscriptions: the notifier subscribes to them for a
    # flow that carries items.
    assert NOTIFIED["items"] == "item"
    stream = source.streams["item"]
    records = [r async for page in read(source.client, stream) for r in page]
    first = records[0]
    hint = Hint("bc", "items", "updated", first["id"], f"companies(x)/items({first['id']})", None)
    entity, fetched = await source.records_for(hint)
    assert entity == "item"
    assert [stream.to_canonical(r) for r in fetched] == [stream.to_canonical(first)]
    deleted = Hint("bc", "items", "deleted", first["id"], "", None)
    assert await source.records_for(deleted) == ("item", [])
    await source.aclose()
