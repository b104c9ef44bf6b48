"""Field values as both sides of a comparison render them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def comparable(value: Any) -> str:
    """A value as reconciliation compares it: text trimmed, numbers exact without trailing
    zeros. Targets render their rows with it too, so both sides speak the same way."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | float | int):
        return format(Decimal(str(value)).normalize(), "f")
    return str(value).strip()
