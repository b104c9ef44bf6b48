"""Acumatica as a source: contract-based entities of the Default endpoint, ``$top``/``$skip``
pages of value-wrapped records that the declared selector unwraps.

Every stream is keyed by the record's ``id`` GUID, which survives a change of its key fields,
and documents bring their ``Details`` lines with the header (``$expand``): a line edited alone
moves the header's LastModifiedDateTime, so the next delta read carries it.
"""

from __future__ import annotations

import json
from typing import Any

from ml_connector.api.odata import odata_string
from ml_connector.clients.acumatica import AcumaticaClient
from ml_connector.clients.acumatica_values import unwrap
from ml_connector.config import FlowConfig
from ml_connector.connections.acumatica import AcumaticaConnection
from ml_connector.secrets import SecretStore
from ml_connector.streams import CursorField, read
from ml_connector.streams.dialects import ODATA
from ml_connector.streams.literals import acumatica_datetime
from ml_connector.streams.styles import TOP_SKIP
from producers.events import day, money, text
from producers.hint import Hint
from producers.source import StreamSource
from producers.stream import Mapper, Stream

SYSTEM = "acumatica"
CURSOR = CursorField("LastModifiedDateTime", acumatica_datetime)
HELD = frozenset({"On Hold", "Hold Payments", "Inactive"})
# Subaccounts are Acumatica's cost centers: the dimension they belong to, for subscribers.
SUBACCOUNT = "SUBACCOUNT"


def vendor(r: dict[str, Any]) -> dict[str, Any]:
    # The business account's main contact holds the vendor's address and phone.
    contact = r.get("MainContact") or {}
    address = contact.get("Address") or {}
    return {
        "number": r["VendorID"],
        "name": r.get("VendorName") or r["VendorID"],
        "address_line1": text(address.get("AddressLine1")),
        "address_line2": text(address.get("AddressLine2")),
        "city": text(address.get("City")),
        "state": text(address.get("State")),
        "postal_code": text(address.get("PostalCode")),
        "country": text(address.get("Country")),
        "phone": text(contact.get("Phone1")),
        "email": text(r.get("Email")) or text(contact.get("Email")),
        "tax_id": text(r.get("TaxRegistrationID")),
        "currency": text(r.get("CurrencyID")),
        "payment_terms": text(r.get("Terms")),
        "blocked": r.get("Status") in HELD,
        "balance": None,
    }


def gl_account(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": r["AccountCD"],
        "name": r.get("Description") or r["AccountCD"],
        "category": text(r.get("Type")),  # Asset, Liability, Income, Expense
        "sub_category": None,
        "account_type": "Posting",  # Acumatica accounts are all posting accounts
        "direct_posting": True,
        "blocked": r.get("Active") is False,
    }


def cost_center(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": r["SubaccountCD"],
        "name": r.get("Description") or r["SubaccountCD"],
        "dimension": SUBACCOUNT,
        "blocked": r.get("Active") is False,
    }


def line(r: dict[str, Any], *, description: str, quantity: str, amount: str) -> dict[str, Any]:
    """A PO or bill detail line: charged to an account and subaccount, maybe for an item."""
    item, account = text(r.get("InventoryID")), text(r.get("Account"))
    return {
        "line_number": int(r.get("LineNbr") or 0),
        "line_type": "item" if item else "account" if account else None,
        "item_number": item,
        "account_number": account,
        "description": text(r.get(description)),
        "quantity": money(r.get(quantity)),
        "unit_cost": money(r.get("UnitCost")),
        "cost_center": text(r.get("Subaccount")),
        "amount": money(r.get(amount)),
    }


def _lines(r: dict[str, Any], **fields: str) -> list[dict[str, Any]]:
    out = [line(d, **fields) for d in r.get("Details") or []]
    # Lines without a number (an instance that hides LineNbr) keep their order.
    for n, entry in enumerate(out, start=1):
        entry["line_number"] = entry["line_number"] or n
    return sorted(out, key=lambda entry: int(entry["line_number"]))


def purchase_order(r: dict[str, Any]) -> dict[str, Any]:
    total = money(r.get("OrderTotal"))
    return {
        "number": r["OrderNbr"],
        "vendor_number": r.get("VendorID") or "",
        "vendor_ref": None,
        "order_date": day(r.get("Date")),
        "currency": text(r.get("CurrencyID")),
        "status": text(r.get("Status")),
        "cost_center": None,  # Acumatica charges each line to its own subaccount
        "total_excluding_tax": total,
        "total_including_tax": total,
        "lines": _lines(r, description="LineDescription", quantity="OrderQty",
                        amount="ExtendedCost"),
    }  # fmt: skip


