"""Field overrides checked against what they name: the flow's entities, the canonical
schemas and the columns the target renders. Each problem names the rule's full key, e.g.
``flows.bc-servicenow.fields.vendor.u_code.from: vendor has no field 'nmber'``.

The shape of each rule is checked when the file is read (``ml_connector.field_overrides``);
what is checked here needs the schemas and the targets, which the core does not know.
"""

from __future__ import annotations

from collections.abc import Iterator

from ml_connector.canonical import MODELS
from ml_connector.config import FlowConfig, Settings
from ml_connector.field_overrides import EntityFields
from sinks.overrides import Overrides
from sinks.registry import TARGETS, TargetSystem, target_system


def canonical_fields(entity: str) -> frozenset[str] | None:
    """The fields of the canonical entity (its model, held to its ``.avsc`` by a test), or
    None for an entity with no model (the flow's entities are checked against the target on
    their own)."""
    model = MODELS.get(entity)
    return None if model is None else frozenset(model.model_fields)


def field_problems(settings: Settings) -> list[str]:
    found: list[str] = []
    for name, flow in settings.flows.items():
        target = target_system(settings.connections[flow.target].system)
        for entity, fields in flow.fields.items():
            found += _entity_problems(f"flows.{name}.fields.{entity}", flow, entity, fields, target)
    for target_name in {f.target for f in settings.flows.values() if f.fields}:
        try:
            Overrides.of(settings, target_name, str)
        except ValueError as exc:
            found.append(str(exc))
    return found


def _listed(names: frozenset[str] | set[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def _entity_problems(
    where: str, flow: FlowConfig, entity: str, fields: EntityFields, target: TargetSystem | None
) -> Iterator[str]:
    if entity not in flow.entities:
        yield f"{where}: the flow carries no {entity} (its entities: {', '.join(flow.entities)})"
        return
    rendered: frozenset[str] = frozenset()
    if target is not None:
        if target.columns is None:
            takes = [t.name for t in TARGETS if t.columns is not None]
            yield (f"{where}: {flow.target} is a {target.name} target, which takes no field "
                   f"overrides yet (these do: {', '.join(takes)})")  # fmt: skip
            return
        rendered = target.columns(entity)
    canonical = canonical_fields(entity)
    removed = {c for c, rule in fields.items() if rule.removes_column}
    written = {c for c, rule in fields.items() if not rule.removes_column}
    renamed: dict[str, str] = {}
    for column, rule in fields.items():
        key = f"{where}.{column}"
        if rule.source is not None and canonical is not None and rule.source not in canonical:
            yield f"{key}.from: {entity} has no field {rule.source!r} (it has {_listed(canonical)})"
        reads_rendered = rule.removes_column or (rule.lookup is not None and rule.source is None)
        if reads_rendered and column not in rendered:
            yield (f"{key}: the target renders no column {column!r} for {entity} "
                   f"(it renders {_listed(rendered)})")  # fmt: skip
        if rule.rename is None:
            continue
        new = rule.rename
        if new in written or new in renamed:
            other = f"{where}.{renamed.get(new, new)}"
            yield f"{key}.rename: {other} already sends {new!r}"
        elif new in rendered and new not in removed:
            yield (f"{key}.rename: {new!r} is already a column of {entity}; drop or rename it "
                   "first, or set it with from")  # fmt: skip
        renamed[new] = column
