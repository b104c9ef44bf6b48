"""A declarative source stream: what to read and how to turn it into a canonical entity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Mapper = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Stream:
    entity: str  # canonical entity name (schemas/<entity>.avsc)
    path: str  # the system's entity set / table / resource
    to_canonical: Mapper
    key_field: str = "id"
    cursor_field: str = "lastModifiedDateTime"
    version_field: str | None = "@odata.etag"
    expand: str | None = None
    # A source-specific narrowing the flow configures, e.g. which dimension holds cost centers.
    scope: str | None = None