def purchase_invoice(r: dict[str, Any]) -> dict[str, Any]:
    """An AP bill; ``status`` says whether it is released (Open, Closed) or not yet."""
    total = money(r.get("Amount"))
    orders = {d.get("POOrderNbr") for d in r.get("Details") or [] if d.get("POOrderNbr")}
    return {
        "number": r["ReferenceNbr"],
        "vendor_invoice_number": text(r.get("VendorRef")),
        "vendor_number": r.get("Vendor") or "",
        "vendor_ref": None,
        # The order a bill was entered from, when its lines name exactly one.
        "order_number": orders.pop() if len(orders) == 1 else None,
        "invoice_date": day(r.get("Date")),
        "posting_date": day(r.get("Date")),
        "due_date": day(r.get("DueDate")),
        "currency": text(r.get("CurrencyID")),
        "status": text(r.get("Status")),
        "cost_center": None,
        "total_excluding_tax": total,
        "total_including_tax": total,
        "lines": _lines(r, description="TransactionDescription", quantity="Qty", amount="Amount"),
    }


def payment(r: dict[str, Any]) -> dict[str, Any]:
    """An AP payment (Check) and the bill it applies to, from its application lines."""
    bills = [d for d in r.get("Details") or [] if d.get("ReferenceNbr")]
    return {
        "number": r["ReferenceNbr"],
        "customer_number": None,
        "vendor_number": text(r.get("Vendor")),
        "posting_date": day(r.get("ApplicationDate")),
        "amount": money(r.get("PaymentAmount")),
        "currency": text(r.get("CurrencyID")),
        "applies_to_invoice_number": None,
        "external_document_number": text(r.get("PaymentRef")),
        "applies_to_bill_number": text(bills[0]["ReferenceNbr"]) if bills else None,
    }


def acumatica_stream(entity: str, path: str, to_canonical: Mapper, *,
                     expand: str | None = None) -> Stream:  # fmt: skip
    """A Default endpoint entity, read by LastModifiedDateTime and offset pages."""
    return Stream(entity=entity, path=path, to_canonical=to_canonical, dialect=ODATA,
                  paging=TOP_SKIP, cursor=CURSOR, key_field="id", selector=unwrap,
                  expand=expand)  # fmt: skip


STREAMS: dict[str, Stream] = {
    "vendor": acumatica_stream("vendor", "Vendor", vendor, expand="MainContact/Address"),
    "gl_account": acumatica_stream("gl_account", "Account", gl_account),
    "cost_center": acumatica_stream("cost_center", "Subaccount", cost_center),
    "purchase_order": acumatica_stream("purchase_order", "PurchaseOrder", purchase_order,
                                       expand="Details"),
    "purchase_invoice": acumatica_stream("purchase_invoice", "Bill", purchase_invoice,
                                         expand="Details"),
    "payment": acumatica_stream("payment", "Check", payment, expand="Details"),
}  # fmt: skip
ENTITIES = tuple(STREAMS)
# The key fields of each entity, in order: what a push notification's row names it by.
KEYS: dict[str, tuple[str, ...]] = {
    "Vendor": ("VendorID",),
    "Account": ("AccountCD",),
    "Subaccount": ("SubaccountCD",),
    "PurchaseOrder": ("Type", "OrderNbr"),
    "Bill": ("Type", "ReferenceNbr"),
    "Check": ("Type", "ReferenceNbr"),
}
BY_PATH = {stream.path: entity for entity, stream in STREAMS.items()}


class AcumaticaSource(StreamSource):
    def __init__(self, client: AcumaticaClient) -> None:
        super().__init__(SYSTEM, client, STREAMS, self._instance, client.check_version)
        self.acumatica = client

    async def _instance(self) -> str:
        return self.acumatica.instance

    def entity_for(self, hint: Hint) -> str | None:
        return BY_PATH.get(hint.entity_set)

    async def records_for(self, hint: Hint) -> tuple[str | None, list[dict[str, Any]]]:
        """A pushed row names its record by key fields: read it back with its lines, so what
        moves is what the instance holds now, not what the notification carried."""
        entity = self.entity_for(hint)
        if entity is None or not hint.record_id:
            return None, []
        keys = json.loads(hint.record_id)
        where = " and ".join(f"{k} eq {odata_string(str(keys[k]))}" for k in KEYS[hint.entity_set])
        found = read(self.acumatica, self.streams[entity], where=where)
        return entity, [r async for page in found for r in page]


def source(
    connection: AcumaticaConnection, flow: FlowConfig, secrets: SecretStore
) -> AcumaticaSource:
    return AcumaticaSource(AcumaticaClient(connection, secrets))
