"""Business Central ``$expand`` over HTTPS: documented navigation properties of v2.0 entities
(api-reference/v2.0/resources/dynamics_purchaseinvoice.md and siblings, "Navigation") and
nested query options (OData v4 Part 2, 5.1.2), e.g. ``purchaseInvoiceLines($select=...)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from simulators import business_central
from tests.simulators.support import bc_company_over_https


@pytest.fixture(scope="module")
def bc() -> Iterator[httpx.Client]:
    options = business_central.BusinessCentralOptions(vendor_count=3)
    with bc_company_over_https(business_central.create_app(options)) as client:
        yield client


def _get(client: httpx.Client, path: str, **params: str) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_purchase_invoice_expands_its_vendor_as_one_object(bc: httpx.Client) -> None:
    invoices = _get(bc, "purchaseInvoices", **{"$expand": "vendor,purchaseInvoiceLines"})["value"]
    assert invoices
    for invoice in invoices:
        vendor = _get(bc, f"vendors({invoice['vendorId']})")
        assert invoice["vendor"]["id"] == invoice["vendorId"]
        assert invoice["vendor"]["number"] == invoice["vendorNumber"] == vendor["number"]
        assert isinstance(invoice["purchaseInvoiceLines"], list)


def test_sales_invoice_and_purchase_order_expand_their_parties(bc: httpx.Client) -> None:
    sales = _get(bc, "salesInvoices", **{"$expand": "customer($select=number,displayName)"})
    first = sales["value"][0]
    assert first["customer"] == {
        "@odata.etag": first["customer"]["@odata.etag"],
        "number": first["customerNumber"],
        "displayName": _get(bc, f"customers({first['customerId']})")["displayName"],
    }
    order = _get(bc, "purchaseOrders", **{"$top": "1", "$expand": "vendor($select=number)"})
    assert order["value"][0]["vendor"]["number"] == order["value"][0]["vendorNumber"]


def test_nested_select_filter_and_orderby_on_lines(bc: httpx.Client) -> None:
    header = _get(bc, "purchaseInvoices", **{"$expand": "purchaseInvoiceLines"})["value"]
    with_lines = next(h for h in header if len(h["purchaseInvoiceLines"]) >= 2)
    lines = with_lines["purchaseInvoiceLines"]
    expanded = _get(
        bc,
        f"purchaseInvoices({with_lines['id']})",
        **{
            "$expand": "purchaseInvoiceLines($select=sequence,description;"
            "$orderby=sequence desc;$filter=sequence ne "
            f"{lines[0]['sequence']}),vendor($select=number)"
        },
    )
    nested = expanded["purchaseInvoiceLines"]
    assert [line["sequence"] for line in nested] == sorted(
        (line["sequence"] for line in lines[1:]), reverse=True
    )
    assert all(set(line) == {"@odata.etag", "sequence", "description"} for line in nested)
    assert set(expanded["vendor"]) == {"@odata.etag", "number"}


def test_line_expands_its_item_and_an_empty_reference_is_null(bc: httpx.Client) -> None:
    invoices = _get(bc, "salesInvoices", **{"$expand": "salesInvoiceLines($expand=item)"})
    lines = [line for inv in invoices["value"] for line in inv["salesInvoiceLines"]]
    assert lines
    for line in lines:
        if line["itemId"] in ("", None, "00000000-0000-0000-0000-000000000000"):
            assert line["item"] is None
        else:
            assert line["item"]["id"] == line["itemId"]


@pytest.mark.parametrize(
    ("expand", "fragment"),
    [
        ("vendr", "vendr"),
        ("currency", "currency"),  # documented, but this simulator has no currencies set
        ("vendor($select=nosuch)", "nosuch"),
        ("purchaseInvoiceLines($levels=2)", "$levels"),
        ("purchaseInvoiceLines($select=sequence", "Syntax error"),
    ],
)
def test_unknown_navigation_and_unsupported_nested_options_are_400(
    bc: httpx.Client, expand: str, fragment: str
) -> None:
    response = bc.get("purchaseInvoices", params={"$expand": expand})
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]
