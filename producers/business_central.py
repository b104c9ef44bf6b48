"""Business Central as a source: its declared streams and their canonical mapping."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ml_connector.api.errors import NotFound
from ml_connector.api.odata import odata_string
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.config import FlowConfig
from ml_connector.connections.business_central import BusinessCentralConnection
from ml_connector.secrets import SecretStore
from ml_connector.streams import CursorField, Parent, read
from ml_connector.streams import Stream as Declared  # a read without a canonical entity
from ml_connector.streams.dialects import ODATA
from ml_connector.streams.literals import odata_datetime
from ml_connector.streams.styles import NEXT_LINK
from producers.events import day, money, parse_timestamp, text
from producers.hint import Hint
from producers.source import StreamSource
from producers.stream import Mapper, Stream

SYSTEM = "business_central"


def vendor(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": r["number"],
        "name": r.get("displayName") or r["number"],
        "address_line1": text(r.get("addressLine1")),
        "address_line2": text(r.get("addressLine2")),
        "city": text(r.get("city")),
        "state": text(r.get("state")),
        "postal_code": text(r.get("postalCode")),
        "country": text(r.get("country")),
        "phone": text(r.get("phoneNumber")),
        "email": text(r.get("email")),
        "tax_id": text(r.get("taxRegistrationNumber")),
        "currency": text(r.get("currencyCode")),
        "payment_terms": text(r.get("paymentTermsId")),
        # BC's blocked is an enum (" ", "Payment", "All"); blank means not blocked.
        "blocked": r.get("blocked") not in (None, False, "", " "),
        "balance": money(r.get("balance")),
    }


def gl_account(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": r["number"],
        "name": r.get("displayName") or r["number"],
        "category": text(r.get("category")),
        "sub_category": text(r.get("subCategory")),
        "account_type": text(r.get("accountType")),
        "direct_posting": bool(r.get("directPosting", True)),
        "blocked": bool(r.get("blocked", False)),
    }


def cost_center(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": r["code"],
        "name": r.get("displayName") or r["code"],
        "dimension": text(r.get("dimensionCode")),
        "blocked": bool(r.get("blocked", False)),
    }


def item(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": r["number"],
        "name": r.get("displayName") or r["number"],
        "type": text(r.get("type")),
        "unit_price": money(r.get("unitPrice")),
        "unit_cost": money(r.get("unitCost")),
        "unit_of_measure": text(r.get("baseUnitOfMeasureCode")),
        "blocked": bool(r.get("blocked", False)),
    }


def invoice_line(r: dict[str, Any]) -> dict[str, Any]:
    kind = text(r.get("lineType"))
    number = text(r.get("lineObjectNumber"))
    return {
        "line_number": int(r.get("sequence") or 0),
        "line_type": kind.lower() if kind else None,
        "item_number": number if kind == "Item" else None,
        "account_number": number if kind == "Account" else None,
        "description": text(r.get("description")),
        "quantity": money(r.get("quantity")),
        "unit_cost": money(r.get("unitCost")),
        "cost_center": None,  # BC documents carry their dimensions on the header
        "amount": money(r.get("amountExcludingTax")),
    }


def purchase_invoice(r: dict[str, Any], *, cost_center_field: str) -> dict[str, Any]:
    """A BC purchase invoice, draft or posted; ``status`` says which (Draft, Open, Paid...)."""
    return {
        "number": r["number"],
        "vendor_invoice_number": text(r.get("vendorInvoiceNumber")),
        "vendor_number": r.get("vendorNumber") or "",
        "vendor_ref": None,
        "order_number": text(r.get("orderNumber")),
        "invoice_date": day(r.get("invoiceDate")),
        "posting_date": day(r.get("postingDate")),
        "due_date": day(r.get("dueDate")),
        "currency": text(r.get("currencyCode")),
        "status": text(r.get("status")),
        "cost_center": text(r.get(cost_center_field)),
        "total_excluding_tax": money(r.get("totalAmountExcludingTax")),
        "total_including_tax": money(r.get("totalAmountIncludingTax")),
        "lines": sorted(
            (invoice_line(line) for line in r.get("purchaseInvoiceLines") or []),
            key=lambda line: int(line["line_number"]),
        ),
    }


CURSOR = CursorField("lastModifiedDateTime", odata_datetime)


def bc_stream(
    entity: str,
    path: str,
    to_canonical: Mapper,
    *,
    expand: str | None = None,
    parent: Parent | None = None,
) -> Stream:
    """An API v2.0 entity set of the company (BC, and NAV / BC on-premises alike)."""
    return Stream(entity=entity, path=path, to_canonical=to_canonical, dialect=ODATA,
                  paging=NEXT_LINK, cursor=CURSOR, version_field="@odata.etag", expand=expand,
                  parent=parent)  # fmt: skip


STREAMS: dict[str, Stream] = {
    "vendor": bc_stream("vendor", "vendors", vendor),
    "gl_account": bc_stream("gl_account", "accounts", gl_account),
    "item": bc_stream("item", "items", item),
}


def cost_centers(dimension: str) -> Stream:
    """Cost centers are the values of one dimension, chosen per flow (cost_center_dimension):
    ``dimensions({id})/dimensionValues`` of the dimension with that code."""
    dimensions = Declared(path="dimensions", dialect=ODATA, paging=NEXT_LINK,
                        filter=f"code eq {odata_string(dimension)}")  # fmt: skip
    within = Parent(dimensions, "dimensions({id})/dimensionValues",
                    carry={"dimensionCode": "code"},
                    missing=f"Business Central has no dimension {dimension!r} "
                            "(flows.<name>.cost_center_dimension)")  # fmt: skip
    return bc_stream("cost_center", "dimensionValues", cost_center, parent=within)


def streams(cost_center_dimension: str, cost_center_shortcut: int) -> dict[str, Stream]:
    """Every stream, documents reading the cost center from the company's shortcut field."""
    invoice = partial(
        purchase_invoice, cost_center_field=f"shortcutDimension{cost_center_shortcut}Code"
    )
    return {
        **STREAMS,
        "cost_center": cost_centers(cost_center_dimension),
        # Lines come with the header: a line change notifies the header only.
        "purchase_invoice": bc_stream("purchase_invoice", "purchaseInvoices", invoice,
                                      expand="purchaseInvoiceLines"),
    }  # fmt: skip


