"""Business Central purchase documents written through ``$batch``: look-ups, creates and posts
each in one request per 100 documents, a refused document refused alone, nothing twice."""

from __future__ import annotations

import asyncio
import copy
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ml_connector.api.errors import FatalError, NotFound
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.secrets import SecretStore
from simulators import business_central
from sinks.base import Outcome, SinkRecord
from sinks.business_central import BusinessCentralTarget
from sinks.business_central_documents import ORDER
from tests.clients.conftest import Serve
from tests.clients.connections import bc_connection


def _doc(number: str, account: str = "60100") -> dict[str, Any]:
    line = {"line_number": 1, "line_type": "account", "item_number": None,
            "account_number": account, "description": "paper", "quantity": Decimal(3),
            "unit_cost": Decimal("10.5"), "cost_center": "CC200", "amount": None}  # fmt: skip
    return {"number": number, "vendor_number": "V00020", "invoice_date": date(2024, 2, 1),
            "posting_date": None, "due_date": None, "order_date": date(2024, 2, 1),
            "currency": "USD", "cost_center": "CC200", "lines": [line]}  # fmt: skip


def _record(entity: str, doc: dict[str, Any]) -> SinkRecord:
    return SinkRecord("mlc.sink.bc." + entity, 0, 0, doc["number"], entity,
                      {"after": doc, "op": "r"})  # fmt: skip


@pytest.fixture
def url(serve: Serve) -> str:
    return serve(business_central.create_app(business_central.BusinessCentralOptions()))


@pytest.fixture
def target(url: str, secrets: SecretStore) -> BusinessCentralTarget:
    client = BusinessCentralClient(bc_connection(url), secrets)
    return BusinessCentralTarget(client, cost_center_dimension="COSTCENTER", cost_center_shortcut=2)


async def _calls(url: str) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=url) as client:
        calls = (await client.get("/_sim/calls")).json()["calls"]
        await client.delete("/_sim/requests")
    return {f"{c['method']} {c['route']}": c["count"] for c in calls}


async def _held(target: BusinessCentralTarget, entity_set: str, key: str) -> list[dict[str, Any]]:
    return [doc async for page in target.client.read(entity_set) for doc in page
            if str(doc.get(key, "")).startswith("BATCH")]  # fmt: skip


async def test_invoices_are_created_and_posted_in_batches_a_refused_one_alone(
    url: str, target: BusinessCentralTarget
) -> None:
    docs = [_doc(f"BATCH{n:04}") for n in range(6)]
    docs[3] = _doc("BATCH0003", account="99999")  # BC has no such G/L account
    records = [_record("purchase_invoice", d) for d in docs]
    await _calls(url)
    results = await target.write_batch(records)
    assert [r.status for r in results if isinstance(r, Outcome)] == ["inserted"] * 5
    assert isinstance(results[3], NotFound) and "'99999'" in str(results[3])
    calls = await _calls(url)
    # Besides the once-off look-ups of company, vendor, account and dimension: a $batch each
    # for the look-ups by number, the creates and the posts.
    assert calls["POST /v2.0/{tenant}/{environment}/api/v2.0/$batch"] == 3
    held = await _held(target, "purchaseInvoices", "vendorInvoiceNumber")
    assert sorted(d["vendorInvoiceNumber"] for d in held) == [
        f"BATCH{n:04}" for n in (0, 1, 2, 4, 5)]  # fmt: skip
    assert {d["status"] for d in held} == {"Open"}

    again = await target.write_batch(records)  # a re-send: found, posted, left alone
    assert [r.status for r in again if isinstance(r, Outcome)] == ["ignored"] * 5
    assert len(await _held(target, "purchaseInvoices", "vendorInvoiceNumber")) == 5


async def test_orders_take_two_requests_per_batch_and_a_number_twice_follows_its_twin(
    url: str, target: BusinessCentralTarget
) -> None:
    docs = [_doc(f"BATCH{n:04}") for n in range(4)]
    changed = copy.deepcopy(docs[1])
    changed["lines"][0]["quantity"] = Decimal(5)
    records = [_record("purchase_order", d) for d in [*docs, changed]]
    await target.write_batch([_record("purchase_order", _doc("WARMUP"))])
    await _calls(url)
    results = await target.write_batch(records)
    assert [r.status for r in results if isinstance(r, Outcome)] == [
        "inserted", "inserted", "inserted", "inserted", "updated"]  # fmt: skip
    calls = await _calls(url)
    # Look-ups and creates; then the twin, after it: found, changed in one atomicity group.
    assert calls["POST /v2.0/{tenant}/{environment}/api/v2.0/$batch"] == 3
    held = await _held(target, "purchaseOrders", "number")
    assert sorted(d["number"] for d in held) == [f"BATCH{n:04}" for n in range(4)]
    twin = await target._find(ORDER, "BATCH0001")
    assert twin is not None
    assert [line["quantity"] for line in twin["purchaseOrderLines"]] == [5]


async def test_concurrent_writes_ask_for_the_company_and_each_code_once(
    url: str, target: BusinessCentralTarget
) -> None:
    await _calls(url)
    records = [[_record("purchase_order", _doc(f"BATCH{n:02}{m}")) for m in range(3)]
               for n in range(8)]  # fmt: skip
    results = await asyncio.gather(*(target.write_batch(r) for r in records))
    assert {r.status for batch in results for r in batch if isinstance(r, Outcome)} == {"inserted"}
    calls = await _calls(url)
    root = "GET /v2.0/{tenant}/{environment}/api/v2.0"
    company = f"{root}/companies({{company_id}})"
    # One vendor, one account, the dimension and its one value: each asked for once.
    assert {k: n for k, n in calls.items() if k.startswith(root)} == {
        f"{root}/companies": 1, f"{company}/vendors": 1, f"{company}/accounts": 1,
        f"{company}/dimensions": 1, f"{company}/dimensions({{parent_id}})/dimensionValues": 1,
    }  # fmt: skip
    assert calls["POST /v2.0/{tenant}/{environment}/api/v2.0/$batch"] == 16  # 8 x (find, create)


async def test_an_operation_bc_refuses_inside_the_batch_fails_its_own_record_only(
    url: str, target: BusinessCentralTarget
) -> None:
    long = "BATCH-NUMBER-TOO-LONG-FOR-BC"  # purchase order numbers are Code[20]
    numbers = ["BATCH0001", long, "BATCH0002"]
    results = await target.write_batch([_record("purchase_order", _doc(n)) for n in numbers])
    assert isinstance(results[0], Outcome) and results[0].status == "inserted"
    assert isinstance(results[2], Outcome) and results[2].status == "inserted"
    assert isinstance(results[1], FatalError)
    assert "must be less than or equal to 20 characters" in str(results[1])
    held = await _held(target, "purchaseOrders", "number")
    assert sorted(d["number"] for d in held) == ["BATCH0001", "BATCH0002"]
