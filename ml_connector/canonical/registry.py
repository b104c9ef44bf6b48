"""The canonical entities by name, and what their declarations imply.

``DOCUMENTS`` (what may wait for what it names), ``MASTERS`` and ``REFERENCED`` (what the
cross-reference records codes of) are derived from the models' declared references, never
listed by hand: declaring a reference is all a new document kind needs.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

from ml_connector.canonical.base import Canonical, Reference
from ml_connector.canonical.documents import (
    Payment,
    PurchaseInvoice,
    PurchaseOrder,
    SalesInvoice,
)
from ml_connector.canonical.masters import CostCenter, Customer, GlAccount, Item, Vendor

_ALL = (Vendor, Customer, Item, GlAccount, CostCenter,
        PurchaseOrder, PurchaseInvoice, SalesInvoice, Payment)  # fmt: skip
MODELS: dict[str, type[Canonical]] = {m.entity: m for m in _ALL}
LINES = "lines"  # the field holding a document's lines, each a record of its own


@dataclass(frozen=True)
class Declared:
    """What a document names on its header, and on each of its lines."""

    header: tuple[Reference, ...] = ()
    lines: tuple[Reference, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.header or self.lines)

    @property
    def entities(self) -> frozenset[str]:
        return frozenset(r.entity for r in (*self.header, *self.lines))


def model_for(entity: str) -> type[Canonical]:
    try:
        return MODELS[entity]
    except KeyError:
        raise KeyError(f"{entity!r} is no canonical entity (known: {', '.join(MODELS)})") from None


def line_model(model: type[Canonical]) -> type[Canonical] | None:
    """The record type of a model's lines, if it has any."""
    field = model.model_fields.get(LINES)
    if field is None:
        return None
    (item,) = typing.get_args(field.annotation)
    return typing.cast(type[Canonical], item)


def declared(entity: str) -> Declared:
    model = model_for(entity)
    line = line_model(model)
    return Declared(model.references, line.references if line is not None else ())


def required_fields(entity: str) -> list[str]:
    """Fields without a default: what names a record even when all else is unknown."""
    return [name for name, f in model_for(entity).model_fields.items() if f.is_required()]


def key_field(entity: str) -> str:
    """The field other records name this one by: its business key."""
    return model_for(entity).key


def _checked(model: type[Canonical], references: tuple[Reference, ...]) -> None:
    """A declaration naming a field or an entity that does not exist is caught on import."""
    for ref in references:
        for name in (ref.field, ref.source_id):
            if name is not None and name not in model.model_fields:
                raise TypeError(f"{model.__name__} declares a reference through {name!r}, "
                                "which is none of its fields")  # fmt: skip
        model_for(ref.entity)


for _model in MODELS.values():
    _checked(_model, _model.references)
    if (_line := line_model(_model)) is not None:
        _checked(_line, _line.references)

DOCUMENTS = frozenset(e for e in MODELS if declared(e))
MASTERS = frozenset(MODELS) - DOCUMENTS
REFERENCED = frozenset().union(*(declared(e).entities for e in DOCUMENTS))
