"""A canonical model rendered as the Avro record its ``schemas/<entity>.avsc`` must hold.

The ``.avsc`` files are the wire contract (compatibility is checked against their history);
the models are how code reads them. Rendering one from the other lets a test compare the two
field by field: names and order, nullability and defaults, logical types, line records.
Documentation strings are left out: they are the schema file's own.
"""

from __future__ import annotations

import types
import typing
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

NAMESPACE = "mlc.canonical"
_PRIMITIVES: dict[Any, str] = {str: "string", int: "int", bool: "boolean"}


def avro_record(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "type": "record",
        "name": model.__name__,
        "namespace": NAMESPACE,
        "fields": [_field(name, info) for name, info in model.model_fields.items()],
    }


def _field(name: str, info: FieldInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": _type(info.annotation, info.metadata)}
    if not info.is_required():
        out["default"] = info.get_default(call_default_factory=True)
    return out


def _type(annotation: Any, metadata: list[Any]) -> Any:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        inner = [m for a in args[1:] for m in (a.metadata if isinstance(a, FieldInfo) else [a])]
        return _type(args[0], [*metadata, *inner])
    if origin in (typing.Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        if len(present) != 1 or len(args) != 2:
            raise TypeError(f"{annotation}: only 'X | None' has an Avro counterpart here")
        return ["null", _type(present[0], metadata)]
    if origin is list:
        return {"type": "array", "items": _type(args[0], metadata)}
    if annotation in _PRIMITIVES:
        return _PRIMITIVES[annotation]
    if annotation is date:
        return {"type": "int", "logicalType": "date"}
    if annotation is Decimal:
        digits = next(m for m in metadata if getattr(m, "max_digits", None) is not None)
        return {"type": "bytes", "logicalType": "decimal",
                "precision": digits.max_digits, "scale": digits.decimal_places}  # fmt: skip
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return avro_record(annotation)
    raise TypeError(f"{annotation}: no Avro type is known for it")
