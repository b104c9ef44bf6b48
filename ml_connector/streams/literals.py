"""How each system writes a timestamp in a query: the one system-specific part of a cursor."""

from __future__ import annotations

from datetime import UTC, datetime

from ml_connector.api.odata import odata_datetime

SERVICENOW_FORMAT = "%Y-%m-%d %H:%M:%S"  # sys_updated_on, UTC for the integration user

# ServiceTitan's modifiedOnOrAfter takes the same ISO 8601 UTC text as an OData literal.
iso_utc = odata_datetime


def acumatica_datetime(value: datetime) -> str:
    """``datetimeoffset'2024-01-01T00:00:00.000+00:00'``, the literal Acumatica documents."""
    return f"datetimeoffset'{value.isoformat(timespec='milliseconds')}'"


def servicenow_time(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime(SERVICENOW_FORMAT)


__all__ = ["acumatica_datetime", "iso_utc", "odata_datetime", "servicenow_time"]
