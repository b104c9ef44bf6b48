"""Business Central purchase invoices as a source, and their status as a ServiceNow target,
against the simulators over real HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.secrets import SecretStore
from ml_connector.streams import read
from producers.business_central import BusinessCentralSource
from producers.hint import Hint
from simulators import business_central, servicenow
from sinks.base import SinkRecord
from sinks.servicenow import ServiceNowTarget
from tests.clients.conftest import Serve
from tests.clients.connections import bc_connection, sn_connection


@pytest.fixture
async def source(serve: Serve, secrets: SecretStore) -> BusinessCentralSource:
    options = business_central.BusinessCentralOptions(purchase_invoice_count=6)
    url = serve(business_central.create_app(options))
    client = BusinessCentralClient(bc_connection(url), secrets)
    return BusinessCentralSource(client, cost_center_dimension="COSTCENTER",
                                 cost_center_shortcut=2)  # fmt: skip


@pytest.fixture
async def target(serve: Serve, secrets: SecretStore) -> ServiceNowTarget:
    url = serve(servicenow.create_app(servicenow.ServiceNowOptions(invoice_count=3)))
    return ServiceNowTarget(ServiceNowClient(sn_connection(url), secrets))


async def test_purchase_invoices_are_read_with_their_lines(source: BusinessCentralSource) -> None:
    stream = source.streams["purchase_invoice"]
    raw = [r async for page in read(source.client, stream) for r in page]
    docs = [stream.to_canonical(r) for r in raw]
    assert len(docs) == 6
    assert {d["status"] for d in docs} <= {"Draft", "Open"}
    for r, d in zip(raw, docs, strict=True):
        assert d["number"] == r["number"] and d["vendor_number"] == r["vendorNumber"]
        assert d["cost_center"] == (r["shortcutDimension2Code"] or None)
        assert d["total_including_tax"] == Decimal(str(r["totalAmountIncludingTax"]))
        assert len(d["lines"]) == len(r["purchaseInvoiceLines"]) > 0
        numbers = [line["account_number"] or line["item_number"] for line in d["lines"]]
        assert numbers == [x["lineObjectNumber"] for x in r["purchaseInvoiceLines"]]

    # A notification names the header only: the record is fetched with its lines.
    hint = Hint("bc", "purchaseInvoices", "updated", raw[0]["id"], "", None)
    entity, fetched = await source.records_for(hint)
    assert entity == "purchase_invoice"
    assert [stream.to_canonical(r) for r in fetched] == [docs[0]]
    await source.aclose()


def _bc_invoice(number: str, sn_number: str | None, status: str) -> dict[str, Any]:
    return {"number": number, "vendor_invoice_number": sn_number, "vendor_number": "V00010",
            "status": status, "total_including_tax": Decimal("118.50"), "lines": []}  # fmt: skip


def _record(doc: dict[str, Any] | None, op: str = "u") -> SinkRecord:
    event = {"after": doc, "before": None if doc else {"number": "PI1"}, "op": op}
    return SinkRecord("mlc.sink.sn.purchase_invoice", 0, 0, "bc-id", "purchase_invoice", event)


async def _invoice(target: ServiceNowTarget, number: str) -> dict[str, Any]:
    [row] = await target.client.table("sn_shop_invoice", query=f"number={number}")
    return row


async def test_what_bc_did_with_an_invoice_lands_on_the_servicenow_invoice(
    target: ServiceNowTarget,
) -> None:
    held = await _invoice(target, "APINV0000002")
    posted = await target.write(_record(_bc_invoice("PI-108001", "APINV0000002", "Open")))
    assert (posted.status, posted.target_id) == ("updated", held["sys_id"])
    row = await _invoice(target, "APINV0000002")
    assert (row["u_erp_number"], row["u_erp_status"], row["payment_status"]) == (
        "PI-108001", "Open", "unpaid")  # fmt: skip

    paid = await target.write(_record(_bc_invoice("PI-108001", "APINV0000002", "Paid")))
    assert paid.status == "updated"
    row = await _invoice(target, "APINV0000002")
    assert (row["u_erp_status"], row["payment_status"], row["paid_amount"]) == (
        "Paid", "paid", "118.5")  # fmt: skip
    # Nothing else in the invoice changed, and no invoice was added.
    assert row["total_amount"] == held["total_amount"] and row["approval"] == held["approval"]
    assert len(await target.client.table("sn_shop_invoice")) == 3
    await target.aclose()


async def test_bc_invoices_servicenow_never_sent_are_left_alone(target: ServiceNowTarget) -> None:
    before = await target.client.table("sn_shop_invoice")
    own = await target.write(_record(_bc_invoice("PI00010", "INV-55555", "Open")))
    unnumbered = await target.write(_record(_bc_invoice("PI00020", None, "Open")))
    deleted = await target.write(_record(None, op="d"))
    assert [o.status for o in (own, unnumbered, deleted)] == ["ignored"] * 3
    assert all(o.ok for o in (own, unnumbered, deleted))
    assert own.note == ("PI00010 names no sn_shop_invoice record (INV-55555): entered in the "
                        "ERP, not sent by ServiceNow")  # fmt: skip
    assert deleted.note is not None and "keeps its last status" in deleted.note
    assert await target.client.table("sn_shop_invoice") == before
    staged = await target.client.table("sn_spend_intg_imp_invoice_payment_detail")
    assert staged == []  # not even a staging row
    await target.aclose()
