"""Canonical purchase documents rendered as Business Central bodies, and compared with BC's."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ml_connector.api.errors import FatalError
from sinks.business_central_documents import INVOICE, ORDER, References, differences, render

REFS = References("vendor-guid", {"60100": "acct-60100", "60200": "acct-60200"}, {"1000": "item"})
SHORTCUT = "shortcutDimension2Code"


def _line(n: int, account: str | None = "60100", **extra: Any) -> dict[str, Any]:
    return {"line_number": n, "line_type": "account", "item_number": None,
            "account_number": account, "description": f"line {n}",
            "quantity": Decimal("3.0000"), "unit_cost": Decimal("204.8400"),
            "cost_center": "CC200", "amount": Decimal("614.5200"), **extra}  # fmt: skip


def _invoice(**extra: Any) -> dict[str, Any]:
    return {"number": "APINV0000002", "vendor_invoice_number": "INV-74586",
            "vendor_number": "v00090", "invoice_date": date(2024, 2, 1), "posting_date": None,
            "due_date": None, "currency": "USD", "cost_center": "cc200",
            "lines": [_line(1), _line(2, "60200")], **extra}  # fmt: skip


def test_an_invoice_is_keyed_by_the_servicenow_number_with_resolved_lines() -> None:
    body = render(INVOICE, _invoice(), REFS, SHORTCUT)
    assert body == {
        "vendorInvoiceNumber": "APINV0000002",
        "vendorId": "vendor-guid",
        "vendorNumber": "V00090",  # BC codes are upper case
        "invoiceDate": "2024-02-01",  # dates BC was not given are left to BC
        "currencyCode": "USD",
        "shortcutDimension2Code": "CC200",
        "purchaseInvoiceLines": [
            {"lineType": "Account", "accountId": "acct-60100", "lineObjectNumber": "60100",
             "description": "line 1", "quantity": 3.0, "unitCost": 204.84},
            {"lineType": "Account", "accountId": "acct-60200", "lineObjectNumber": "60200",
             "description": "line 2", "quantity": 3.0, "unitCost": 204.84},
        ],
    }  # fmt: skip


def test_an_order_takes_the_servicenow_number_as_its_own() -> None:
    order = {"number": "SPO0000001", "vendor_number": "V00020", "order_date": date(2024, 1, 8),
             "currency": None, "cost_center": None,
             "lines": [_line(1, account=None, item_number="1000", cost_center=None)]}  # fmt: skip
    body = render(ORDER, order, REFS, "shortcutDimension1Code")
    assert body["number"] == "SPO0000001" and body["orderDate"] == "2024-01-08"
    assert "currencyCode" not in body and "shortcutDimension1Code" not in body
    assert body["purchaseOrderLines"] == [
        {"lineType": "Item", "itemId": "item", "lineObjectNumber": "1000",
         "description": "line 1", "quantity": 3.0, "directUnitCost": 204.84}
    ]  # fmt: skip


def test_lines_on_several_cost_centers_or_on_nothing_are_refused() -> None:
    split = _invoice(lines=[_line(1), _line(2, cost_center="CC300")])
    with pytest.raises(FatalError, match="cost centers CC200, CC300"):
        render(INVOICE, split, REFS, SHORTCUT)
    with pytest.raises(FatalError, match="neither a G/L account nor an item"):
        render(INVOICE, _invoice(lines=[_line(1, account=None)]), REFS, SHORTCUT)


def test_a_long_description_is_cut_to_what_bc_holds() -> None:
    body = render(INVOICE, _invoice(lines=[_line(1, description="x" * 150)]), REFS, SHORTCUT)
    assert len(body["purchaseInvoiceLines"][0]["description"]) == 100


def _held(body: dict[str, Any]) -> dict[str, Any]:
    """What BC answers for a document created from ``body``: ids, etag, numbers as JSON."""
    lines = [{"id": f"l{i}", "sequence": 10000 * (i + 1), **line}
             for i, line in enumerate(body["purchaseInvoiceLines"])]  # fmt: skip
    return {**body, "id": "doc", "vendorId": "VENDOR-GUID", "status": "Draft",
            "@odata.etag": 'W/"x"', "purchaseInvoiceLines": lines[::-1]}  # fmt: skip


def test_a_document_bc_already_holds_shows_no_differences() -> None:
    body = render(INVOICE, _invoice(), REFS, SHORTCUT)
    assert not differences(INVOICE, _held(body), body)


def test_differences_name_header_fields_and_lines() -> None:
    body = render(INVOICE, _invoice(), REFS, SHORTCUT)
    changed = render(INVOICE, _invoice(cost_center="CC300", lines=[_line(1, cost_center="CC300")]),
                     REFS, SHORTCUT)  # fmt: skip
    diff = differences(INVOICE, _held(body), changed)
    assert diff.header == {"shortcutDimension2Code": "CC300"}
    assert diff.lines  # one line fewer
    more = render(INVOICE, _invoice(lines=[_line(1, quantity=Decimal("4")), _line(2, "60200")]),
                  REFS, SHORTCUT)  # fmt: skip
    assert differences(INVOICE, _held(body), more) and not differences(INVOICE, _held(body), body)
