"""Per-flow field overrides applied to the row a target rendered, just before it is sent.

Written once for every target: a target renders its row as it always does, then hands it here
with how its columns hold a value (``convert``: ServiceNow holds text, Business Central JSON).
``convert`` must leave its own results alone, since a lookup without ``from`` translates a
value already rendered. The flow is (the record's source connection, this target), so two
flows into one target keep their own overrides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ml_connector.config import Settings
from ml_connector.field_overrides import Constant, EntityFields, FieldRule
from ml_connector.values import comparable
from sinks.base import SinkRecord

V = TypeVar("V")


class Refused(Exception):
    """An override refused the record (a lookup with ``otherwise: reject``); the message names
    the rule's key, so the dead-letter reason says which one to fix."""


@dataclass(frozen=True)
class ColumnOverride(Generic[V]):
    """One column's rule, its lookup converted once into the target's values."""

    column: str
    where: str  # the rule's key path, e.g. flows.bc-servicenow.fields.vendor.u_code
    rule: FieldRule
    convert: Callable[[Any], V]
    table: Mapping[str, V] | None  # lookup keyed as ``comparable`` renders a value

    def apply(
        self, rendered: Mapping[str, V], out: dict[str, V], entity: Mapping[str, Any]
    ) -> None:
        rule = self.rule
        if rule.drop:
            return
        if rule.rename is not None:
            if self.column in rendered:
                out[rule.rename] = rendered[self.column]
            return
        if rule.sets_value:
            out[self.column] = self.convert(rule.value)
            return
        if rule.source is not None:
            raw: Any = entity.get(rule.source)
        elif self.column in rendered:
            raw = rendered[self.column]  # a lookup alone translates what was rendered
        else:
            return
        out[self.column] = self._translated(raw)

    def _translated(self, raw: Any) -> V:
        if self.table is None:
            return self.convert(raw)
        key = comparable(raw)
        if key in self.table:
            return self.table[key]
        if self.rule.otherwise == "reject":
            raise Refused(f"{self.where}: {key!r} is not in its lookup (otherwise: reject)")
        other = self.rule.otherwise
        return self.convert(other.value if isinstance(other, Constant) else raw)


@dataclass(frozen=True)
class RowOverrides(Generic[V]):
    """The overrides of one entity in one flow."""

    columns: tuple[ColumnOverride[V], ...]

    def apply(self, rendered: Mapping[str, V], entity: Mapping[str, Any]) -> dict[str, V]:
        """The row with every rule applied; each rule reads the row as rendered, so the rules
        of one entity do not depend on their order."""
        removed = {c.column for c in self.columns if c.rule.removes_column}
        out = {c: v for c, v in rendered.items() if c not in removed}
        for column in self.columns:
            column.apply(rendered, out, entity)
        return out


def _column(
    column: str, where: str, rule: FieldRule, convert: Callable[[Any], V]
) -> ColumnOverride[V]:
    table = None
    if rule.lookup is not None:
        table = {comparable(k): convert(v) for k, v in rule.lookup.items()}
    return ColumnOverride(column, where, rule, convert, table)


def row_overrides(where: str, fields: EntityFields, convert: Callable[[Any], V]) -> RowOverrides[V]:
    return RowOverrides(
        tuple(_column(c, f"{where}.{c}", rule, convert) for c, rule in fields.items())
    )


class Overrides(Generic[V]):
    """Every flow's overrides into one target, by (source connection, entity)."""

    def __init__(self, by_origin: Mapping[tuple[str, str], RowOverrides[V]]) -> None:
        self.by_origin = dict(by_origin)

    @classmethod
    def of(cls, settings: Settings, target: str, convert: Callable[[Any], V]) -> Overrides[V]:
        found: dict[tuple[str, str], RowOverrides[V]] = {}
        owner: dict[tuple[str, str], str] = {}
        for name, flow in settings.flows.items():
            if flow.target != target:
                continue
            for entity, fields in flow.fields.items():
                key = (flow.source, entity)
                where = f"flows.{name}.fields.{entity}"
                if key in owner:
                    raise ValueError(
                        f"{where}: {owner[key]} already shapes the {entity} rows {flow.source} "
                        f"sends {target}; keep the overrides of one flow"
                    )
                owner[key] = where
                found[key] = row_overrides(where, fields, convert)
        return cls(found)

    def apply(
        self, record: SinkRecord, rendered: dict[str, V], entity: Mapping[str, Any]
    ) -> dict[str, V]:
        """The row the record's flow wants; raises Refused where an override refuses it."""
        if not self.by_origin:
            return rendered
        source = (record.event.get("source") or {}).get("connection")
        rules = self.by_origin.get((str(source), record.entity))
        return rendered if rules is None else rules.apply(rendered, entity)
