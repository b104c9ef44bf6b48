"""The Business Central target against the BC simulator, over real HTTP: the paths a crash or
a change in ServiceNow takes, which the end-to-end flow rarely hits."""

from __future__ import annotations

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
from sinks.base import SinkRecord
from sinks.business_central import BusinessCentralTarget
from sinks.business_central_documents import INVOICE, ORDER, render
from tests.clients.conftest import Serve
from tests.clients.connections import bc_connection

SHORTCUT = "shortcutDimension2Code"


def _line(n: int, account: str = "60100", quantity: str = "3") -> dict[str, Any]:
    return {"line_number": n, "line_type": "account", "item_number": None,
            "account_number": account, "description": f"line {n}",
            "quantity": Decimal(quantity), "unit_cost": Decimal("204.84"),
            "cost_center": "CC200", "amount": None}  # fmt: skip


def _doc(number: str, **extra: Any) -> dict[str, Any]:
    return {"number": number, "vendor_number": "V00020", "invoice_date": date(2024, 2, 1),
            "posting_date": None, "due_date": None, "order_date": date(2024, 2, 1),
            "currency": "USD", "cost_center": "CC200",
            "lines": [_line(1), _line(2, "60200")], **extra}  # fmt: skip


def _record(entity: str, doc: dict[str, Any]) -> SinkRecord:
    return SinkRecord("mlc.sink.bc." + entity, 0, 0, "sys-id", entity, {"after": doc, "op": "r"})


@pytest.fixture
async def target(serve: Serve, secrets: SecretStore) -> BusinessCentralTarget:
    url = serve(business_central.create_app(business_central.BusinessCentralOptions()))
    client = BusinessCentralClient(bc_connection(url), secrets)
    return BusinessCentralTarget(client, cost_center_dimension="COSTCENTER", cost_center_shortcut=2)


async def _held(t: BusinessCentralTarget, kind: Any, number: str) -> dict[str, Any]:
    found = await t._find(kind, number)
    assert found is not None
    return found


async def test_an_invoice_is_created_posted_and_then_left_alone(
    target: BusinessCentralTarget,
) -> None:
    doc = _doc("APINV0000001")
    first = await target.write(_record("purchase_invoice", doc))
    assert first.status == "inserted"
    held = await _held(target, INVOICE, "APINV0000001")
    assert held["status"] == "Open" and held[SHORTCUT] == "CC200"
    changed = _doc("APINV0000001", lines=[_line(1, quantity="7")])
    again = await target.write(_record("purchase_invoice", changed))
    assert (again.status, again.target_id) == ("ignored", first.target_id)
    after = await _held(target, INVOICE, "APINV0000001")
    assert after["@odata.etag"] == held["@odata.etag"]  # a posted invoice is never changed


async def test_a_draft_left_by_an_interrupted_write_is_completed_and_posted_once(
    target: BusinessCentralTarget,
) -> None:
    doc = _doc("APINV0000002")
    # What an earlier attempt left behind: the draft, with one line short.
    refs = await target.lookups.references(INVOICE, doc)
    body = render(INVOICE, _doc("APINV0000002", lines=[_line(1)]), refs, SHORTCUT)
    draft = await target.client.create("purchaseInvoices", body)
    outcome = await target.write(_record("purchase_invoice", doc))
    assert (outcome.status, outcome.target_id) == ("updated", draft["id"])
    held = await _held(target, INVOICE, "APINV0000002")
    assert held["status"] == "Open"
    assert [x["lineObjectNumber"] for x in held["purchaseInvoiceLines"]] == ["60100", "60200"]
    assert (await target.write(_record("purchase_invoice", doc))).status == "ignored"


async def test_an_order_follows_changes_while_a_draft_and_refuses_them_once_released(
    target: BusinessCentralTarget,
) -> None:
    doc = _doc("SPO0000001")
    assert (await target.write(_record("purchase_order", doc))).status == "inserted"
    assert (await target.write(_record("purchase_order", doc))).status == "ignored"
    changed = copy.deepcopy(doc)
    changed["lines"][0]["quantity"] = Decimal("42")
    assert (await target.write(_record("purchase_order", changed))).status == "updated"
    held = await _held(target, ORDER, "SPO0000001")
    assert [x["quantity"] for x in held["purchaseOrderLines"]] == [42.0, 3.0]

    base = target.client.api_root.split("/v2.0/")[0]
    r = httpx.patch(
        f"{base}/_sim/entities/purchaseOrders/{held['id']}", json={"status": "Released"}
    )
    assert r.status_code == 200, r.text
    assert (await target.write(_record("purchase_order", changed))).status == "ignored"
    with pytest.raises(FatalError, match="is Released in Business Central"):
        await target.write(_record("purchase_order", doc))


async def test_every_reference_bc_lacks_is_named_and_nothing_is_created(
    target: BusinessCentralTarget,
) -> None:
    doc = _doc("APINV0000003", vendor_number="V99999",
               lines=[_line(1, account="99999")], cost_center="CC999")  # fmt: skip
    doc["lines"][0]["cost_center"] = "CC999"
    with pytest.raises(NotFound) as info:
        await target.write(_record("purchase_invoice", doc))
    assert str(info.value) == (
        "purchase invoice APINV0000003: Business Central has no vendor 'V99999', "
        "no G/L account '99999', no COSTCENTER dimension value 'CC999'"
    )
    assert await target._find(INVOICE, "APINV0000003") is None
    with pytest.raises(FatalError, match="no lines to post"):
        await target.write(_record("purchase_invoice", _doc("APINV0000004", lines=[])))
