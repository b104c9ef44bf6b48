"""Business Central as a target of the receivables side: customers, the cost center
dimension's values, and customer payments posted through a payment journal.

Masters are upserts by their code (``number``, a dimension value's ``code``): a value the
dimension lacks is created, which is how a business unit seen for the first time becomes the
dimension value its revenue is coded to. Payments are the one write here that posts, so each
starts by looking for what an earlier attempt left: the posted payment (a general ledger
entry of document type Payment carrying the source's payment id as its document number), then
a journal line not posted yet. Only a payment found in neither place gets a line; a line is
posted exactly once. Payments go through the journal one at a time per process, and a post
refused because another process's post took the line with it is recognised by reading the
ledger.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from ml_connector.api.errors import AlreadyExists, FatalError, NotFound
from ml_connector.api.odata import odata_literal
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.records import Record
from ml_connector.values import comparable
from sinks.base import Outcome
from sinks.business_central_documents import code

NAME_LENGTH = 100  # customers' displayName is Text[100]
VALUE_NAME_LENGTH = 50  # dimension values' displayName is Text[50]
UPSERTED = {"created": "inserted", "updated": "updated", "unchanged": "ignored"}
POSTED = ("Open", "Paid")


def customer_body(doc: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"number": code(doc["number"]),
                            "displayName": doc["name"][:NAME_LENGTH]}  # fmt: skip
    if doc.get("email"):
        body["email"] = doc["email"]
    if doc.get("currency"):
        body["currencyCode"] = code(doc["currency"])
    # BC's blocked is an enum; a customer blocked at the source takes no new invoices.
    body["blocked"] = "All" if doc.get("blocked") else " "
    return body


class Receivables:
    def __init__(self, client: BusinessCentralClient, dimension: str, journal: str,
                 shortcut_field: str = "shortcutDimension2Code") -> None:  # fmt: skip
        self.client = client
        self.dimension = dimension
        self.journal = journal
        self.shortcut_field = shortcut_field
        self._journal_id: str | None = None
        self._posting = asyncio.Lock()

    async def customer(self, doc: Mapping[str, Any]) -> Outcome:
        done, held = await self.client.upsert("customers", "number", customer_body(doc))
        return Outcome(UPSERTED[done], target_id=str(held["id"]))

    async def cost_center(self, doc: Mapping[str, Any]) -> Outcome:
        """The dimension value of that code, created if the dimension lacks it."""
        values = await self.client.dimension_values(self.dimension)
        body = {"code": code(doc["code"]), "displayName": doc["name"][:VALUE_NAME_LENGTH]}
        done, held = await self.client.upsert(values, "code", body)
        return Outcome(UPSERTED[done], target_id=str(held["id"]))

    # -- payments ------------------------------------------------------------------------

    async def _journal(self) -> str:
        """The payment journal batch the flow posts through, created when BC lacks it (by
        another writer too, meanwhile: then it is found again)."""
        if self._journal_id is None:
            found = await self.client.find("customerPaymentJournals", "code", self.journal)
            if found is None:
                body = {"code": self.journal, "displayName": "ml-connector payments"}
                try:
                    found = await self.client.create("customerPaymentJournals", body)
                except AlreadyExists:
                    found = await self.client.find("customerPaymentJournals", "code",
                                                   self.journal)  # fmt: skip
                    if found is None:
                        raise
            self._journal_id = str(found["id"])
        return self._journal_id

    async def _posted(self, number: str) -> Record | None:
        flt = f"documentNumber eq {odata_literal(number)} and documentType eq 'Payment'"
        async for page in self.client.read("generalLedgerEntries", filter=flt):
            return page[0] if page else None
        return None

    async def _invoice(self, number: str, payment: str) -> Record:
        found = await self.client.find("salesInvoices", "externalDocumentNumber", number)
        if found is None:
            raise NotFound(f"payment {payment}: Business Central has no sales invoice from "
                           f"invoice {number!r}")  # fmt: skip
        if found.get("status") not in POSTED:
            raise FatalError(f"payment {payment}: sales invoice {found.get('number')} (from "
                             f"invoice {number}) is not posted")  # fmt: skip
        return found

    async def _line(self, doc: Mapping[str, Any], journal_id: str) -> Record:
        number = code(doc["number"])
        customer = code(doc.get("customer_number") or "")
        customer_id = await self.client.find("customers", "number", customer) if customer else None
        if customer_id is None:
            raise NotFound(f"payment {number}: Business Central has no customer {customer!r}")
        body: dict[str, Any] = {"customerId": customer_id["id"], "documentNumber": number,
                                "amount": float(doc["amount"] or 0)}  # fmt: skip
        if doc.get("posting_date") is not None:
            body["postingDate"] = doc["posting_date"].isoformat()
        if doc.get("external_document_number"):
            body["externalDocumentNumber"] = doc["external_document_number"][:35]
        if doc.get("applies_to_invoice_number"):
            invoice = await self._invoice(str(doc["applies_to_invoice_number"]), number)
            if invoice.get("customerId") != customer_id["id"]:
                raise FatalError(f"payment {number}: sales invoice {invoice.get('number')} is "
                                 f"not customer {customer}'s")  # fmt: skip
            if float(invoice.get("remainingAmount") or 0) + 0.005 < body["amount"]:
                raise FatalError(f"payment {number}: {body['amount']:.2f} is more than the "
                                 f"{invoice.get('remainingAmount')} open on sales invoice "
                                 f"{invoice.get('number')}")  # fmt: skip
            body["appliesToInvoiceId"] = invoice["id"]
            body["appliesToInvoiceNumber"] = invoice.get("number")
        return await self.client.create(
            f"customerPaymentJournals({journal_id})/customerPayments", body
        )

    async def payment(self, doc: Mapping[str, Any]) -> Outcome:
        number = code(doc["number"])
        if (entry := await self._posted(number)) is not None:
            return Outcome("ignored", target_id=str(entry["id"]))  # posted: never again
        if not doc.get("amount") or doc["amount"] <= 0:
            raise FatalError(f"payment {number} has no amount to post")
        # One payment at a time through the journal: posting it posts every line in it, so a
        # line of another write half made must not ride along (nor fail this post).
        async with self._posting:
            if (entry := await self._posted(number)) is not None:
                return Outcome("ignored", target_id=str(entry["id"]))
            return await self._post_payment(doc, number)

    async def _post_payment(self, doc: Mapping[str, Any], number: str) -> Outcome:
        journal_id = await self._journal()
        lines = f"customerPaymentJournals({journal_id})/customerPayments"
        held = await self.client.find(lines, "documentNumber", number)
        status = "written" if held is not None else "inserted"  # a line left by a crash
        if held is None:
            await self._line(doc, journal_id)
        try:
            await self.client.action("customerPaymentJournals", journal_id, "Microsoft.NAV.post")
        except FatalError:
            # Another write's post took this line with it, or BC refused the batch.
            if (entry := await self._posted(number)) is None:
                raise
            return Outcome(status, target_id=str(entry["id"]))
        entry = await self._posted(number)
        if entry is None:
            raise FatalError(f"payment {number}: the journal posted, yet no ledger entry has it")
        return Outcome(status, target_id=str(entry["id"]))

    # -- reconciliation ----------------------------------------------------------------

    async def snapshot(self, entity: str) -> dict[str, dict[str, str]]:
        """Customers, dimension values and posted payments by their code, as canonical
        fields (a payment by the source's id it carries as its document number)."""
        if entity == "payment":
            flt = "documentType eq 'Payment'"
            entries = [e async for page in self.client.read("generalLedgerEntries", filter=flt)
                       for e in page]  # fmt: skip
            return {str(e["documentNumber"]).casefold(): {"amount": comparable(e["creditAmount"])}
                    for e in entries}  # fmt: skip
        entity_set, key = ("customers", "number") if entity == "customer" else (
            await self.client.dimension_values(self.dimension), "code")  # fmt: skip
        rows = [r async for page in self.client.read(entity_set) for r in page]
        return {str(r[key]).casefold(): {"name": str(r.get("displayName") or "")} for r in rows}

    async def dimension_totals(self, invoices: set[str]) -> dict[str, tuple[str, str]]:
        """Per cost center code: (invoiced, applied) of the posted sales invoices whose
        external document number is among ``invoices``, applied being what payments took
        off them (total less what remains open)."""
        from decimal import Decimal

        field = self.shortcut_field
        sums: dict[str, list[Decimal]] = {}
        async for page in self.client.read("salesInvoices"):
            for doc in page:
                if str(doc.get("externalDocumentNumber") or "").casefold() not in invoices:
                    continue
                if doc.get("status") not in POSTED:
                    continue
                total = Decimal(str(doc.get("totalAmountIncludingTax") or 0))
                left = Decimal(str(doc.get("remainingAmount") or 0))
                both = sums.setdefault(str(doc.get(field) or ""), [Decimal(0), Decimal(0)])
                both[0] += total
                both[1] += total - left
        return {k: (comparable(v[0]), comparable(v[1])) for k, v in sums.items()}
