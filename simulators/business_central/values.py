"""Business Central values on the wire: JSON <-> Python per Edm type, timestamps, etags.

Rows keep Python values (datetime, date, float, bool) so filters compare by type; these
helpers are the only place that knows how BC spells them in JSON and what it refuses.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime
from typing import Any

from simulators.business_central.entities import EntitySetDef
from simulators.odata import Kind, parse_datetime


class StoreError(Exception):
    """Base of errors the HTTP layer turns into BC error bodies."""


class NotFound(StoreError):
    pass


class DuplicateKey(StoreError):
    pass


class InvalidValue(StoreError):
    pass


class ReadOnly(StoreError):
    """A write BC refuses: a read-only entity set or a posted document."""

    def __init__(self, message: str, code: str, *, entity_level: bool) -> None:
        super().__init__(message)
        self.code = code
        self.entity_level = entity_level  # the whole set (chart of accounts), not one record


def format_datetime(value: datetime) -> str:
    """ISO-8601 UTC with exactly three fractional digits and Z."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def truncate_ms(value: datetime) -> datetime:
    # BC stores milliseconds; keeping more would make "gt <rendered value>" match the row itself.
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def make_etag(row_id: str, version: int) -> str:
    """Opaque weak etag shaped like BC's: W/"base64('44;<key>;<version>;')"."""
    key = base64.b64encode(uuid.UUID(row_id).bytes).decode()
    inner = f"'44;{key};{version};'"
    return 'W/"' + base64.b64encode(inner.encode()).decode() + '"'


def _refuse(kind: Kind, value: Any) -> InvalidValue:
    shown = "a primitive value" if not isinstance(value, str) else f"'{value}'"
    return InvalidValue(f"Cannot convert {shown} to the expected type '{kind.value}'.")


def coerce(definition: EntitySetDef, name: str, value: Any) -> Any:
    """One JSON value to the field's Python type, or InvalidValue (400 on the wire)."""
    kind = definition.fields[name]
    if kind in (Kind.STRING, Kind.ENUM):
        if not isinstance(value, str):
            raise _refuse(kind, value)
        limit = definition.lengths.get(name)
        if limit is not None and len(value) > limit:
            raise InvalidValue(
                f"The length of the string is {len(value)}, but it must be less than or equal "
                f"to {limit} characters. Value: {value}"
            )
        allowed = definition.enums.get(name)
        if allowed is not None and value not in allowed:
            raise InvalidValue(
                f"Cannot convert the literal '{value}' to the expected type "
                f"'Microsoft.NAV.{definition.type_name}{name[0].upper()}{name[1:]}'."
            )
        return value
    if kind in (Kind.DECIMAL, Kind.INTEGER):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _refuse(kind, value)
        return float(value) if kind is Kind.DECIMAL else int(value)
    if kind is Kind.BOOLEAN:
        if not isinstance(value, bool):
            raise _refuse(kind, value)
        return value
    try:
        if kind is Kind.GUID:
            return str(uuid.UUID(str(value)))
        if kind is Kind.DATETIME:
            return truncate_ms(parse_datetime(str(value)))
        if kind is Kind.DATE and isinstance(value, str):
            return date.fromisoformat(value)
    except ValueError as exc:
        raise _refuse(kind, str(value)) from exc
    raise _refuse(kind, value)
