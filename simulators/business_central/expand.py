"""``$expand`` as Business Central answers it: line collections and single-valued lookups.

v2.0 entities document navigation properties of two kinds (api-reference/v2.0/resources/*,
"Navigation" tables): the document's lines (``purchaseInvoiceLines``, a collection) and the
records it refers to (a purchase invoice's ``vendor``, a sales invoice's ``customer``, a
line's ``item`` and ``account``), rendered as one object, or null when the reference is empty.
Nested options follow OData v4 (Part 2, 5.1.2 "System Query Option $expand"):
``$expand=purchaseInvoiceLines($select=sequence,description;$filter=quantity gt 1)``. Options
a nested expand takes here: ``$select``, ``$expand``, ``$filter``, ``$orderby``, ``$top``,
``$skip``; any
other is refused rather than ignored. Navigation properties to sets this simulator does not
have (``currency``, ``paymentTerms``, ...) are unknown properties, a 400 as for a typo.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from simulators.business_central.entities import ZERO_GUID, EntitySetDef, children_of
from simulators.business_central.store import BusinessCentralStore, NotFound, Row
from simulators.odata import ODataError, list_page

NESTED_OPTIONS = ("$select", "$expand", "$filter", "$orderby", "$top", "$skip")
# Large enough that a nested collection is never cut: BC returns every line of a document.
_ALL = 1_000_000


@dataclass(frozen=True)
class Expansion:
    name: str
    options: Mapping[str, str] = field(default_factory=dict)  # nested, less $expand
    expand: list[Expansion] = field(default_factory=list)  # nested $expand


def _split_top_level(text: str, separator: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == separator and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def parse_expand(text: str) -> list[Expansion]:
    expansions = []
    for item in _split_top_level(text, ","):
        name, paren, rest = item.partition("(")
        options: dict[str, str] = {}
        if paren:
            if not rest.endswith(")"):
                raise ODataError(f"Syntax error in $expand at '{item}'.")
            for option in _split_top_level(rest[:-1], ";"):
                key, eq, value = option.partition("=")
                key = key.strip()
                if not eq or key not in NESTED_OPTIONS:
                    raise ODataError(
                        f"The query option '{key}' is not supported inside $expand here; "
                        f"supported: {', '.join(NESTED_OPTIONS)}."
                    )
                options[key] = value.strip()
        nested = parse_expand(options.pop("$expand", ""))
        expansions.append(Expansion(name.strip(), options, nested))
    return expansions


def navigation_targets(definition: EntitySetDef) -> dict[str, str]:
    """Navigation property -> target entity set, collections and lookups alike."""
    targets = {c.name: c.name for c in children_of(definition.name)}
    targets.update({name: target for name, (target, _) in definition.lookups.items()})
    return targets


def check(
    definition: EntitySetDef,
    expansions: list[Expansion],
    entity_sets: Mapping[str, EntitySetDef],
    unknown: Callable[[str, EntitySetDef], ODataError],
) -> None:
    targets = navigation_targets(definition)
    for expansion in expansions:
        if expansion.name not in targets:
            raise unknown(expansion.name, definition)
        target = entity_sets[targets[expansion.name]]
        for name in _selected(expansion) or []:
            if name not in target.fields:
                raise unknown(name, target)
        check(target, expansion.expand, entity_sets, unknown)


def _selected(expansion: Expansion) -> list[str] | None:
    text = expansion.options.get("$select")
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def render_expansions(
    store: BusinessCentralStore,
    definition: EntitySetDef,
    row: Row,
    expansions: list[Expansion],
    company_id: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for expansion in expansions:
        select = _selected(expansion)
        if expansion.name in definition.lookups:
            target, key = definition.lookups[expansion.name]
            found = _lookup(store, company_id, target, row.values.get(key))
            out[expansion.name] = found and _render(
                store, target, found, select, expansion, company_id
            )
            continue
        child = store.entity_sets[expansion.name]
        lines = {r.values["id"]: r for r in store.rows(company_id, child.name, row.values["id"])}
        options = {k: v for k, v in expansion.options.items() if k != "$select"}
        options.setdefault("$orderby", child.key_field)
        page = list_page(
            [r.values for r in lines.values()], options, child.fields, child.type_name, _ALL
        )
        out[expansion.name] = [
            _render(store, child.name, lines[r["id"]], select, expansion, company_id)
            for r in page.rows
        ]
    return out


def _lookup(
    store: BusinessCentralStore,
    company_id: str,
    target: str,
    row_id: Any,
) -> Row | None:
    if not row_id or str(row_id) == ZERO_GUID:
        return None
    try:
        return store.get(company_id, target, str(row_id))
    except NotFound:
        return None


def _render(
    store: BusinessCentralStore,
    entity_set: str,
    row: Row,
    select: list[str] | None,
    expansion: Expansion,
    company_id: str,
) -> dict[str, Any]:
    definition = store.entity_sets[entity_set]
    out = store.render(entity_set, row, select)
    return out | render_expansions(store, definition, row, expansion.expand, company_id)
