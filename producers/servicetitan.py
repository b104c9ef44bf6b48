"""ServiceTitan as a source: tenant resources read by ``modifiedOnOrAfter``, oldest first.

Page numbers shift when a record changes mid-read; the poll's overlap covers that (export
feeds, where a resource has one, are the gap-free alternative).
"""

from __future__ import annotations

from typing import Any

from ml_connector.clients.servicetitan import ServiceTitanClient
from ml_connector.config import FlowConfig
from ml_connector.connections.servicetitan import ServiceTitanConnection
from ml_connector.secrets import SecretStore
from ml_connector.streams import CursorField
from ml_connector.streams.dialects import SERVICETITAN_QUERY
from ml_connector.streams.literals import iso_utc
from ml_connector.streams.styles import PAGE_NUMBERS
from producers.events import text
from producers.source import StreamSource
from producers.stream import Stream

SYSTEM = "servicetitan"
CURSOR = CursorField("modifiedOn", iso_utc)


def vendor(r: dict[str, Any]) -> dict[str, Any]:
    address = r.get("address") or {}
    return {
        "number": str(r["id"]),  # inventory vendors have no number of their own
        "name": r.get("name") or str(r["id"]),
        "address_line1": text(address.get("street")),
        "address_line2": text(address.get("unit")),
        "city": text(address.get("city")),
        "state": text(address.get("state")),
        "postal_code": text(address.get("zip")),
        "country": text(address.get("country")),
        "phone": None,
        "email": None,
        "tax_id": None,
        "currency": None,
        "payment_terms": None,
        "blocked": not r.get("active", True),
        "balance": None,
    }


STREAMS: dict[str, Stream] = {
    # active=any: a vendor made inactive is a change to read, not a record to lose sight of.
    "vendor": Stream(entity="vendor", path="vendors", to_canonical=vendor,
                     dialect=SERVICETITAN_QUERY, paging=PAGE_NUMBERS, cursor=CURSOR,
                     params={"active": "any"}),
}  # fmt: skip


def source(
    connection: ServiceTitanConnection, flow: FlowConfig, secrets: SecretStore
) -> StreamSource:
    client = ServiceTitanClient(connection, secrets)

    async def tenant() -> str:
        return str(connection.tenant_id)

    return StreamSource(SYSTEM, client, STREAMS, tenant)
