"""F&O's dialect of OData on top of ``simulators.odata``: keys in URLs, filters, $metadata.

F&O differs from Business Central where a client can trip: string comparisons are
case-insensitive (SQL collation), ``eq '*x*'`` is a wildcard match, enum literals are written
``Microsoft.Dynamics.DataEntities.NoYes'Yes'``, and keys are composite natural keys with
``dataAreaId``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from xml.sax.saxutils import quoteattr

from simulators.finance_operations.actions import ACTIONS, action_xml, binding_types_xml
from simulators.finance_operations.entities import NAMESPACE, EntityDef
from simulators.odata import FilterParser, Kind, ODataError, Predicate, _Operand

_QUALIFIED_ENUM = re.compile(r"\b" + re.escape(NAMESPACE) + r"\.\w+'((?:[^']|'')*)'")
_KEY_PART = re.compile(r"\s*(\w+)\s*=\s*('(?:[^']|'')*'|-?\d+(?:\.\d+)?)\s*(?:,|$)")
_SEGMENT = re.compile(r"^(\w+)(?:\((.*)\))?$")


def odata_message(exc: ODataError) -> str:
    # The shared parser speaks of Business Central's namespace; F&O names its own.
    return str(exc).replace("Microsoft.NAV.", f"{NAMESPACE}.")


def parse_segment(segment: str) -> tuple[str, str | None]:
    """``VendorsV2(dataAreaId='usmf',...)`` -> (entity set, key text or None)."""
    match = _SEGMENT.match(segment)
    if match is None:
        raise ODataError(f"Resource not found for the segment '{segment}'.")
    return match.group(1), match.group(2)


def parse_key(text: str, entity: EntityDef) -> dict[str, Any]:
    """Key predicate to typed values; every key property must be named, as F&O requires."""
    values: dict[str, Any] = {}
    pos = 0
    while pos < len(text):
        match = _KEY_PART.match(text, pos)
        if match is None:
            raise ODataError(f"Bad Request - Error in query syntax: '{text}'.")
        name, literal = match.group(1), match.group(2)
        values[name] = _key_literal(literal, entity.fields.get(name))
        pos = match.end()
    if set(values) != set(entity.key):
        raise ODataError(
            "The number of keys specified in the URI does not match number of key properties "
            f"for the resource '{entity.qualified_type}'."
        )
    return values


def _key_literal(literal: str, kind: Kind | None) -> Any:
    if literal.startswith("'"):
        return literal[1:-1].replace("''", "'")
    return int(literal) if kind is Kind.INTEGER else float(literal)


def format_key(entity: EntityDef, row: Mapping[str, Any]) -> str:
    parts = []
    for name in entity.key:
        value = row.get(name)
        text = str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"
        parts.append(f"{name}={text}")
    return f"{entity.name}({','.join(parts)})"


class FnoFilterParser(FilterParser):
    """The shared grammar plus F&O's wildcard ``eq`` and case-insensitive strings."""

    def __init__(self, text: str, entity: EntityDef, fields: Mapping[str, Kind]) -> None:
        super().__init__(_QUALIFIED_ENUM.sub(r"'\1'", text), fields, entity.type_name)

    def _comparison(self, op: str, left: _Operand, right: _Operand) -> Predicate:
        if (
            op in ("eq", "ne")
            and left.field is not None
            and right.literal_kind == "str"
            and self.fields[left.field] in (Kind.STRING, Kind.ENUM)
        ):
            name = left.field
            pattern = right.text[1:-1].replace("''", "'").casefold()
            wildcard = "*" in pattern

            def test(row: Mapping[str, Any]) -> bool:
                value = row.get(name)
                if not isinstance(value, str):
                    return False
                value = value.casefold()
                hit = fnmatch.fnmatchcase(value, pattern) if wildcard else value == pattern
                return hit == (op == "eq")

            return test
        return super()._comparison(op, left, right)


def parse_filter(text: str, entity: EntityDef, fields: Mapping[str, Kind]) -> Predicate:
    return FnoFilterParser(text, entity, fields).parse()


def render_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _edm_type(entity: EntityDef, name: str, kind: Kind) -> str:
    if kind is Kind.ENUM and name in entity.enums:
        return f"{NAMESPACE}.{entity.enums[name][0]}"
    return {Kind.INTEGER: "Edm.Int64", Kind.ENUM: "Edm.String"}.get(kind, kind.value)


def metadata_xml(
    entities: Mapping[str, EntityDef], fields: Mapping[str, Mapping[str, Kind]]
) -> str:
    """EDMX v4 with entity types, enum types, navigation properties and the container."""
    enum_types: dict[str, tuple[str, ...]] = {}
    types: list[str] = []
    for entity in entities.values():
        enum_types.update(dict(entity.enums.values()))
        keys = "".join(f"<PropertyRef Name={quoteattr(k)}/>" for k in entity.key)
        props = "".join(
            f"<Property Name={quoteattr(n)} Type={quoteattr(_edm_type(entity, n, k))}"
            + (' Nullable="false"' if n in entity.key else "")
            + "/>"
            for n, k in fields[entity.name].items()
        )
        navs = "".join(
            f"<NavigationProperty Name={quoteattr(n)} Type="
            + quoteattr(
                f"Collection({NAMESPACE}.{entities[nav.target].type_name})"
                if nav.many
                else f"{NAMESPACE}.{entities[nav.target].type_name}"
            )
            + "/>"
            for n, nav in entity.navigation.items()
        )
        types.append(
            f'<EntityType Name="{entity.type_name}"><Key>{keys}</Key>{props}{navs}</EntityType>'
        )
    enums = "".join(
        f'<EnumType Name="{name}">'
        + "".join(f'<Member Name="{m}" Value="{i}"/>' for i, m in enumerate(members))
        + "</EnumType>"
        for name, members in sorted(enum_types.items())
    )
    sets = "".join(
        f'<EntitySet Name="{e.name}" EntityType="{e.qualified_type}">'
        + "".join(
            f'<NavigationPropertyBinding Path="{n}" Target="{nav.target}"/>'
            for n, nav in e.navigation.items()
        )
        + "</EntitySet>"
        for e in entities.values()
    )
    actions = "".join(action_xml(a) for a in ACTIONS)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
        "<edmx:DataServices>"
        f'<Schema Namespace="{NAMESPACE}" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
        f"{enums}{''.join(types)}{binding_types_xml()}{actions}"
        f'<EntityContainer Name="Resources">{sets}</EntityContainer>'
        "</Schema></edmx:DataServices></edmx:Edmx>"
    )
