"""Bound actions: ``Microsoft.NAV.post`` on invoices and customer payment journals, and
``receiveAndInvoice`` on orders.

Posting is the one write a connector must never repeat, so the simulator refuses a second post
and makes posted documents read-only (``BusinessCentralStore.check_writable``), exactly where a
client that retries blindly would double-post against the real service.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from simulators.business_central.entities import ZERO_GUID, EntitySetDef
from simulators.business_central.http import ApiContext, Handler, bc_error
from simulators.business_central.store import (
    POSTED_STATUSES,
    BusinessCentralStore,
    NotFound,
    Row,
)

DIALOG = "Application_DialogException"


def _refusal(message: str) -> Response:
    return bc_error(400, DIALOG, message)


class DocumentActions:
    def __init__(self, store: BusinessCentralStore) -> None:
        self.store = store

    def handler(self, definition: EntitySetDef, action: str) -> Handler:
        perform = {"post": self.post, "receiveAndInvoice": self.receive_and_invoice}[action]
        if definition.name == "customerPaymentJournals":
            perform = self.post_journal

        async def endpoint(ctx: ApiContext) -> Response:
            with self.store.lock:
                row = self.store.get(ctx.company_id, definition.name, ctx.request.path_params["id"])
                refused = perform(ctx.company_id, definition, row)
            return refused or Response(status_code=204)

        return endpoint

    def _lines(self, company_id: str, definition: EntitySetDef, row: Row) -> list[Row]:
        line_set = f"{definition.name[:-1]}Lines"  # purchaseInvoices -> purchaseInvoiceLines
        return self.store.rows(company_id, line_set, row.values["id"])

    def post(self, company_id: str, definition: EntitySetDef, row: Row) -> Response | None:
        """Draft -> Open; the document becomes read-only. A second post is refused."""
        number = row.values.get("number")
        if row.values.get("status") in POSTED_STATUSES:
            return _refusal(f"{definition.label} {number} has already been posted.")
        if not self._lines(company_id, definition, row):
            return _refusal("There is nothing to post.")
        changes: dict[str, Any] = {"status": "Open"}
        if "remainingAmount" in definition.fields:
            changes["remainingAmount"] = row.values.get("totalAmountIncludingTax")
        self.store.update(company_id, definition.name, row.values["id"], changes)
        return None

    def receive_and_invoice(
        self, company_id: str, definition: EntitySetDef, order: Row
    ) -> Response | None:
        """Receive every open quantity and create the posted purchase invoice (orderId set)."""
        lines = self._lines(company_id, definition, order)
        open_lines = [
            line
            for line in lines
            if (line.values.get("quantity") or 0) > (line.values.get("invoicedQuantity") or 0)
        ]
        if not open_lines:
            return _refusal("There is nothing to post.")
        today = self.store.clock.now().date()
        source = order.values
        invoice = self.store.insert(
            company_id,
            "purchaseInvoices",
            {
                "invoiceDate": today,
                "postingDate": today,
                "dueDate": today,
                "vendorInvoiceNumber": source.get("number"),
                "vendorId": source.get("vendorId"),
                "vendorNumber": source.get("vendorNumber"),
                "orderId": source["id"],
                "shortcutDimension1Code": source.get("shortcutDimension1Code"),
                "shortcutDimension2Code": source.get("shortcutDimension2Code"),
                "currencyCode": source.get("currencyCode"),
            },
        )
        for line in open_lines:
            values = line.values
            quantity = (values.get("quantity") or 0) - (values.get("invoicedQuantity") or 0)
            self.store.insert(
                company_id,
                "purchaseInvoiceLines",
                {
                    "documentId": invoice.values["id"],
                    "lineType": values.get("lineType"),
                    "itemId": values.get("itemId"),
                    "accountId": values.get("accountId"),
                    "lineObjectNumber": values.get("lineObjectNumber"),
                    "description": values.get("description"),
                    "quantity": quantity,
                    "unitCost": values.get("directUnitCost"),
                },
            )
            done = {"receivedQuantity": values.get("quantity"), "receiveQuantity": 0.0}
            done |= {"invoicedQuantity": values.get("quantity"), "invoiceQuantity": 0.0}
            self.store.update(company_id, "purchaseOrderLines", values["id"], done)
        self.store.update(company_id, "purchaseInvoices", invoice.values["id"], {"status": "Open"})
        self.store.update(company_id, definition.name, source["id"], {"fullyReceived": True})
        return None

    def post_journal(
        self, company_id: str, definition: EntitySetDef, journal: Row
    ) -> Response | None:
        """Post every line of a customer payment journal, or none: each line applied to an
        invoice must name a posted one of the same customer with that much still open. The
        lines leave the journal and stay as general ledger entries (document type Payment);
        the invoices' remaining amounts go down, and an invoice paid in full is Paid."""
        lines = self.store.rows(company_id, "customerPayments", journal.values["id"])
        if not lines:
            return _refusal("There is nothing to post.")
        open_amounts: dict[str, float] = {}
        for line in lines:
            v = line.values
            invoice_id = str(v.get("appliesToInvoiceId") or ZERO_GUID)
            if invoice_id == ZERO_GUID:
                continue
            try:
                invoice = self.store.get(company_id, "salesInvoices", invoice_id).values
            except NotFound:
                return _refusal(
                    f"Line {v['lineNumber']}: the invoice it applies to does not exist."
                )
            if invoice.get("status") not in POSTED_STATUSES:
                return _refusal(f"Line {v['lineNumber']}: invoice {invoice.get('number')} is "
                                "not posted; only posted invoices can be applied.")  # fmt: skip
            if invoice.get("customerId") != v.get("customerId"):
                return _refusal(f"Line {v['lineNumber']}: invoice {invoice.get('number')} "
                                "belongs to another customer.")  # fmt: skip
            left = open_amounts.get(invoice_id, float(invoice.get("remainingAmount") or 0))
            left = round(left - float(v.get("amount") or 0), 2)
            if left < 0:
                return _refusal(f"Line {v['lineNumber']}: the amount is more than remains "
                                f"open on invoice {invoice.get('number')}.")  # fmt: skip
            open_amounts[invoice_id] = left
        accounts = self.store.rows(company_id, "accounts")
        receivables = next(
            (a for a in accounts if a.values.get("subCategory") == "Accounts Receivable"), None
        )
        for line in lines:
            v = line.values
            self.store.insert(
                company_id,
                "generalLedgerEntries",
                {
                    "postingDate": v.get("postingDate") or self.store.clock.now().date(),
                    "documentNumber": v.get("documentNumber"),
                    "documentType": "Payment",
                    "accountId": receivables.values["id"] if receivables else ZERO_GUID,
                    "accountNumber": receivables.values["number"] if receivables else "",
                    "description": f"Payment {v.get('documentNumber')}",
                    "externalDocumentNumber": v.get("externalDocumentNumber"),
                    "creditAmount": v.get("amount"),
                },
            )
            self.store.delete(company_id, "customerPayments", v["id"])
        for invoice_id, left in open_amounts.items():
            changes: dict[str, Any] = {"remainingAmount": left}
            if left <= 0:
                changes["status"] = "Paid"
            self.store.update(company_id, "salesInvoices", invoice_id, changes)
        return None
