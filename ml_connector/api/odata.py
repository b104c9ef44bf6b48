"""OData literals, written once: a wrongly quoted value is a 400 on every OData service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def odata_key(key: Mapping[str, Any]) -> str:
    """``(dataAreaId='usmf',VendorAccountNumber='V1')``: a composite key names every part."""
    return "(" + ",".join(f"{name}={odata_literal(value)}" for name, value in key.items()) + ")"


def odata_query(
    *,
    filter: str | None = None,
    expand: str | None = None,
    select: Sequence[str] | None = None,
    **extra: str,
) -> dict[str, str] | None:
    """Query options with the empty ones left out (an empty ``$filter=`` is a 400)."""
    params = {"$filter": filter or "", "$expand": expand or "", "$select": ",".join(select or ())}
    params |= extra
    kept = {k: v for k, v in params.items() if v}
    return kept or None
