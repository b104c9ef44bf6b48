"""Values as ServiceNow holds them: every column is a string."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def servicenow_string(value: Any) -> str:
    """ServiceNow holds every value as a string; None becomes empty (clears the field)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def quoted(value: str) -> str:
    """A value inside an encoded query, where ``^`` separates terms."""
    return value.replace("^", "^^")
