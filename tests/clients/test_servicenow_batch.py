"""ServiceNow written in batches: every record's rows through insertMultiple, the per-row
results read back, a refused row refusing its own record only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.secrets import SecretStore
from simulators import servicenow
from simulators.servicenow.maps import AP_OPERATIONS_MAPS
from sinks.base import Outcome, SinkRecord
from sinks.servicenow import ServiceNowTarget
from tests.clients.conftest import Serve
from tests.clients.connections import sn_connection

ERP = frozenset({("erp", "purchase_order")})


@pytest.fixture
def url(serve: Serve) -> str:
    return serve(
        servicenow.create_app(servicenow.ServiceNowOptions(transform_maps=AP_OPERATIONS_MAPS))
    )


def _target(url: str, secrets: SecretStore, rows: int = 100) -> ServiceNowTarget:
    connection = sn_connection(url, insert_multiple_rows=rows)
    return ServiceNowTarget(ServiceNowClient(connection, secrets), whole=ERP)


def _record(entity: str, doc: dict[str, Any], key: str) -> SinkRecord:
    event = {"after": doc, "before": None, "op": "c", "source": {"connection": "erp"}}
    return SinkRecord(f"mlc.sink.sn.{entity}", 0, 0, key, entity, event)


def _vendor(number: str) -> SinkRecord:
    return _record("vendor", {"number": number, "name": f"Vendor {number}"}, number)


def _order(number: str, account: str = "60100") -> SinkRecord:
    line = {"line_number": 1, "account_number": account, "description": "paper",
            "quantity": Decimal(2), "unit_cost": Decimal(10), "amount": Decimal(20)}  # fmt: skip
    doc = {"number": number, "vendor_number": "V00010", "currency": "USD", "status": "Open",
           "total_excluding_tax": Decimal(20), "lines": [line]}  # fmt: skip
    return _record("purchase_order", doc, number)


async def _posts(url: str) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=url) as client:
        calls = (await client.get("/_sim/calls")).json()["calls"]
    return {f"{c['method']} {c['route']}": c["count"] for c in calls}


async def test_a_refused_row_refuses_its_own_record_and_the_rest_are_written_once(
    url: str, secrets: SecretStore
) -> None:
    target = _target(url, secrets, rows=4)
    records = [_vendor(f"V{n:05}") for n in range(9)]
    records.insert(5, _vendor(""))  # no number: the transform cannot coalesce it
    results = await target.write_batch(records)
    assert [r.status for r in results if isinstance(r, Outcome)] == [
        "inserted"] * 5 + ["rejected"] + ["inserted"] * 4  # fmt: skip
    refused = results[5]
    assert isinstance(refused, Outcome) and "coalesce" in str(refused.error)
    # 10 rows in runs of 4: three insertMultiple requests, each read back once.
    calls = await _posts(url)
    assert calls["POST /api/now/import/{staging_table}/insertMultiple"] == 3
    assert "POST /api/now/import/{staging_table}" not in calls
    again = await target.write_batch(records)
    assert [r.status for r in again if isinstance(r, Outcome)].count("inserted") == 0
    counts = await target.client.table("core_company", query="vendor=true")
    assert len(counts) == 9


async def test_a_document_whose_line_is_refused_is_refused_alone(
    url: str, secrets: SecretStore
) -> None:
    target = _target(url, secrets)
    await target.write(_vendor("V00010"))
    results = await target.write_batch(
        [_order("PO1"), _order("PO2", account="99999"), _order("PO3")]
    )
    statuses = [r.status if isinstance(r, Outcome) else r for r in results]
    assert statuses == ["inserted", "rejected", "inserted"]
    refused = results[1]
    assert isinstance(refused, Outcome) and "PO2 line 1" in str(refused.error)
    assert "99999" in str(refused.error)
    orders = await target.client.table("sn_shop_purchase_order", query="u_erp_numberINPO1,PO2,PO3")
    assert sorted(o["u_erp_number"] for o in orders) == ["PO1", "PO2", "PO3"]
    ids = ",".join(o["sys_id"] for o in orders)
    lines = await target.client.table("sn_shop_purchase_order_line", query=f"purchase_orderIN{ids}")
    assert len(lines) == 2  # PO2's line is not there; the header is rewritten once it is fixed
