"""Building change events (the Debezium-style envelope) from source records."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

_EVENT_NS = uuid.UUID("6f1c5a52-7c59-4a43-9a54-2f0d1b6e6c11")
_CENTS = Decimal("0.0001")


def money(value: Any) -> Decimal | None:
    """Amounts as decimal(19,4): floats from JSON would drift in a ledger."""
    if value is None or value == "":
        return None
    return Decimal(str(value)).quantize(_CENTS, rounding=ROUND_HALF_EVEN)


def text(value: Any) -> str | None:
    """Empty strings are how OData says 'no value'; canonical entities say None."""
    if value is None:
        return None
    s = str(value)
    return s or None


def day(value: Any) -> date | None:
    """The date part of an ISO date or date-time (OData's Edm.Date, ServiceNow's glide_date
    and glide_date_time). Empty, or the 0001-01-01 BC shows for a blank date, is no date."""
    parsed = date.fromisoformat(str(value)[:10]) if value else None
    return None if parsed is None or parsed.year == 1 else parsed


def parse_timestamp(value: str) -> datetime:
    """ISO 8601; a value without an offset is UTC (ServiceNow's sys_updated_on for the
    integration user), so cursors of every source compare and serialize alike."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def event_id(connection: str, entity: str, native_id: str, version: str | None) -> str:
    """Stable: the same source version of the same record always gives the same id."""
    return str(uuid.uuid5(_EVENT_NS, f"{connection}|{entity}|{native_id}|{version}"))


@dataclass(frozen=True)
class SourceInfo:
    system: str
    connection: str
    company: str | None
    entity: str


def envelope(
    info: SourceInfo,
    *,
    native_id: str,
    after: dict[str, Any] | None,
    op: str,
    native: dict[str, Any] | None,
    version: str | None,
    modified_at: datetime | None,
    seen_via: str,
) -> dict[str, Any]:
    return {
        "before": None,
        "after": after,
        "op": op,
        "source": {
            "system": info.system,
            "connection": info.connection,
            "company": info.company,
            "entity": info.entity,
            "native_id": native_id,
            "native_version": version,
            "modified_at": modified_at,
            "seen_via": seen_via,
        },
        "ts_ms": int(time.time() * 1000),
        "event_id": event_id(info.connection, info.entity, native_id, version),
        "native": json.dumps(native, sort_keys=True, default=str) if native is not None else None,
    }
