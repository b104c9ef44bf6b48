"""The configuration reference (docs/configuration.md), rendered from the models themselves,
so every key, type, default and description in it is the one the code checks."""

from __future__ import annotations

import types
import typing
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from ml_connector.config import Settings
from ml_connector.systems import SYSTEMS

HEADER = """# Configuration reference

Generated from the configuration models by `ml-connector config reference`; a test keeps it
in step with the code. `ml-connector config schema` prints the same as JSON Schema, and
`ml-connector config check` validates a file against it. Unknown keys are errors. Durations
are ISO 8601 (`PT30S`, `PT5M`, `PT1H`).
"""


def _type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type(a) for a in args)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (list, tuple):
        return f"list of {_type(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {_type(args[1])}"
    if annotation is type(None):
        return "null"
    if annotation is timedelta:
        return "duration"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.default
    if value is PydanticUndefined and field.default_factory is not None:
        value = field.default_factory()
        nested = isinstance(value, dict) and any(isinstance(v, BaseModel) for v in value.values())
        if nested or (isinstance(value, dict | list) and len(value) > 3):
            return "(the documented defaults)"
        if isinstance(value, list) and all(isinstance(v, timedelta) for v in value):
            return ", ".join(f"`{int(v.total_seconds())}s`" for v in value)
    if value is PydanticUndefined:
        return ""
    if isinstance(value, timedelta):
        return f"`{int(value.total_seconds())}s`"
    if isinstance(value, BaseModel):
        return "(defaults)"
    return f"`{value!r}`" if value is not None else "none"


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _models(a)]


def render() -> str:
    out = [HEADER]
    done: set[type[BaseModel]] = set()
    queue: list[tuple[type[BaseModel], str]] = [(Settings, "the file's top level")]
    queue += [(s.connection, f"a connection with `system: {s.name}`") for s in SYSTEMS]
    while queue:
        model, what = queue.pop(0)
        if model in done:
            continue
        done.add(model)
        out.append(
            f"## {model.__name__}\n\n{what.capitalize()}."
            + (f" {model.__doc__.strip().splitlines()[0]}" if model.__doc__ else "")
            + "\n"
        )
        out.append("| key | type | default | description |\n|---|---|---|---|")
        for name, field in model.model_fields.items():
            if name == "system":
                continue
            description = (field.description or "").replace("|", "\\|").replace("\n", " ")
            key = field.alias or name  # as written in YAML: ``from`` is a Python keyword
            out.append(f"| `{key}` | {_type(field.annotation)} | {_default(field)} "
                       f"| {description} |")  # fmt: skip
            queue += [(m, f"under `{name}`") for m in _models(field.annotation) if m not in done]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
