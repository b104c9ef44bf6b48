"""ServiceNow as a target: canonical entities rendered into Import Set staging rows.

The staging table's transform map coalesces on the ERP key, so sending a row again updates the
same target record: that is what makes re-sends, replays and offset resets safe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.config import Settings
from ml_connector.connections.servicenow import DocumentTable, ServiceNowConnection, StagingTable
from ml_connector.flows import returned_documents
from sinks.base import Outcome, SinkRecord, TargetContext
from sinks.batching import Result, each
from sinks.overrides import Overrides, Refused
from sinks.servicenow_documents import ENTITIES as DOCUMENT_ENTITIES
from sinks.servicenow_documents import TARGET_FIELDS as DOCUMENT_FIELDS
from sinks.servicenow_documents import DocumentWriter, header_columns
from sinks.servicenow_imports import Plan, write_many, write_one
from sinks.servicenow_values import quoted
from sinks.servicenow_values import servicenow_string as _string

# Staging column <- canonical field. ServiceNow's docs give labels, not column names, so these
# defaults follow the u_ convention of custom columns.
VENDOR_COLUMNS = {
    "u_vendor_number": "number",
    "u_name": "name",
    "u_street": "address_line1",
    "u_city": "city",
    "u_state": "state",
    "u_zip": "postal_code",
    "u_country": "country",
    "u_phone": "phone",
    "u_email": "email",
    "u_tax_id": "tax_id",
    "u_currency": "currency",
}


def vendor_row(entity: dict[str, Any], deleted: bool) -> dict[str, str]:
    row = {column: _string(entity.get(field)) for column, field in VENDOR_COLUMNS.items()}
    # A deleted or blocked vendor stays in ServiceNow (documents refer to it) but inactive.
    row["u_active"] = _string(not deleted and not entity.get("blocked", False))
    return row


def gl_account_row(entity: dict[str, Any], deleted: bool) -> dict[str, str]:
    return {
        "u_account_number": _string(entity["number"]),
        "u_name": _string(entity.get("name")),
        "u_account_type": _string(entity.get("account_type")),
        "u_category": _string(entity.get("category")),
        "u_description": _string(entity.get("sub_category")),
        "u_active": _string(not deleted and not entity.get("blocked", False)),
    }


def cost_center_row(entity: dict[str, Any], deleted: bool) -> dict[str, str]:
    return {
        "u_code": _string(entity["code"]),
        "u_name": _string(entity.get("name")),
        "u_active": _string(not deleted and not entity.get("blocked", False)),
    }


def item_row(entity: dict[str, Any], deleted: bool) -> dict[str, str]:
    return {
        "u_item_number": _string(entity["number"]),
        "u_name": _string(entity.get("name")),
        "u_type": _string(entity.get("type")),
        "u_unit_price": _string(entity.get("unit_price")),
        "u_unit_cost": _string(entity.get("unit_cost")),
        "u_unit_of_measure": _string(entity.get("unit_of_measure")),
        "u_active": _string(not deleted and not entity.get("blocked", False)),
    }


def invoice_status_row(entity: dict[str, Any], deleted: bool) -> dict[str, str]:
    """What the ERP did with an invoice ServiceNow sent it: its ERP number, posting status and
    whether it is paid, onto the ServiceNow invoice the ERP files it under."""
    status = entity.get("status") or ""
    paid = status == "Paid"
    return {
        "u_number": _string(entity.get("vendor_invoice_number")),
        "u_erp_number": _string(entity["number"]),
        "u_erp_status": status,
        "u_payment_status": "paid" if paid else "unpaid",
        "u_paid_amount": _string(entity.get("total_including_tax") if paid else Decimal(0)),
    }


RENDERERS: dict[str, Callable[[dict[str, Any], bool], dict[str, str]]] = {
    "vendor": vendor_row,
    "gl_account": gl_account_row,
    "cost_center": cost_center_row,
    "item": item_row,
    "purchase_invoice": invoice_status_row,
}

# ERP documents that come back as their status, and the canonical field that holds the number
# of the ServiceNow document they came from (BC files it as the vendor invoice number).
ORIGIN_FIELDS = {"purchase_invoice": "vendor_invoice_number"}


# What reconciliation compares: target table column -> canonical field, per entity.
TARGET_FIELDS: dict[str, dict[str, str]] = {
    "vendor": {"name": "name", "street": "address_line1", "city": "city", "state": "state",
               "zip": "postal_code", "country": "country", "phone": "phone",
               "u_email": "email", "u_tax_id": "tax_id"},
    "gl_account": {"name": "name", "account_type": "account_type", "category": "category"},
    "cost_center": {"name": "name"},
    "item": {"name": "name", "u_unit_of_measure": "unit_of_measure"},
    "purchase_invoice": {"u_erp_number": "number", "u_erp_status": "status"},
}  # fmt: skip


Whole = frozenset[tuple[str, str]]  # (source connection, entity) of documents written whole


def whole_documents(settings: Settings, target: str) -> Whole:
    """The ERP documents each flow into ``target`` sends whole, rather than as their status
    onto a ServiceNow document they came from."""
    return frozenset(
        (flow.source, entity)
        for name, flow in settings.flows.items() if flow.target == target
        for entity in flow.entities
        if entity in DOCUMENT_ENTITIES and entity not in returned_documents(settings, name)
    )  # fmt: skip


class ServiceNowTarget:
    origin_fields = ORIGIN_FIELDS

    def __init__(
        self,
        client: ServiceNowClient,
        overrides: Overrides[str] | None = None,
        whole: Whole = frozenset(),
    ) -> None:
        self.client = client
        self.tables = client.connection.tables
        self.overrides = overrides or Overrides[str]({})
        self.whole = whole
        self.documents = DocumentWriter(client, client.connection.document_tables)
        self.batch_limit = client.connection.insert_multiple_rows

    async def write(self, record: SinkRecord) -> Outcome:
        plan = await self.plan(record)
        return plan if isinstance(plan, Outcome) else await write_one(self.client, plan)

    async def write_batch(self, records: Sequence[SinkRecord]) -> list[Result]:
        """Every record's rows through insertMultiple; a refused row refuses its record only."""
        plans = await each(self.plan, records)
        return await write_many(self.client, plans, self.batch_limit)

    async def plan(self, record: SinkRecord) -> Plan | Outcome:
        """The rows ``record`` writes, or its outcome when it writes none."""
        event = record.event
        entity = event["after"] or event["before"]
        source = (event.get("source") or {}).get("connection")
        if (source, record.entity) in self.whole:
            return await self._document(record)
        if record.entity not in RENDERERS or record.entity not in self.tables:
            return Outcome("rejected", error=f"ServiceNow has no staging table for {record.entity}")
        if entity is None:
            return Outcome("rejected", error="event carries neither before nor after")
        if record.entity in ORIGIN_FIELDS:
            unrelated = await self._not_from_servicenow(record.entity, event["after"])
            if unrelated:
                return Outcome("ignored", note=unrelated)
        row = RENDERERS[record.entity](entity, event["op"] == "d")
        try:
            row = self.overrides.apply(record, row, entity)
        except Refused as exc:
            return Outcome("rejected", error=str(exc))
        return Plan(self.tables[record.entity].staging, row)

    async def _document(self, record: SinkRecord) -> Plan | Outcome:
        """An ERP document written whole: header (or payment detail), then its lines."""
        doc = record.event["after"]
        if record.entity not in self.documents.tables:
            return Outcome("rejected", error=f"ServiceNow has no staging table for {record.entity}")
        if doc is None:
            return Outcome("ignored", note="deleted in the ERP: ServiceNow keeps its last copy")
        if record.entity == "payment":
            header = await self.documents.payment_row(doc)
            if not header:
                return Outcome("ignored", note=f"payment {doc['number']} applies to no invoice")
        else:
            header = self.documents.header(record.entity, doc)
        try:
            header = self.overrides.apply(record, header, doc)
        except Refused as exc:
            return Outcome("rejected", error=str(exc))
        return self.documents.plan(record.entity, doc, header)

    async def _not_from_servicenow(self, entity: str, doc: dict[str, Any] | None) -> str | None:
        """Why an ERP document has no ServiceNow document to report to, if it has none.

        The ERP holds documents of its own, entered there directly; those stay there. A deleted
        draft names no ServiceNow number, so its ServiceNow invoice keeps its last status.
        """
        if doc is None:
            return "deleted in the ERP: the ServiceNow document keeps its last status"
        number = doc.get(ORIGIN_FIELDS[entity])
        table = self.tables[entity]
        if number:
            found = await self.client.table(
                table.target, query=f"{table.target_key}={quoted(number)}", fields=["sys_id"],
                limit=1,
            )  # fmt: skip
            if found:
                return None
        return (
            f"{doc['number']} names no {table.target} record ({number or 'no number'}): "
            "entered in the ERP, not sent by ServiceNow"
        )

    async def start(self) -> None:
        """Nothing to check before writing."""

    async def aclose(self) -> None:
        await self.client.aclose()

    async def snapshot(self, entity: str) -> dict[str, dict[str, str]]:
        """Target rows that carry the entity's key, as canonical fields, by case-folded key.

        A document kind some flow into this instance sends whole is compared as documents
        (by the ERP number), otherwise as the statuses BC sends back."""
        whole = any(sent == entity for _, sent in self.whole)
        table: StagingTable | DocumentTable = (
            self.documents.tables[entity] if whole else self.tables[entity]
        )
        columns = DOCUMENT_FIELDS[entity] if whole else TARGET_FIELDS[entity]
        rows = await self.client.table(
            table.target, query=f"{table.target_key}ISNOTEMPTY",
            fields=[table.target_key, *columns],
        )  # fmt: skip
        return {
            str(row[table.target_key]).casefold(): {
                canonical: str(row.get(column, "")) for column, canonical in columns.items()
            }
            for row in rows
        }


ENTITIES = tuple(dict.fromkeys((*RENDERERS, *DOCUMENT_ENTITIES)))


class _Blank(dict[str, Any]):
    """An entity whose every field is empty."""

    def __missing__(self, key: str) -> None:
        return None


def columns(entity: str) -> frozenset[str]:
    """The staging columns rendered for ``entity``, what an override may rename or drop.

    Every renderer writes a fixed set of columns whatever the values, so rendering an entity
    with every field empty lists them without a second table to keep in step.
    """
    rendered = frozenset(RENDERERS[entity](_Blank(), False)) if entity in RENDERERS else frozenset()
    return rendered | header_columns(entity)


def target(connection: ServiceNowConnection, ctx: TargetContext) -> ServiceNowTarget:
    overrides = Overrides.of(ctx.settings, ctx.name, _string)
    client = ServiceNowClient(connection, ctx.secrets, retry=ctx.retry)
    return ServiceNowTarget(client, overrides, whole_documents(ctx.settings, ctx.name))
