"""ServiceNow as a target of ERP documents: orders and invoices with their lines, payments on
the invoice they pay, all through Import Sets coalescing on the ERP number."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ml_connector.api.errors import RetryableError
from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.config import parse_settings
from ml_connector.secrets import SecretStore
from simulators import servicenow
from simulators.servicenow.maps import AP_OPERATIONS_MAPS
from sinks.base import SinkRecord
from sinks.servicenow import ServiceNowTarget, whole_documents
from tests.clients.conftest import Serve
from tests.clients.connections import sn_connection

ERP = ("erp", "purchase_order"), ("erp", "purchase_invoice"), ("erp", "payment")


@pytest.fixture
async def target(serve: Serve, secrets: SecretStore) -> ServiceNowTarget:
    options = servicenow.ServiceNowOptions(transform_maps=AP_OPERATIONS_MAPS)
    url = serve(servicenow.create_app(options))
    return ServiceNowTarget(ServiceNowClient(sn_connection(url), secrets), whole=frozenset(ERP))


def _line(n: int, quantity: str, account: str = "60100", center: str = "CC200") -> dict[str, Any]:
    return {"line_number": n, "account_number": account, "cost_center": center,
            "description": f"line {n}", "quantity": Decimal(quantity),
            "unit_cost": Decimal("10"), "amount": Decimal(quantity) * 10}  # fmt: skip


def _record(entity: str, doc: dict[str, Any] | None, op: str = "u") -> SinkRecord:
    event = {"after": doc, "before": None, "op": op, "source": {"connection": "erp"}}
    return SinkRecord(f"mlc.sink.sn.{entity}", 0, 0, "id", entity, event)


def _order(quantity: str = "2") -> dict[str, Any]:
    return {"number": "PO000123", "vendor_number": "V00010", "currency": "USD",
            "status": "Open", "total_excluding_tax": Decimal(quantity) * 10 + 30,
            "lines": [_line(1, quantity), _line(2, "3", center="CC300")]}  # fmt: skip


def _bill(number: str = "000777") -> dict[str, Any]:
    return {"number": number, "vendor_invoice_number": "INV-1", "vendor_number": "V00010",
            "currency": "USD", "total_including_tax": Decimal("50"),
            "total_excluding_tax": Decimal("50"), "lines": [_line(1, "5")]}  # fmt: skip


async def _rows(target: ServiceNowTarget, table: str, query: str) -> list[dict[str, Any]]:
    return await target.client.table(table, query=query)


async def test_an_order_lands_with_its_lines_and_a_reread_updates_the_same_rows(
    target: ServiceNowTarget,
) -> None:
    first = await target.write(_record("purchase_order", _order()))
    assert first.ok and first.status == "inserted"
    [order] = await _rows(target, "sn_shop_purchase_order", "u_erp_number=PO000123")
    assert order["sys_id"] == first.target_id and order["total_amount"] == "50"
    again = await target.write(_record("purchase_order", _order()))
    assert again.status == "ignored" and again.target_id == first.target_id

    edited = await target.write(_record("purchase_order", _order(quantity="4")))
    assert edited.status == "updated" and edited.target_id == first.target_id
    assert len(await _rows(target, "sn_shop_purchase_order", "u_erp_number=PO000123")) == 1
    lines = await _rows(target, "sn_shop_purchase_order_line", f"purchase_order={order['sys_id']}")
    assert sorted((line["line_number"], line["quantity"]) for line in lines) == [
        ("1", "4"), ("2", "3")]  # fmt: skip


async def test_an_invoice_line_naming_an_account_servicenow_lacks_is_refused_naming_it(
    target: ServiceNowTarget,
) -> None:
    bill = {**_bill(), "lines": [_line(1, "5", account="99999")]}
    outcome = await target.write(_record("purchase_invoice", bill))
    assert not outcome.ok and "line 1" in str(outcome.error) and "99999" in str(outcome.error)


async def test_a_payment_lands_on_the_invoice_it_pays_once_that_invoice_is_there(
    target: ServiceNowTarget,
) -> None:
    payment = {"number": "000031", "vendor_number": "V00010", "amount": Decimal("50"),
               "applies_to_bill_number": "000777", "posting_date": None}  # fmt: skip
    with pytest.raises(RetryableError, match="no invoice 000777 yet"):
        await target.write(_record("payment", payment))
    written = await target.write(_record("purchase_invoice", _bill()))
    assert written.ok
    paid = await target.write(_record("payment", payment))
    assert paid.ok and paid.target_id == written.target_id
    [invoice] = await _rows(target, "sn_shop_invoice", "u_erp_number=000777")
    assert (invoice["payment_status"], invoice["paid_amount"]) == ("paid", "50")
    assert invoice["payment_reference"] == "000031" and invoice["invoice_number"] == "INV-1"


async def test_columns_are_renamed_per_instance(serve: Serve, secrets: SecretStore) -> None:
    url = serve(servicenow.create_app(servicenow.ServiceNowOptions()))
    tables = {"purchase_order": {"staging": "u_my_order", "target": "u_orders",
                                 "target_key": "u_num", "coalesce": "u_num",
                                 "columns": {"u_po_number": "u_num"}}}  # fmt: skip
    target = ServiceNowTarget(ServiceNowClient(sn_connection(url, document_tables=tables),
                                               secrets))  # fmt: skip
    header = target.documents.header("purchase_order", _order())
    assert header["u_num"] == "PO000123" and "u_po_number" not in header
    assert target.client.connection.document_tables["purchase_invoice"].staging == (
        "sn_spend_intg_imp_invoice"
    )


def test_which_documents_are_written_whole_follows_the_flows() -> None:
    conn = {"system": "servicenow", "instance_url": "https://x.service-now.com",
            "auth": {"kind": "servicenow", "username": "u",
                     "password": {"secret": "p"}}}  # fmt: skip
    erp = {"system": "business_central", "tenant": "t", "environment": "e", "auth": {
        "kind": "entra_client_credentials", "token_url": "https://t/token", "client_id": "c",
        "client_secret": {"secret": "s"}}}  # fmt: skip
    flows = {
        "to-sn": {
            "source": "erp",
            "target": "sn",
            "entities": ["vendor", "purchase_order", "purchase_invoice"],
        },
        "back": {"source": "sn", "target": "erp", "entities": ["purchase_invoice"]},
    }
    settings = parse_settings({"connections": {"sn": conn, "erp": erp}, "flows": flows})
    # The invoices ServiceNow sends come back as their status; the ERP's orders go whole.
    assert whole_documents(settings, "sn") == {("erp", "purchase_order")}
    flows["to-sn"]["returned"] = []
    settings = parse_settings({"connections": {"sn": conn, "erp": erp}, "flows": flows})
    assert whole_documents(settings, "sn") == {("erp", "purchase_order"),
                                               ("erp", "purchase_invoice")}  # fmt: skip
    flows["to-sn"]["returned"] = ["payment"]
    with pytest.raises(Exception, match="returned: payment is not among"):
        parse_settings({"connections": {"sn": conn, "erp": erp}, "flows": flows})