class BusinessCentralSource(StreamSource):
    def __init__(
        self,
        client: BusinessCentralClient,
        *,
        cost_center_dimension: str,
        cost_center_shortcut: int = 2,
    ) -> None:
        declared = streams(cost_center_dimension, cost_center_shortcut)
        super().__init__(SYSTEM, client, declared, client.company_id)
        self.bc = client

    def entity_for(self, hint: Hint) -> str | None:
        # A deleted dimension value notifies its dimension: not a cost center going away.
        return None if hint.entity_set == "dimensions" and hint.change_type == "deleted" else (
            NOTIFIED.get(hint.entity_set))  # fmt: skip

    async def records_for(self, hint: Hint) -> tuple[str | None, list[dict[str, Any]]]:
        """What a notification points at: a record read by id, or (for a ``collection``, or a
        dimension whose values changed) a delta read. Deletes carry nothing to read."""
        entity = self.entity_for(hint)
        if entity is None or hint.change_type == "deleted":
            return entity, []
        stream = self.streams[entity]
        if hint.change_type == "collection" or hint.entity_set == "dimensions":
            since = _filter_since(hint.resource)
            return entity, [r async for page in read(self.bc, stream, since) for r in page]
        try:
            record = await self.bc.get(stream.path, str(hint.record_id), expand=stream.expand)
            return entity, [record]
        except NotFound:
            return entity, []  # deleted again before we looked: a 'deleted' hint follows


# Entity sets BC notifies about -> the stream whose records they change.
NOTIFIED = {
    "vendors": "vendor",
    "accounts": "gl_account",
    "dimensions": "cost_center",
    "items": "item",
    "purchaseInvoices": "purchase_invoice",
}


def _filter_since(resource: str) -> datetime | None:
    """The lower bound of a collection's ``$filter=lastModifiedDateTime gt ...``, if any."""
    query = parse_qs(urlsplit(resource).query).get("$filter", [""])[0]
    _, sep, value = query.partition(" gt ")
    return parse_timestamp(value.strip()) if sep else None


ENTITIES = tuple(streams("", 2))


def source(
    connection: BusinessCentralConnection, flow: FlowConfig, secrets: SecretStore
) -> BusinessCentralSource:
    return BusinessCentralSource(
        BusinessCentralClient(connection, secrets),
        cost_center_dimension=flow.cost_center_dimension,
        cost_center_shortcut=flow.cost_center_shortcut,
    )
