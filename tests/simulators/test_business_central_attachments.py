"""Business Central ``documentAttachments`` over HTTPS, as API v2.0 documents them
(api-reference/v2.0/resources/dynamics_documentattachment.md and its GET/POST/PATCH/DELETE
pages): create with JSON, write ``attachmentContent`` as a stream with If-Match, read it back,
at company level and through the purchase / sales invoice navigation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from simulators import business_central
from tests.simulators.support import bc_company_over_https

SCAN = b"%PDF-1.7\n" + bytes(range(256)) * 3


@pytest.fixture
def bc() -> Iterator[httpx.Client]:
    options = business_central.BusinessCentralOptions(vendor_count=3, attachment_max_bytes=2048)
    with bc_company_over_https(business_central.create_app(options)) as client:
        yield client


def _first(client: httpx.Client, entity_set: str) -> dict[str, Any]:
    response = client.get(entity_set, params={"$top": "1"})
    assert response.status_code == 200, response.text
    return dict(response.json()["value"][0])


def test_attach_a_scan_to_a_purchase_invoice_and_read_it_back(bc: httpx.Client) -> None:
    invoice = _first(bc, "purchaseInvoices")
    created = bc.post(
        "documentAttachments",
        json={"fileName": "scan.pdf", "parentType": "Purchase Invoice", "parentId": invoice["id"]},
    )
    assert created.status_code == 201, created.text
    attachment = created.json()
    assert attachment["fileName"] == "scan.pdf"
    assert attachment["parentType"] == "Purchase Invoice"
    assert attachment["parentId"] == invoice["id"]
    assert attachment["byteSize"] == 0
    link = attachment["attachmentContent@odata.mediaEditLink"]
    assert link == attachment["attachmentContent@odata.mediaReadLink"]
    assert link.endswith(f"/documentAttachments({attachment['id']})/attachmentContent")
    assert bc.get(link).status_code == 204  # nothing written yet

    unconditional = bc.patch(link, content=SCAN)
    assert unconditional.status_code == 400  # If-Match is required
    written = bc.patch(
        link,
        content=SCAN,
        headers={"If-Match": created.headers["etag"], "Content-Type": "application/octet-stream"},
    )
    assert written.status_code == 204, written.text
    stale = bc.patch(link, content=b"x", headers={"If-Match": created.headers["etag"]})
    assert stale.status_code == 412

    download = bc.get(link)
    assert download.status_code == 200
    assert download.content == SCAN
    again = bc.get(f"documentAttachments({attachment['id']})").json()
    assert again["byteSize"] == len(SCAN)
    assert again["@odata.etag"] == written.headers["etag"]

    nested = bc.get(f"purchaseInvoices({invoice['id']})/documentAttachments").json()["value"]
    assert attachment["id"] in [a["id"] for a in nested]
    assert all(a["parentId"] == invoice["id"] for a in nested)
    filtered = bc.get(
        "documentAttachments", params={"$filter": f"parentId eq {invoice['id']}"}
    ).json()["value"]
    assert [a["id"] for a in filtered] == [a["id"] for a in nested]

    assert (
        bc.delete(link.removesuffix("/attachmentContent"), headers={"If-Match": "*"}).status_code
        == 204
    )
    assert bc.get(link).status_code == 404


def test_navigation_post_sets_the_parent_and_numbers_lines_by_10000(bc: httpx.Client) -> None:
    invoice = _first(bc, "salesInvoices")
    path = f"salesInvoices({invoice['id']})/documentAttachments"
    first = bc.post(path, json={"fileName": "a.txt"})
    second = bc.post(path, json={"fileName": "b.txt", "documentFlowSales": True})
    assert first.status_code == second.status_code == 201, first.text
    assert (first.json()["parentType"], first.json()["parentId"]) == (
        "Sales Invoice",
        invoice["id"],
    )
    assert second.json()["lineNumber"] - first.json()["lineNumber"] == 10000
    assert second.json()["documentFlowSales"] is True
    content = f"{path}({first.json()['id']})/attachmentContent"
    assert bc.put(content, content=b"hello", headers={"If-Match": "*"}).status_code == 204
    assert bc.get(content).content == b"hello"
    # Read through another invoice, the attachment does not exist.
    other = bc.get("salesInvoices", params={"$skip": "1", "$top": "1"}).json()["value"][0]
    elsewhere = f"salesInvoices({other['id']})/documentAttachments({first.json()['id']})"
    assert bc.get(elsewhere).status_code == 404


def test_seeded_invoice_scan_is_readable(bc: httpx.Client) -> None:
    seeded = bc.get("documentAttachments").json()["value"]
    assert seeded
    content = bc.get(seeded[0]["attachmentContent@odata.mediaReadLink"])
    assert content.status_code == 200
    assert len(content.content) == seeded[0]["byteSize"]


def test_undocumented_or_wrong_requests_are_refused(bc: httpx.Client) -> None:
    invoice = _first(bc, "purchaseInvoices")
    parent = {"parentType": "Purchase Invoice", "parentId": invoice["id"]}
    refused = {
        "no parent": bc.post("documentAttachments", json={"fileName": "x.pdf"}),
        "no file name": bc.post("documentAttachments", json=parent),
        "inline content": bc.post(
            "documentAttachments", json={"fileName": "x.pdf", **parent, "attachmentContent": "AA=="}
        ),
        "unknown type": bc.post(
            "documentAttachments", json={"fileName": "x.pdf", **parent, "parentType": "Invoice"}
        ),
        "type not served": bc.post(
            "documentAttachments", json={"fileName": "x.pdf", **parent, "parentType": "Journal"}
        ),
        "bad guid": bc.post(
            "documentAttachments", json={"fileName": "x.pdf", **parent, "parentId": "nope"}
        ),
        "unknown property": bc.post(
            "documentAttachments", json={"fileName": "x.pdf", **parent, "color": "red"}
        ),
    }
    for case, response in refused.items():
        assert response.status_code == 400, (case, response.text)
        assert response.json()["error"]["code"] == "BadRequest", case
    missing_parent = bc.post(
        "documentAttachments",
        json={"fileName": "x.pdf", **parent, "parentId": "00000000-0000-0000-0000-0000000000aa"},
    )
    missing_invoice = bc.get(
        "purchaseInvoices(00000000-0000-0000-0000-0000000000aa)/documentAttachments"
    )
    assert missing_parent.status_code == missing_invoice.status_code == 404

    created = bc.post("documentAttachments", json={"fileName": "big.bin", **parent}).json()
    link = created["attachmentContent@odata.mediaEditLink"]
    too_large = bc.patch(link, content=b"x" * 2049, headers={"If-Match": "*"})
    assert too_large.status_code == 413
    assert bc.get(f"documentAttachments({created['id']})").json()["byteSize"] == 0
