"""Business Central as the receivables target, against its simulator over real HTTP:
customers and business-unit dimension values upserted, sales invoices created as drafts and
posted once with their dimension, payments applied to the right posted invoice and posted
once, whatever is re-sent or left half done."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ml_connector.api.errors import FatalError, NotFound
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.secrets import SecretStore
from simulators import business_central
from sinks.base import SinkRecord
from sinks.business_central import BusinessCentralTarget
from tests.clients.conftest import Serve
from tests.clients.connections import bc_connection


def _record(entity: str, doc: dict[str, Any] | None) -> SinkRecord:
    return SinkRecord("mlc.sink.bc." + entity, 0, 0, "k", entity, {"after": doc, "op": "r"})


def _customer(number: str = "5000001", name: str = "Pat Lee") -> dict[str, Any]:
    return {"number": number, "name": name, "email": None, "currency": None, "blocked": False}


def _invoice(number: str = "10000001", customer: str = "5000001") -> dict[str, Any]:
    def line(n: int, account: str, price: str, quantity: str = "1") -> dict[str, Any]:
        return {"line_number": n, "line_type": "account", "item_number": None,
                "account_number": account, "description": f"line {n}",
                "quantity": Decimal(quantity), "unit_price": Decimal(price),
                "cost_center": "HVAC-SERVICE", "amount": None}  # fmt: skip

    return {"number": number, "external_document_number": "100000", "customer_number": customer,
            "invoice_date": date(2024, 1, 2), "due_date": date(2024, 2, 1), "currency": None,
            "lines": [line(1, "40200", "150.00", "2"), line(2, "20500", "21.00")]}  # fmt: skip


def _payment(number: str, amount: str, invoice: str = "10000001") -> dict[str, Any]:
    return {"number": number, "customer_number": "5000001", "posting_date": date(2024, 1, 3),
            "amount": Decimal(amount), "applies_to_invoice_number": invoice,
            "external_document_number": "P10000"}  # fmt: skip


@pytest.fixture
async def target(serve: Serve, secrets: SecretStore) -> BusinessCentralTarget:
    url = serve(business_central.create_app(business_central.BusinessCentralOptions()))
    client = BusinessCentralClient(bc_connection(url), secrets)
    return BusinessCentralTarget(client, cost_center_dimension="COSTCENTER", cost_center_shortcut=2,
                                 payment_journal="STPAY")  # fmt: skip


async def _rows(t: BusinessCentralTarget, entity_set: str, **where: str) -> list[dict[str, Any]]:
    rows = [r async for page in t.client.read(entity_set) for r in page]
    return [r for r in rows if all(r.get(k) == v for k, v in where.items())]


async def test_customers_and_dimension_values_are_upserted_by_code(
    target: BusinessCentralTarget,
) -> None:
    first = await target.write(_record("customer", _customer()))
    again = await target.write(_record("customer", _customer()))
    renamed = await target.write(_record("customer", _customer(name="Pat Lee-Nguyen")))
    assert (first.status, again.status, renamed.status) == ("inserted", "ignored", "updated")
    assert first.target_id == again.target_id == renamed.target_id
    held = await _rows(target, "customers", number="5000001")
    assert [c["displayName"] for c in held] == ["Pat Lee-Nguyen"]

    unit = {"code": "HVAC-SERVICE", "name": "HVAC - Service", "dimension": "BUSINESSUNIT"}
    created = await target.write(_record("cost_center", unit))
    assert created.status == "inserted"
    assert (await target.write(_record("cost_center", unit))).status == "ignored"
    values = await target.client.dimension_values("COSTCENTER")
    codes = [v["code"] async for page in target.client.read(values) for v in page]
    assert codes.count("HVAC-SERVICE") == 1


async def test_a_sales_invoice_is_posted_once_coded_to_its_dimension(
    target: BusinessCentralTarget,
) -> None:
    await target.write(_record("customer", _customer()))
    await target.write(_record("cost_center", {"code": "HVAC-SERVICE", "name": "HVAC - Service"}))
    first = await target.write(_record("sales_invoice", _invoice()))
    again = await target.write(_record("sales_invoice", _invoice()))
    assert (first.status, again.status) == ("inserted", "ignored")
    (held,) = await _rows(target, "salesInvoices", externalDocumentNumber="10000001")
    assert held["status"] == "Open" and held["customerNumber"] == "5000001"
    assert held["shortcutDimension2Code"] == "HVAC-SERVICE"
    assert Decimal(str(held["totalAmountIncludingTax"])) == Decimal("321")


async def test_an_invoice_naming_what_bc_lacks_is_refused_naming_each(
    target: BusinessCentralTarget,
) -> None:
    with pytest.raises(NotFound) as info:
        await target.write(_record("sales_invoice", _invoice(customer="5999999")))
    message = str(info.value)
    assert (
        "customer '5999999'" in message and "COSTCENTER dimension value 'HVAC-SERVICE'" in message
    )
    assert await _rows(target, "salesInvoices", externalDocumentNumber="10000001") == []


async def _posted_invoice(target: BusinessCentralTarget) -> None:
    await target.write(_record("customer", _customer()))
    await target.write(_record("cost_center", {"code": "HVAC-SERVICE", "name": "HVAC - Service"}))
    await target.write(_record("sales_invoice", _invoice()))


async def test_payments_apply_to_the_posted_invoice_and_post_once(
    target: BusinessCentralTarget,
) -> None:
    await _posted_invoice(target)
    first = await target.write(_record("payment", _payment("20000001", "100")))
    again = await target.write(_record("payment", _payment("20000001", "100")))
    assert (first.status, again.status) == ("inserted", "ignored")
    assert first.target_id == again.target_id
    entries = await _rows(target, "generalLedgerEntries", documentType="Payment")
    assert [(e["documentNumber"], e["creditAmount"]) for e in entries] == [("20000001", 100)]
    (invoice,) = await _rows(target, "salesInvoices", externalDocumentNumber="10000001")
    assert invoice["remainingAmount"] == 221 and invoice["status"] == "Open"
    assert (await target.write(_record("payment", _payment("20000002", "221")))).ok
    (invoice,) = await _rows(target, "salesInvoices", externalDocumentNumber="10000001")
    assert invoice["remainingAmount"] == 0 and invoice["status"] == "Paid"


async def test_a_line_left_by_a_crash_is_posted_not_doubled(target: BusinessCentralTarget) -> None:
    await _posted_invoice(target)
    receivables = target.masters["payment"].__self__  # type: ignore[attr-defined]
    journal = await receivables._journal()
    await receivables._line(_payment("20000009", "50"), journal)  # created, then the crash
    outcome = await target.write(_record("payment", _payment("20000009", "50")))
    assert outcome.status == "written"
    entries = await _rows(target, "generalLedgerEntries", documentNumber="20000009")
    assert len(entries) == 1
    assert await _rows(target, "customerPayments", documentNumber="20000009") == []


async def test_a_payment_beyond_what_is_open_is_refused_before_any_line(
    target: BusinessCentralTarget,
) -> None:
    await _posted_invoice(target)
    with pytest.raises(FatalError, match="more than the"):
        await target.write(_record("payment", _payment("20000003", "400")))
    with pytest.raises(NotFound, match="no sales invoice"):
        await target.write(_record("payment", _payment("20000004", "10", invoice="10009999")))
    assert await _rows(target, "customerPayments", documentNumber="20000003") == []
    assert await _rows(target, "generalLedgerEntries", documentType="Payment") == []


async def test_payments_written_at_once_each_post_once(target: BusinessCentralTarget) -> None:
    import asyncio

    await _posted_invoice(target)  # the first payments also create the journal batch
    payments = [_payment(f"2000010{n}", "10") for n in range(4)]
    outcomes = await asyncio.gather(*(target.write(_record("payment", p)) for p in payments))
    assert all(o.status == "inserted" for o in outcomes)
    entries = await _rows(target, "generalLedgerEntries", documentType="Payment")
    assert sorted(e["documentNumber"] for e in entries) == sorted(p["number"] for p in payments)
    assert len(await _rows(target, "customerPaymentJournals", code="STPAY")) == 1
