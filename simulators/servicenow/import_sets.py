"""Import Set transforms: staging rows -> target tables through declarative transform maps.

Coalesce is the reason this exists: it is ServiceNow's only upsert, and the connector's
re-sends are safe only if a row whose coalesce values match (case-insensitively, as on the
platform) is updated or left alone instead of inserted again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TransformMap:
    name: str
    source_table: str  # the staging (import set) table
    target_table: str
    field_map: Mapping[str, str]  # staging column -> target column
    coalesce: tuple[str, ...] = ()  # target columns; several are ANDed; none -> always insert
    mandatory: tuple[str, ...] = ()  # target columns that must not be empty (besides coalesce)
    insert_values: Mapping[str, str] = field(default_factory=dict)  # set on insert only
    # ServiceNow's default: an empty source value does not blank the target column.
    copy_empty_fields: bool = False
    order: int = 100
    # Reference columns filled from a key: target column -> (referenced table, column matched
    # case-insensitively), the transform map's "referenced value field name". An unmatched
    # key is a row error (choice action "reject"), never a half-linked record.
    references: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    insert_allowed: bool = True  # False: a row without a coalesce match is an error


@dataclass(frozen=True)
class TransformOutcome:
    """What one map did with one staging row; rendered as one Import Set API result entry."""

    transform_map: str
    table: str
    status: str  # inserted | updated | ignored | error
    sys_id: str = ""
    status_message: str = ""
    error_message: str = ""

    def as_result(self, base_url: str, display_name: str, display_value: str) -> dict[str, Any]:
        result: dict[str, Any] = {
            "transform_map": self.transform_map,
            "table": self.table,
            "display_name": display_name,
            "display_value": display_value,
            "record_link": f"{base_url}/api/now/table/{self.table}/{self.sys_id}"
            if self.sys_id
            else "",
            "status": self.status,
            "sys_id": self.sys_id,
        }
        if self.status_message:
            result["status_message"] = self.status_message
        if self.error_message:
            result["error_message"] = self.error_message
        return result


def map_values(tmap: TransformMap, staged: Mapping[str, str]) -> dict[str, str]:
    """Target column values from a staging row; empties dropped unless copy_empty_fields."""
    mapped: dict[str, str] = {}
    for source, target in tmap.field_map.items():
        value = staged.get(source, "")
        if value != "" or tmap.copy_empty_fields:
            mapped[target] = value
    return mapped


def missing_required(tmap: TransformMap, mapped: Mapping[str, str]) -> str:
    """The error message for empty coalesce or mandatory columns, or "" when all present."""
    empty_coalesce = [c for c in tmap.coalesce if not mapped.get(c, "").strip()]
    if empty_coalesce:
        return "Unable to resolve target record, coalesce values not present: " + ", ".join(
            empty_coalesce
        )
    empty_mandatory = [c for c in tmap.mandatory if not mapped.get(c, "").strip()]
    if empty_mandatory:
        return "Mandatory field(s) missing a value: " + ", ".join(empty_mandatory)
    return ""


def resolve_references(
    tmap: TransformMap,
    mapped: dict[str, str],
    lookup: Callable[[str, str, str], str | None],
) -> str:
    """Replace reference keys in ``mapped`` by sys_ids; the error message, or "" when all
    resolved. ``lookup(table, column, value)`` finds a sys_id."""
    for column, (table, match_column) in tmap.references.items():
        value = mapped.get(column, "")
        if not value:
            continue
        sys_id = lookup(table, match_column, value)
        if sys_id is None:
            return f"Reference not found: no {table} with {match_column} = {value} (for {column})"
        mapped[column] = sys_id
    return ""


def coalesce_match(
    tmap: TransformMap, mapped: Mapping[str, str], records: Mapping[str, Mapping[str, str]]
) -> str | None:
    """sys_id of the first target row whose coalesce columns equal ``mapped`` ignoring case."""
    if not tmap.coalesce:
        return None
    wanted = [mapped.get(c, "").casefold() for c in tmap.coalesce]
    for sys_id, record in records.items():
        if [record.get(c, "").casefold() for c in tmap.coalesce] == wanted:
            return sys_id
    return None
