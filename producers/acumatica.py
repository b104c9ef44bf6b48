"""Acumatica as a source: contract-based entities, ``$top``/``$skip`` pages of value-wrapped
records that the declared selector unwraps."""

from __future__ import annotations

from typing import Any

from ml_connector.clients.acumatica import AcumaticaClient
from ml_connector.clients.acumatica_values import unwrap
from ml_connector.config import FlowConfig
from ml_connector.connections.acumatica import AcumaticaConnection
from ml_connector.secrets import SecretStore
from ml_connector.streams import CursorField
from ml_connector.streams.dialects import ODATA
from ml_connector.streams.literals import acumatica_datetime
from ml_connector.streams.styles import TOP_SKIP
from producers.events import text
from producers.source import StreamSource
from producers.stream import Stream

SYSTEM = "acumatica"
CURSOR = CursorField("LastModifiedDateTime", acumatica_datetime)
HELD = frozenset({"On Hold", "Hold Payments", "Inactive"})


def vendor(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": r["VendorID"],
        "name": r.get("VendorName") or r["VendorID"],
        "address_line1": None,
        "address_line2": None,
        "city": None,
        "state": None,
        "postal_code": None,
        "country": None,
        "phone": None,
        "email": text(r.get("Email")),
        "tax_id": text(r.get("TaxRegistrationID")),
        "currency": text(r.get("CurrencyID")),
        "payment_terms": text(r.get("Terms")),
        "blocked": r.get("Status") in HELD,
        "balance": None,
    }


STREAMS: dict[str, Stream] = {
    # ``id`` is the record's GUID: it survives a change of the VendorID key.
    "vendor": Stream(entity="vendor", path="Vendor", to_canonical=vendor, dialect=ODATA,
                     paging=TOP_SKIP, cursor=CURSOR, key_field="id", selector=unwrap),
}  # fmt: skip


def source(connection: AcumaticaConnection, flow: FlowConfig, secrets: SecretStore) -> StreamSource:
    client = AcumaticaClient(connection, secrets)

    async def instance() -> str:
        return client.instance

    return StreamSource(SYSTEM, client, STREAMS, instance)
