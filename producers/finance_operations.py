"""Dynamics 365 Finance & Operations as a source: data entities under ``/data``.

Standard entities carry no modified stamp; an environment that adds one (a custom field, or
change tracking surfaced as a field) names it per connection, ``ModifiedDateTime`` by
default. Every read is cross-company, narrowed to the connection's legal entity when set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ml_connector.api.odata import odata_string
from ml_connector.clients.finance_operations import FinanceOperationsClient
from ml_connector.config import FlowConfig
from ml_connector.connections.finance_operations import FinanceOperationsConnection
from ml_connector.secrets import SecretStore
from ml_connector.streams import CursorField
from ml_connector.streams.dialects import ODATA
from ml_connector.streams.literals import odata_datetime
from ml_connector.streams.styles import NEXT_LINK
from producers.events import text
from producers.source import StreamSource
from producers.stream import Stream

SYSTEM = "finance_operations"
MODIFIED_FIELD = "ModifiedDateTime"


def vendor(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": r["VendorAccountNumber"],
        "name": r.get("VendorName") or r["VendorAccountNumber"],
        "address_line1": text(r.get("AddressStreet")),
        "address_line2": None,
        "city": text(r.get("AddressCity")),
        "state": text(r.get("AddressState")),
        "postal_code": text(r.get("AddressZipCode")),
        "country": text(r.get("AddressCountryRegionId")),
        "phone": text(r.get("PrimaryPhoneNumber")),
        "email": text(r.get("PrimaryEmailAddress")),
        "tax_id": text(r.get("TaxExemptNumber")),
        "currency": text(r.get("CurrencyCode")),
        "payment_terms": text(r.get("DefaultPaymentTermsName")),
        # OnHoldStatus: No, Invoice, All, Payment, Requisition, Never; only No and Never pay.
        "blocked": r.get("OnHoldStatus") not in (None, "", "No", "Never"),
        "balance": None,
    }


def streams(company: str | None, modified_field: str = MODIFIED_FIELD) -> dict[str, Stream]:
    legal_entity = f"dataAreaId eq {odata_string(company)}" if company else None
    return {
        "vendor": Stream(entity="vendor", path="VendorsV2", to_canonical=vendor, dialect=ODATA,
                         paging=NEXT_LINK, cursor=CursorField(modified_field, odata_datetime),
                         key_field="VendorAccountNumber", version_field="@odata.etag",
                         filter=legal_entity,
                         # Without it F&O reads only the user's default company.
                         params={"cross-company": "true"}),
    }  # fmt: skip


def _named(company: str | None) -> Callable[[], Awaitable[str | None]]:
    async def name() -> str | None:
        return company

    return name


def source(
    connection: FinanceOperationsConnection, flow: FlowConfig, secrets: SecretStore
) -> StreamSource:
    client = FinanceOperationsClient(connection, secrets)
    return StreamSource(SYSTEM, client, streams(connection.company), _named(connection.company))
