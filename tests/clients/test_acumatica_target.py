"""Acumatica as a target: an approved ServiceNow request becomes one purchase order, found
again by its ServiceNow number; nothing else is ever written into the system of record."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ml_connector.api.errors import InvalidFields
from ml_connector.clients.acumatica import AcumaticaClient
from ml_connector.secrets import SecretStore
from simulators import acumatica
from sinks.acumatica import AcumaticaTarget
from sinks.base import SinkRecord
from tests.clients.conftest import Serve
from tests.clients.connections import acumatica_connection


@pytest.fixture
async def target(serve: Serve, secrets: SecretStore) -> AcumaticaTarget:
    url = serve(acumatica.create_app(acumatica.AcumaticaOptions()))
    return AcumaticaTarget(AcumaticaClient(acumatica_connection(url), secrets), "VendorRef")


def _request(number: str = "PO0010042", account: str = "61000") -> dict[str, Any]:
    line = {"line_number": 1, "account_number": account, "cost_center": "200000",
            "description": "Gypsum board", "quantity": Decimal("3"),
            "unit_cost": Decimal("12.5")}  # fmt: skip
    return {"number": number, "vendor_number": "V000003", "order_date": date(2026, 11, 2),
            "currency": "USD", "lines": [line]}  # fmt: skip


def _record(entity: str, doc: dict[str, Any] | None) -> SinkRecord:
    return SinkRecord(f"mlc.sink.acu.{entity}", 0, 0, "sn-id", entity,
                      {"after": doc, "before": None, "op": "c"})  # fmt: skip


async def test_a_request_becomes_one_order_found_again_by_its_number(
    target: AcumaticaTarget,
) -> None:
    created = await target.write(_record("purchase_order", _request()))
    assert created.status == "inserted"
    order = await target.client.get("PurchaseOrder", created.target_id or "", expand="Details")
    assert (order["VendorID"], order["VendorRef"], order["OrderTotal"]) == (
        "V000003", "PO0010042", 37.5)  # fmt: skip
    assert [(d["Account"], d["Subaccount"]) for d in order["Details"]] == [("61000", "200000")]
    again = await target.write(_record("purchase_order", _request()))
    assert (again.status, again.target_id) == ("ignored", created.target_id)
    assert order["OrderNbr"] in str(again.note)
    refs = [o["VendorRef"] async for page in target.client.read("PurchaseOrder") for o in page]
    assert refs.count("PO0010042") == 1
    await target.aclose()


async def test_an_unknown_account_is_refused_naming_it(target: AcumaticaTarget) -> None:
    with pytest.raises(InvalidFields) as raised:
        await target.write(_record("purchase_order", _request("PO0010043", account="99999")))
    assert "99999" in str(raised.value.fields)
    await target.aclose()


@pytest.mark.parametrize("entity", ["purchase_invoice", "payment", "gl_account"])
async def test_nothing_but_orders_is_written_into_the_system_of_record(
    target: AcumaticaTarget, entity: str
) -> None:
    outcome = await target.write(_record(entity, {"number": "X1"}))
    assert not outcome.ok and "purchase orders only" in str(outcome.error)
    await target.aclose()


def test_a_flow_writing_ledger_documents_into_acumatica_is_refused_naming_the_key() -> None:
    from app.config_check import problems
    from ml_connector.config import parse_settings

    connections = {
        "sn": {"system": "servicenow", "instance_url": "https://x.service-now.com",
               "auth": {"kind": "servicenow", "username": "u", "password": {"secret": "p"}}},
        "acu": {"system": "acumatica", "instance_url": "https://acu", "version": "24.200.001",
                "auth": {"kind": "acumatica_login", "username": "u",
                         "password": {"secret": "p"}}},
    }  # fmt: skip
    flow = {"source": "sn", "target": "acu", "entities": ["purchase_order", "purchase_invoice"]}
    settings = parse_settings({"connections": connections, "flows": {"back": flow}})
    errors, _ = problems(settings)
    assert any("flows.back.entities: acumatica cannot be a target of purchase_invoice" in e
               for e in errors), errors  # fmt: skip
