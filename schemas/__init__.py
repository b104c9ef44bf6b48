"""Avro schemas of the change events: the envelope and one canonical entity per file.

The value schema of a change topic is the envelope with ``before``/``after`` typed as that
topic's entity. It is composed here rather than written out per entity so the envelope has one
source of truth, and so the compatibility test can compose the same way from older versions.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).parent
ENVELOPE = "envelope"
_PLACEHOLDER = "ENTITY"


def entity_names(directory: Path = SCHEMA_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.avsc") if p.stem != ENVELOPE)


def _read_from(directory: Path) -> Callable[[str], dict[str, Any]]:
    def read(name: str) -> dict[str, Any]:
        result: dict[str, Any] = json.loads((directory / f"{name}.avsc").read_text())
        return result

    return read


def compose_envelope(
    envelope: dict[str, Any], entity: dict[str, Any], entity_name: str
) -> dict[str, Any]:
    """Fill the envelope's placeholder: the entity in full at its first use, by name after."""
    schema = copy.deepcopy(envelope)
    schema["namespace"] = f"{schema['namespace']}.{entity_name}"
    full_name = f"{entity['namespace']}.{entity['name']}"
    defined = False
    for field in schema["fields"]:
        if isinstance(field["type"], list) and _PLACEHOLDER in field["type"]:
            slot = field["type"].index(_PLACEHOLDER)
            field["type"][slot] = full_name if defined else copy.deepcopy(entity)
            defined = True
    if not defined:
        raise ValueError("envelope schema has no ENTITY placeholder")
    return schema


def value_schema(
    entity_name: str, reader: Callable[[str], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The change-event value schema for one canonical entity, as JSON (dict)."""
    read = reader or _read_from(SCHEMA_DIR)
    return compose_envelope(read(ENVELOPE), read(entity_name), entity_name)
