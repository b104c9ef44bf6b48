"""ServiceNow tables as data: column definitions, string-valued records, rendering.

Everything ServiceNow returns is a string, so records are stored as ``dict[str, str]`` and
only compared by column kind (integers numerically, dates lexically in their fixed format).
Tables are ``TableDef`` entries, so adding cmn_cost_center or proc_po later is one definition.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ColKind(StrEnum):
    STRING = "string"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    DATETIME = "glide_date_time"
    REFERENCE = "reference"


@dataclass(frozen=True)
class Column:
    kind: ColKind = ColKind.STRING
    reference: str | None = None  # target table of a reference column
    default: str = ""


def _cols(*names: str, kind: ColKind = ColKind.STRING) -> dict[str, Column]:
    default = "false" if kind is ColKind.BOOLEAN else ""
    return {name: Column(kind, default=default) for name in names}


SYSTEM_COLUMNS: Mapping[str, Column] = {
    "sys_id": Column(),
    "sys_created_on": Column(ColKind.DATETIME),
    "sys_created_by": Column(),
    "sys_updated_on": Column(ColKind.DATETIME),
    "sys_updated_by": Column(),
    "sys_mod_count": Column(ColKind.INTEGER, default="0"),
}


@dataclass(frozen=True)
class TableDef:
    name: str
    columns: Mapping[str, Column]  # without the system columns, which every table gets
    display_field: str = "name"
    # Table ACLs: a user needs one of these roles (admin always passes); empty: no check.
    read_roles: tuple[str, ...] = ()
    write_roles: tuple[str, ...] = ()
    # Task-like tables number their records (the platform's number maintenance): a record
    # inserted without a number gets the prefix and the next seven-digit counter.
    number_prefix: str = ""

    def all_columns(self) -> dict[str, Column]:
        return {**self.columns, **SYSTEM_COLUMNS}


CORE_COMPANY = TableDef(
    "core_company",
    {
        **_cols("name", "street", "city", "state", "zip", "country", "phone", "fax", "website"),
        **_cols("vendor", "customer", "manufacturer", "u_active", kind=ColKind.BOOLEAN),
        **_cols("u_vendor_number", "u_email", "u_tax_id", "notes"),
        "u_currency": Column(ColKind.REFERENCE, "fx_currency"),
    },
)
# The platform's currency table; vendor currencies refer to it, so an unknown code is refused.
FX_CURRENCY = TableDef(
    "fx_currency",
    {**_cols("code", "name", "symbol"), **_cols("active", kind=ColKind.BOOLEAN)},
    display_field="code",
)
SYS_USER = TableDef(
    "sys_user",
    {
        **_cols("user_name", "name", "first_name", "last_name", "email"),
        **_cols("active", kind=ColKind.BOOLEAN),
    },
)
SYS_USER_ROLE = TableDef("sys_user_role", _cols("name", "description"))
SYS_USER_HAS_ROLE = TableDef(
    "sys_user_has_role",
    {
        "user": Column(ColKind.REFERENCE, "sys_user"),
        "role": Column(ColKind.REFERENCE, "sys_user_role"),
        "state": Column(default="active"),
        "inherited": Column(ColKind.BOOLEAN, default="false"),
    },
    display_field="role",
)
SYS_IMPORT_SET = TableDef(
    "sys_import_set",
    _cols("number", "table_name", "state", "mode", "short_description", "multi_import_set"),
    display_field="number",
)
SYS_MULTI_IMPORT_SET = TableDef(
    "sys_multi_import_set", _cols("state", "source_table"), display_field="sys_id"
)

# Files on records (Attachment API); the bytes live beside the table, in the store.
SYS_ATTACHMENT = TableDef(
    "sys_attachment",
    {
        **_cols("file_name", "content_type", "table_name", "table_sys_id", "hash", "state"),
        **_cols("image_width", "image_height", "average_image_color", "sys_tags"),
        **_cols("size_bytes", "size_compressed", "chunk_size_bytes", kind=ColKind.INTEGER),
        **_cols("compressed", kind=ColKind.BOOLEAN),
    },
    display_field="file_name",
)

# Columns ServiceNow adds to every import set (staging) table.
IMPORT_ROW_COLUMNS: Mapping[str, Column] = {
    "sys_import_set": Column(ColKind.REFERENCE, "sys_import_set"),
    "sys_import_row": Column(ColKind.INTEGER),
    "sys_import_state": Column(default="pending"),
    "sys_import_state_comment": Column(),
    "sys_target_sys_id": Column(),
    "sys_target_table": Column(),
    "sys_transform_map": Column(),
    "sys_row_error": Column(),
}

BASE_TABLES: tuple[TableDef, ...] = (
    CORE_COMPANY,
    FX_CURRENCY,
    SYS_USER,
    SYS_USER_ROLE,
    SYS_USER_HAS_ROLE,
    SYS_IMPORT_SET,
    SYS_MULTI_IMPORT_SET,
    SYS_ATTACHMENT,
)


def staging_table(
    name: str, source_columns: Iterable[str], roles: tuple[str, ...] = ()
) -> TableDef:
    columns = {**_cols(*source_columns), **IMPORT_ROW_COLUMNS}
    return TableDef(name, columns, "sys_import_set", roles, roles)


def format_timestamp(value: datetime) -> str:
    """ServiceNow's ``YYYY-MM-DD HH:MM:SS`` in UTC (the integration user's time zone)."""
    return value.strftime("%Y-%m-%d %H:%M:%S")


def to_string(column: Column, value: Any) -> str:
    """Any JSON input as the string ServiceNow would store for this column."""
    if isinstance(value, dict) and "value" in value:
        value = value["value"]  # a reference given back as {"link", "value"}
    if value is None:
        return ""
    if column.kind is ColKind.BOOLEAN:
        return "true" if str(value).strip().lower() in ("true", "1") else "false"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class RecordNotFound(Exception):
    pass


class Table:
    """One table's records in insertion order (ServiceNow's default order is unspecified)."""

    def __init__(self, definition: TableDef) -> None:
        self.definition = definition
        self.columns = definition.all_columns()
        self.records: dict[str, dict[str, str]] = {}
        self._last_number = 0
        # (table, operation, record) after every write: business rules hook in here, so API
        # writes, import transforms and inspection edits all fire them.
        self.on_change: Callable[[str, str, dict[str, str]], None] | None = None

    def _changed(self, operation: str, record: dict[str, str]) -> None:
        if self.on_change is not None:
            self.on_change(self.definition.name, operation, record)

    def get(self, sys_id: str) -> dict[str, str]:
        record = self.records.get(sys_id)
        if record is None:
            raise RecordNotFound(sys_id)
        return record

    def writable(self, values: Mapping[str, Any]) -> dict[str, str]:
        """Known, non-system columns as strings; unknown names are dropped as ServiceNow does."""
        return {
            name: to_string(self.columns[name], value)
            for name, value in values.items()
            if name in self.definition.columns
        }

    def insert(self, values: Mapping[str, Any], *, user: str, now: datetime) -> dict[str, str]:
        sys_id = str(values.get("sys_id") or "").lower()
        if len(sys_id) != 32 or any(c not in "0123456789abcdef" for c in sys_id):
            sys_id = uuid.uuid4().hex
        if sys_id in self.records:
            raise ValueError(f"Duplicate sys_id {sys_id}")
        stamp = format_timestamp(now)
        record = {name: column.default for name, column in self.columns.items()}
        record.update(self.writable(values))
        self._number(record)
        record.update(
            sys_id=sys_id,
            sys_created_on=stamp,
            sys_created_by=user,
            sys_updated_on=stamp,
            sys_updated_by=user,
            sys_mod_count="0",
        )
        self.records[sys_id] = record
        self._changed("insert", record)
        return record

    def _number(self, record: dict[str, str]) -> None:
        prefix = self.definition.number_prefix
        if not prefix:
            return
        given = record.get("number", "")
        if not given:
            self._last_number += 1
            record["number"] = f"{prefix}{self._last_number:07d}"
        elif given.startswith(prefix) and given[len(prefix) :].isdigit():
            self._last_number = max(self._last_number, int(given[len(prefix) :]))

    def update(
        self, sys_id: str, values: Mapping[str, Any], *, user: str, now: datetime
    ) -> tuple[dict[str, str], bool]:
        """(record, changed); an update that changes nothing is not written, as in ServiceNow."""
        record = self.get(sys_id)
        changes = {k: v for k, v in self.writable(values).items() if record.get(k) != v}
        if not changes:
            return record, False
        record.update(changes)
        record.update(
            sys_updated_on=format_timestamp(now),
            sys_updated_by=user,
            sys_mod_count=str(int(record.get("sys_mod_count") or 0) + 1),
        )
        self._changed("update", record)
        return record, True

    def delete(self, sys_id: str) -> None:
        record = self.get(sys_id)
        del self.records[sys_id]
        self._changed("delete", record)


@dataclass
class RenderOptions:
    base_url: str  # instance URL, for reference links
    fields: list[str] | None = None
    exclude_reference_link: bool = False
    display_value: str = "false"  # "false" | "true" | "all"
    tables: Mapping[str, Table] = field(default_factory=dict)  # to resolve references


def resolve(
    tables: Mapping[str, Table], table: Table, record: Mapping[str, str], path: str
) -> str | None:
    """A column or dot-walked value (``user.user_name``); None when the path is not a column."""
    head, _, rest = path.partition(".")
    column = table.columns.get(head)
    if column is None:
        return None
    value = record.get(head, "")
    if not rest:
        return value
    if column.reference is None or column.reference not in tables:
        return None
    target = tables[column.reference]
    referenced = target.records.get(value)
    if referenced is None:
        return "" if rest.split(".")[0] in target.columns else None
    return resolve(tables, target, referenced, rest)


def display_of(tables: Mapping[str, Table], column: Column, value: str) -> str:
    if column.reference is None or not value or column.reference not in tables:
        return value
    target = tables[column.reference]
    record = target.records.get(value)
    return record.get(target.definition.display_field, "") if record else ""


def render(table: Table, record: Mapping[str, str], opts: RenderOptions) -> dict[str, Any]:
    names = opts.fields if opts.fields is not None else list(table.columns)
    out: dict[str, Any] = {}
    for name in names:
        column = table.columns.get(name.partition(".")[0])
        value = resolve(opts.tables, table, record, name)
        if column is None or value is None:
            continue  # sysparm_fields ignores names that are not columns
        if "." in name:
            out[name] = value
            continue
        link = None
        if column.kind is ColKind.REFERENCE and value and not opts.exclude_reference_link:
            link = f"{opts.base_url}/api/now/table/{column.reference}/{value}"
        display = display_of(opts.tables, column, value)
        if opts.display_value == "true":
            out[name] = {"display_value": display, "link": link} if link else display
        elif opts.display_value == "all":
            out[name] = {
                "display_value": display,
                "value": value,
                **({"link": link} if link else {}),
            }
        else:
            out[name] = {"link": link, "value": value} if link else value
    return out
