"""Acumatica as a source: every declared stream read from the simulator into valid canonical
entities, documents with their lines, payments with the bill they apply to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ml_connector.canonical import model_for
from ml_connector.clients.acumatica import AcumaticaClient
from ml_connector.secrets import SecretStore
from ml_connector.streams import read
from producers.acumatica import STREAMS
from simulators import acumatica
from tests.clients.conftest import Serve
from tests.clients.connections import acumatica_connection


@pytest.fixture
def url(serve: Serve) -> str:
    return serve(acumatica.create_app(acumatica.AcumaticaOptions()))


async def _all(client: AcumaticaClient, entity: str, since: datetime | None = None) -> list[Any]:
    stream = STREAMS[entity]
    return [stream.to_canonical(r) async for page in read(client, stream, since) for r in page]


@pytest.mark.parametrize("entity", sorted(STREAMS))
async def test_every_stream_reads_into_valid_canonical_entities(
    url: str, secrets: SecretStore, entity: str
) -> None:
    client = AcumaticaClient(acumatica_connection(url, page_size=7), secrets)
    records = await _all(client, entity)
    await client.aclose()
    assert records, f"the simulator seeds {entity}"
    model = model_for(entity)
    keys = [model.model_validate(r).model_dump()[model.key] for r in records]
    assert len(keys) == len(set(keys))  # offset pages neither skip nor repeat


async def test_documents_carry_their_lines_and_payments_what_they_pay(
    url: str, secrets: SecretStore
) -> None:
    client = AcumaticaClient(acumatica_connection(url), secrets)
    vendors = {v["number"]: v for v in await _all(client, "vendor")}
    assert all(v["city"] and v["phone"] for v in vendors.values())  # from the main contact
    accounts = {a["number"] for a in await _all(client, "gl_account")}
    centers = {c["code"] for c in await _all(client, "cost_center")}
    orders = await _all(client, "purchase_order")
    bills = {b["number"]: b for b in await _all(client, "purchase_invoice")}
    for doc in [*orders, *bills.values()]:
        assert doc["vendor_number"] in vendors and doc["lines"]
        assert [line["line_number"] for line in doc["lines"]] == list(
            range(1, len(doc["lines"]) + 1)
        )
        for line in doc["lines"]:
            assert line["account_number"] in accounts and line["cost_center"] in centers
        assert sum(line["amount"] for line in doc["lines"]) == doc["total_excluding_tax"]
    payments = await _all(client, "payment")
    for p in payments:
        assert bills[p["applies_to_bill_number"]]["vendor_number"] == p["vendor_number"]
    await client.aclose()


async def test_a_bill_edited_is_read_again_by_the_delta(url: str, secrets: SecretStore) -> None:
    client = AcumaticaClient(acumatica_connection(url), secrets)
    since = datetime.now(UTC)
    bill = await client.get("Bill", "Bill", "000002", expand="Details")
    assert bill["Status"] in ("Balanced", "On Hold")
    line = bill["Details"][0]
    await client.put("Bill", {"Type": "Bill", "ReferenceNbr": "000002", "Description": "edited",
                              "Details": [{"id": line["id"], "Qty": 7}]})  # fmt: skip
    (changed,) = await _all(client, "purchase_invoice", since)
    assert changed["number"] == "000002" and changed["lines"][0]["quantity"] == 7
    await client.aclose()
