"""Linked entities of the contract-based API: one object per name (a vendor's ``MainContact``),
each possibly with linked entities of its own (the contact's ``Address``).

As the Integration Development Guide documents (``$expand`` parameter): nothing linked is
returned unless named in ``$expand``, and nesting is explicit - ``$expand=MainContact`` gives the
contact without its address, ``$expand=MainContact,MainContact/Address`` both. A path names its
parents too, as OData paths do, so ``MainContact/Address`` alone gives both. A name the entity
does not have is a 400. On ``PUT``, a linked entity's fields are wrapped like any other
(``{"MainContact": {"Email": {"value": ...}, "Address": {"City": {"value": ...}}}}``) and
merged into what is stored: fields the request leaves out keep their values.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from simulators.acumatica.entities import EntityDef, LinkedDef
from simulators.records import InvalidValue, coerce_value

# Properties of every record's wire shape that are not fields.
ENVELOPE = frozenset({"id", "rowNumber", "custom", "_links", "note", "files"})


def render_value(value: Any) -> Any:
    """A stored value as it goes inside ``{"value": ...}``."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds")
    return value


class LinkedShapeError(ValueError):
    """A linked entity in a request body that is not an object of wrapped values."""


def _paths(linked: Mapping[str, LinkedDef], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name, definition in linked.items():
        path = f"{prefix}{name}"
        out |= {path, *_paths(definition.linked, f"{path}/")}
    return out


def expansions(entity: EntityDef, names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(what to expand, names the entity does not have) for the names of ``$expand``."""
    known = set(entity.details) | _paths(entity.linked)
    wanted: list[str] = []
    unknown: list[str] = []
    for name in names:
        if name not in known:
            unknown.append(name)
            continue
        parts = name.split("/")
        for depth in range(1, len(parts) + 1):
            path = "/".join(parts[:depth])
            if path not in wanted:
                wanted.append(path)
    return wanted, unknown


def sent(linked: Mapping[str, LinkedDef], body: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The linked paths a request body carries: what its answer shows expanded."""
    out: list[str] = []
    for name, definition in linked.items():
        value = body.get(name)
        if isinstance(value, dict):
            out += [f"{prefix}{name}", *sent(definition.linked, value, f"{prefix}{name}/")]
    return out


def render(
    definition: LinkedDef, value: Mapping[str, Any] | None, path: str, expand: Iterable[str]
) -> dict[str, Any]:
    """The wire shape of one linked entity at ``path``, with the nested ones ``expand`` names."""
    value = value or {}
    expanded = set(expand)
    out: dict[str, Any] = {"id": value.get("id"), "rowNumber": 1}
    out |= {f: {"value": render_value(value.get(f))} for f in definition.fields}
    for name, nested in definition.linked.items():
        if f"{path}/{name}" in expanded:
            out[name] = render(nested, value.get(name), f"{path}/{name}", expanded)
    out["custom"] = {}
    return out


def merge(
    definition: LinkedDef, current: Mapping[str, Any] | None, incoming: Any, path: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """(stored value after the request, errors by field path); LinkedShapeError on bad shape."""
    if not isinstance(incoming, dict):
        raise LinkedShapeError(f"'{path}' must be an object of wrapped values.")
    merged: dict[str, Any] = {"id": str(uuid.uuid4()), **(current or {})}
    errors: dict[str, str] = {}
    for name, cell in incoming.items():
        if name in ENVELOPE:
            continue
        if name in definition.linked:
            nested, problems = merge(
                definition.linked[name], merged.get(name), cell, f"{path}/{name}"
            )
            merged[name] = nested
            errors |= problems
            continue
        if name not in definition.fields:
            raise LinkedShapeError(f"The field '{name}' is not defined for '{path}'.")
        if not isinstance(cell, dict) or "value" not in cell:
            raise LinkedShapeError(f"The value of '{path}/{name}' must be wrapped.")
        try:
            merged[name] = coerce_value(definition.fields[name], cell["value"], name)
        except InvalidValue as exc:
            errors[f"{path}/{name}"] = str(exc)
    return merged, errors


def mark_errors(body: dict[str, Any], errors: Mapping[str, str]) -> None:
    """Put each ``path`` error on its cell of a rendered record (the 422 answer)."""
    for path, message in errors.items():
        *parents, name = path.split("/")
        node: Any = body
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(name), dict):
            node[name]["error"] = message


def seeded(definition: LinkedDef, values: Mapping[str, Any], ids: Iterable[str]) -> dict[str, Any]:
    """A stored linked value from plain seed values, ids drawn from ``ids``."""
    draw = iter(ids)
    return _seeded(definition, values, draw)


def _seeded(definition: LinkedDef, values: Mapping[str, Any], ids: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": next(ids), **dict.fromkeys(definition.fields)}
    out |= {k: v for k, v in values.items() if k in definition.fields}
    for name, nested in definition.linked.items():
        out[name] = _seeded(nested, values.get(name) or {}, ids)
    return out
