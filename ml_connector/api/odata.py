"""OData literals, written once: a wrongly quoted value is a 400 on every OData service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def odata_datetime(value: datetime) -> str:
    """``2024-01-02T08:00:00.123Z``: Edm.DateTimeOffset literals go unquoted in v4."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    text = aware.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def odata_string(value: str) -> str:
    """A quoted string literal; a quote inside is doubled, as OData escapes it."""
    return "'" + value.replace("'", "''") + "'"


def odata_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return odata_datetime(value)
    return odata_string(str(value))
