"""ServiceNow as a source: Source-to-Pay purchase orders and approved AP invoices, with lines.

ServiceNow cannot notify anyone, so its tables are polled: each is a declared stream read by
(sys_updated_on, sys_id) keyset. Lines live in their own table, a child stream the reader
fetches per page of headers in a few ``IN`` queries. Column names differ between Procurement
(proc_po) and Source-to-Pay (sn_shop_*) tables, so each known table has a profile of column
paths, dot-walked through references where the value sits on another table
(``supplier.u_erp_vendor_number``: the ERP vendor number is the supplier's, not the order's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any
from urllib.parse import urlparse

from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.config import FlowConfig
from ml_connector.connections.servicenow import (
    ServiceNowConnection,
    SourceTable,
    default_source_tables,
)
from ml_connector.secrets import SecretStore
from ml_connector.streams import Child, CursorField, read
from ml_connector.streams import Stream as Declared  # a read without a canonical entity
from ml_connector.streams.dialects import ENCODED_QUERY
from ml_connector.streams.literals import servicenow_time
from ml_connector.streams.styles import KEYSET, LINK_PAGES
from producers.events import day, money, text
from producers.hint import Hint
from producers.source import StreamSource
from producers.stream import Stream

SYSTEM = "servicenow"
LINES = "@lines"  # where a header carries its line rows; '@' is never in a column name
IN_CHUNK = 100  # header sys_ids per line query: keeps the URL well under common limits
SYSTEM_COLUMNS = ("sys_id", "sys_updated_on", "sys_mod_count")
CURSOR = CursorField("sys_updated_on", servicenow_time)

Columns = Mapping[str, str]  # canonical field -> column path ("" : the table has none)

# Lines of both Source-to-Pay documents share their columns.
SN_SHOP_LINE: Columns = {
    "line_number": "line_number",
    "account_number": "gl_account.account_number",
    "item_number": "",
    "description": "description",
    "quantity": "quantity",
    "unit_cost": "unit_price",
    "amount": "total_amount",
    "cost_center": "cost_center.code",
}


@dataclass(frozen=True)
class Profile:
    """What a known header table brings: its line table and where its values sit."""

    line_table: str
    line_parent: str
    header: Columns
    line: Columns


SN_SHOP_ORDER = Profile(
    "sn_shop_purchase_order_line",
    "purchase_order",
    {
        "number": "number",
        "vendor_number": "supplier.u_erp_vendor_number",
        "vendor_ref": "supplier",
        "order_date": "order_date",
        "currency": "currency",
        "status": "state",
        "cost_center": "cost_center.code",
        "total": "total_amount",
    },
    SN_SHOP_LINE,
)
PROC_PO = Profile(
    "proc_po_item",
    "purchase_order",
    {
        "number": "number",
        "vendor_number": "vendor.u_vendor_number",
        "vendor_ref": "vendor",
        "order_date": "po_date",
        "currency": "currency",
        "status": "status",
        "cost_center": "cost_center.code",
        "total": "total_cost",
    },
    {
        "line_number": "u_line_number",
        "account_number": "u_gl_account.account_number",
        "item_number": "",
        "description": "short_description",
        "quantity": "ordered_quantity",
        "unit_cost": "cost",
        "amount": "total_cost",
        "cost_center": "",  # proc_po_item has none: the order's applies
    },
)
SN_SHOP_INVOICE = Profile(
    "sn_shop_invoice_line",
    "invoice",
    {
        "number": "number",
        "vendor_invoice_number": "invoice_number",
        "vendor_number": "supplier.u_erp_vendor_number",
        "vendor_ref": "supplier",
        "order_number": "purchase_order.number",
        "invoice_date": "invoice_date",
        "due_date": "due_date",
        "currency": "currency",
        "status": "state",
        "cost_center": "cost_center.code",
        "total": "total_amount",
        "tax": "tax_amount",
    },
    SN_SHOP_LINE,
)
PROFILES: Mapping[str, Profile] = {
    "sn_shop_purchase_order": SN_SHOP_ORDER,
    "proc_po": PROC_PO,
    "sn_shop_invoice": SN_SHOP_INVOICE,
    "sn_apo_invoice": SN_SHOP_INVOICE,  # the product page's name for the AP invoice table
}
DEFAULT_PROFILES: Mapping[str, Profile] = {
    "purchase_order": SN_SHOP_ORDER,
    "purchase_invoice": SN_SHOP_INVOICE,
}


# -- mapping -------------------------------------------------------------------------------


def value(row: Mapping[str, Any], columns: Columns, name: str) -> str | None:
    """A canonical field's raw value; ServiceNow's empty string means no value."""
    path = columns.get(name, "")
    return text(row.get(path)) if path else None


def lines(
    row: Mapping[str, Any], columns: Columns, cost_center: str | None
) -> list[dict[str, Any]]:
    out = []
    for n, line in enumerate(row.get(LINES, []), start=1):
        account, item = value(line, columns, "account_number"), value(line, columns, "item_number")
        number = value(line, columns, "line_number")
        out.append(
            {
                "line_number": int(Decimal(number)) if number else n,
                "line_type": "item" if item else "account" if account else None,
                "item_number": item,
                "account_number": account,
                "description": value(line, columns, "description"),
                "quantity": money(value(line, columns, "quantity")),
                "unit_cost": money(value(line, columns, "unit_cost")),
                # A line without its own cost center is charged to the document's.
                "cost_center": value(line, columns, "cost_center") or cost_center,
                "amount": money(value(line, columns, "amount")),
            }
        )
    return sorted(out, key=lambda line: int(line["line_number"]))


def purchase_order(row: dict[str, Any], *, header: Columns, line: Columns) -> dict[str, Any]:
    cost_center = value(row, header, "cost_center")
    return {
        # Missing keys map to "" rather than failing the poll: the sink refuses such a
        # document with a reason, where a mapping error would stall the whole stream.
        "number": value(row, header, "number") or "",
        "vendor_number": value(row, header, "vendor_number") or "",
        "vendor_ref": value(row, header, "vendor_ref"),
        "order_date": day(value(row, header, "order_date")),
        "currency": value(row, header, "currency"),
        "status": value(row, header, "status"),
        "cost_center": cost_center,
        "total_excluding_tax": money(value(row, header, "total")),
        "total_including_tax": None,
        "lines": lines(row, line, cost_center),
    }


def purchase_invoice(row: dict[str, Any], *, header: Columns, line: Columns) -> dict[str, Any]:
    cost_center = value(row, header, "cost_center")
    total, tax = money(value(row, header, "total")), money(value(row, header, "tax"))
    return {
        "number": value(row, header, "number") or "",
        "vendor_invoice_number": value(row, header, "vendor_invoice_number"),
        "vendor_number": value(row, header, "vendor_number") or "",
        "vendor_ref": value(row, header, "vendor_ref"),
        "order_number": value(row, header, "order_number"),
        "invoice_date": day(value(row, header, "invoice_date")),
        "posting_date": None,
        "due_date": day(value(row, header, "due_date")),
        "currency": value(row, header, "currency"),
        "status": value(row, header, "status"),
        "cost_center": cost_center,
        # An invoice's total includes its tax; without a stated tax it is the net amount too.
        "total_excluding_tax": total - tax if total is not None and tax is not None else total,
        "total_including_tax": total,
        "lines": lines(row, line, cost_center),
    }


MAPPERS: Mapping[str, Callable[..., dict[str, Any]]] = {
    "purchase_order": purchase_order,
    "purchase_invoice": purchase_invoice,
}


# -- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How one entity is read: resolved from the connection's source_tables entry."""

    table: str
    line_table: str
    line_parent: str
    query: str
    header: Columns
    line: Columns

    @classmethod
    def of(cls, entity: str, conf: SourceTable) -> Plan:
        known = PROFILES.get(conf.table)
        base = known or DEFAULT_PROFILES[entity]
        line_table = conf.line_table or (known.line_table if known else None)
        line_parent = conf.line_parent or (known.line_parent if known else None)
        if line_table is None or line_parent is None:
            raise ValueError(
                f"source_tables.{entity}: {conf.table!r} is not a known table; "
                "give its line_table and line_parent (and columns where they differ)"
            )
        return cls(conf.table, line_table, line_parent, conf.query or "",
                   {**base.header, **conf.columns}, {**base.line, **conf.line_columns})  # fmt: skip

    def stream(self, entity: str) -> Stream:
        """The declared read: headers by (sys_updated_on, sys_id) keyset, narrowed by the
        source's query, each page's lines read from their own table by an ``IN`` query."""
        mapper = partial(MAPPERS[entity], header=self.header, line=self.line)
        lines = Declared(path=self.line_table, dialect=ENCODED_QUERY, paging=LINK_PAGES,
                               key_field="sys_id", select=tuple(self.line_fields))  # fmt: skip
        return Stream(entity=entity, path=self.table, to_canonical=mapper, dialect=ENCODED_QUERY,
                      paging=KEYSET, cursor=CURSOR, key_field="sys_id",
                      version_field="sys_mod_count", select=tuple(self.header_fields),
                      filter=self.query or None,
                      children=(Child(lines, self.line_parent, LINES, IN_CHUNK),))  # fmt: skip

    @property
    def header_fields(self) -> list[str]:
        return sorted({*SYSTEM_COLUMNS, *(c for c in self.header.values() if c)})

    @property
    def line_fields(self) -> list[str]:
        return sorted({"sys_id", self.line_parent, *(c for c in self.line.values() if c)})


