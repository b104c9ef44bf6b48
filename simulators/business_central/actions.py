"""Bound actions: ``Microsoft.NAV.post`` on invoices and ``receiveAndInvoice`` on orders.

Posting is the one write a connector must never repeat, so the simulator refuses a second post
and makes posted documents read-only (``BusinessCentralStore.check_writable``), exactly where a
client that retries blindly would double-post against the real service.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from simulators.business_central.entities import EntitySetDef
from simulators.business_central.http import ApiContext, Handler, bc_error
from simulators.business_central.store import POSTED_STATUSES, BusinessCentralStore, Row

DIALOG = "Application_DialogException"


def _refusal(message: str) -> Response:
    return bc_error(400, DIALOG, message)


class DocumentActions:
    def __init__(self, store: BusinessCentralStore) -> None:
        self.store = store

    def handler(self, definition: EntitySetDef, action: str) -> Handler:
        perform = {"post": self.post, "receiveAndInvoice": self.receive_and_invoice}[action]

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