class ServiceNowSource(StreamSource):
    """Headers with sys_updated_on at or after the bound, each carrying its lines.

    A line edited alone does not move its header's sys_updated_on, so such an edit is seen
    with the header's next change.
    """

    def __init__(self, client: ServiceNowClient) -> None:
        connection = client.connection
        self.plans = {
            entity: Plan.of(entity, conf)
            for entity, conf in connection.source_tables.items()
            if entity in MAPPERS
        }
        declared = {entity: plan.stream(entity) for entity, plan in self.plans.items()}
        self.instance = urlparse(connection.instance_url).hostname or connection.instance_url
        super().__init__(SYSTEM, client, declared, self._instance)

    async def _instance(self) -> str:
        return self.instance

    def entity_for(self, hint: Hint) -> str | None:
        return next((e for e, plan in self.plans.items() if plan.table == hint.entity_set), None)

    async def records_for(self, hint: Hint) -> tuple[str | None, list[dict[str, Any]]]:
        """A Business Rule push names a table and a sys_id: read that document (if it still
        passes the source's filter, e.g. an approved invoice) with its lines."""
        entity = self.entity_for(hint)
        if entity is None or not hint.record_id:
            return None, []
        found = read(self.client, self.streams[entity], where=f"sys_id={hint.record_id}")
        return entity, [r async for page in found for r in page]


def source(
    connection: ServiceNowConnection, flow: FlowConfig, secrets: SecretStore
) -> ServiceNowSource:
    return ServiceNowSource(ServiceNowClient(connection, secrets))


ENTITIES = tuple(e for e in default_source_tables() if e in MAPPERS)
