"""Business Central as a target: ServiceNow purchase orders and invoices, and ServiceTitan
sales invoices, as BC documents; customers, cost centers and payments (``receivables``).

BC has no idempotency key, so every write starts with a look-up by the source's number
(``vendorInvoiceNumber`` of purchase invoices, ``number`` of orders, ``externalDocumentNumber``
of sales invoices). What is found decides:

- nothing: the document is created with its lines in one deep insert (invoices are posted);
- a posted invoice: ``ignored``, whatever changed, since a posted document is never changed;
- a draft (a crash between create and post, or a changed order): brought in line with the
  record, then posted if it is an invoice (``post_once`` never posts twice);
- an order no longer a draft: ``ignored`` if it agrees, refused if ServiceNow changed it.

So a re-read, a replay or an offset reset creates and posts nothing new. References BC lacks
(vendor, G/L account, item, cost center) are refused as ``NotFound`` naming each of them: the
record goes to the dead-letter topic and can be redriven once the masters exist.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from ml_connector.api.batch import BatchOperation, first_failure
from ml_connector.api.errors import AlreadyExists, Conflict, FatalError, NotFound
from ml_connector.api.odata import odata_literal
from ml_connector.clients.business_central import MAX_BATCH, BusinessCentralClient
from ml_connector.config import PAYMENT_JOURNAL
from ml_connector.connections.business_central import BusinessCentralConnection
from ml_connector.records import Record
from ml_connector.values import comparable
from sinks.base import Outcome, SinkRecord, TargetContext
from sinks.batching import Result
from sinks.business_central_batch import write_documents
from sinks.business_central_documents import (
    KINDS,
    SALES_INVOICE,
    DocumentKind,
    References,
    code,
    cost_center,
    differences,
    render,
)
from sinks.business_central_receivables import Receivables


class Lookups:
    """BC ids by code, remembered once found (ids never change); misses are asked again, so a
    master created after a refusal is found when the record is redriven."""

    def __init__(self, client: BusinessCentralClient, dimension: str) -> None:
        self.client = client
        self.dimension = dimension
        self._ids: dict[tuple[str, str], str] = {}
        # One look-up per code at a time: concurrent writes naming it wait for its answer
        # instead of asking again.
        self._asking: dict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)

    async def find(self, entity_set: str, field: str, value: str) -> str | None:
        async with self._asking[(entity_set, value)]:
            if (entity_set, value) not in self._ids:
                found = await self.client.find(entity_set, field, value)
                if found is None:
                    return None
                self._ids[(entity_set, value)] = str(found["id"])
        return self._ids[(entity_set, value)]

    async def cost_center(self, value: str) -> str | None:
        return await self.find(await self.client.dimension_values(self.dimension), "code", value)

    async def references(self, kind: DocumentKind, doc: Mapping[str, Any]) -> References:
        """Every reference of ``doc`` resolved, or one NotFound naming all that are missing."""
        missing: list[str] = []
        party = kind.party
        number = code(doc[party.canonical] or "")
        party_id = await self.find(party.entity_set, "number", number) if number else None
        if party_id is None:
            missing.append(f"{party.label} {number!r}" if number
                           else f"{party.label} (the source names none)")  # fmt: skip
        found: dict[str, dict[str, str]] = {"accounts": {}, "items": {}}
        for line in doc["lines"]:
            for entity_set, field, what in (("accounts", "account_number", "G/L account"),
                                            ("items", "item_number", "item")):  # fmt: skip
                number = code(line.get(field) or "")
                if not number or number in found[entity_set]:
                    continue
                if (target := await self.find(entity_set, "number", number)) is None:
                    missing.append(f"{what} {number!r}")
                else:
                    found[entity_set][number] = target
        center = cost_center(kind, doc)
        if center and await self.cost_center(center) is None:
            missing.append(f"{self.dimension} dimension value {center!r}")
        if missing:
            raise NotFound(f"{kind.label} {doc['number']}: Business Central has no "
                           f"{', no '.join(missing)}")  # fmt: skip
        assert party_id is not None
        return References(party_id, found["accounts"], found["items"])


class BusinessCentralTarget:
    def __init__(
        self,
        client: BusinessCentralClient,
        *,
        cost_center_dimension: str,
        cost_center_shortcut: int,
        payment_journal: str = PAYMENT_JOURNAL,
    ) -> None:
        self.client = client
        self.lookups = Lookups(client, cost_center_dimension)
        self.cost_center_field = f"shortcutDimension{cost_center_shortcut}Code"
        receivables = Receivables(client, cost_center_dimension, payment_journal,
                                  self.cost_center_field)  # fmt: skip
        self.receivables = receivables
        self.masters = {"customer": receivables.customer, "cost_center": receivables.cost_center,
                        "payment": receivables.payment}  # fmt: skip
        self.batch_limit = MAX_BATCH

    async def write(self, record: SinkRecord) -> Outcome:
        kind = KINDS.get(record.entity)
        doc = record.event["after"]
        if kind is None and record.entity in self.masters:
            # A master or payment dropped at the source stays in BC: its ledger refers to it.
            return await self.masters[record.entity](doc) if doc else Outcome("ignored")
        if kind is None:
            return Outcome("rejected", error=f"Business Central takes no {record.entity} here")
        if doc is None:
            # A document dropped in ServiceNow stays in BC's books: ledgers are not undone.
            return Outcome("ignored")
        if not doc["number"]:
            raise FatalError(f"{kind.label} {record.key} has no number in its source")
        for attempt in range(2):
            try:
                return await self._write(kind, doc)
            except (AlreadyExists, Conflict):
                # Someone wrote the same document between our look-up and our write: look
                # again, once; the second look-up sees their write.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _find(self, kind: DocumentKind, number: str) -> Record | None:
        """The document with its lines, in one request."""
        flt = f"{kind.key_field} eq {odata_literal(number)}"
        async for page in self.client.read(kind.entity_set, filter=flt, expand=kind.line_set):
            return page[0] if page else None
        return None

    async def write_batch(self, records: Sequence[SinkRecord]) -> list[Result]:
        """Look-ups, creates and posts each in one ``$batch`` (``business_central_batch``)."""
        return await write_documents(self, records)

    async def references(self, kind: DocumentKind, doc: Mapping[str, Any]) -> References:
        return await self.lookups.references(kind, doc)

    async def _write(self, kind: DocumentKind, doc: Mapping[str, Any]) -> Outcome:
        return await self.apply(kind, doc, await self._find(kind, doc["number"]))

    async def apply(
        self, kind: DocumentKind, doc: Mapping[str, Any], held: Record | None
    ) -> Outcome:
        """What is found decides (see the module's docstring)."""
        draft = held is None or held.get("status") in (None, "Draft")
        if held is not None and kind.posts and not draft:
            return Outcome("ignored", target_id=str(held["id"]))  # posted: never changed
        if kind.posts and not doc["lines"]:
            # Refused before anything is created: BC would take the draft, then not post it.
            raise FatalError(f"{kind.label} {doc['number']} has no lines to post")
        refs = await self.lookups.references(kind, doc)
        body = render(kind, doc, refs, self.cost_center_field)
        if held is None:
            created = await self.client.create(kind.entity_set, body)
            return await self.posted(kind, str(created["id"]), "inserted")
        doc_id = str(held["id"])
        diff = differences(kind, held, body)
        if diff and not draft:
            raise FatalError(
                f"{kind.label} {doc['number']} is {held.get('status')} in Business Central; "
                "the change made in ServiceNow is not applied to it"
            )
        if diff:
            await self._update_draft(kind, held, body, diff.header, diff.lines)
        return await self.posted(kind, doc_id, "updated" if diff else "ignored")

    async def _update_draft(
        self, kind: DocumentKind, held: Record, body: Record, header: Record, lines: bool
    ) -> None:
        """Header and lines in one ``$batch`` atomicity group: the draft changes as a whole.

        Lines are replaced rather than matched one by one: a draft's lines carry nothing of
        their own yet. A document too long for one batch is changed a batch at a time; a
        crash between them leaves a draft that the next attempt repairs.
        """
        doc_url = await self.client.entity_url(kind.entity_set, str(held["id"]))
        group = f"{kind.entity_set}({held['id']})"
        ops = []
        if header:
            etag = {"If-Match": str(held.get("@odata.etag", "*"))}
            ops.append(BatchOperation("PATCH", doc_url, header, etag, group))
        if lines:
            nested = f"{doc_url}/{kind.line_set}"
            ops += [BatchOperation("DELETE", f"{nested}({line['id']})", None, {"If-Match": "*"},
                                   group) for line in held.get(kind.line_set) or []]  # fmt: skip
            ops += [BatchOperation("POST", nested, line, {}, group) for line in body[kind.line_set]]
        first_failure(await self.client.batch(ops))

    async def posted(self, kind: DocumentKind, doc_id: str, status: str) -> Outcome:
        posted = kind.posts and await self.client.post_once(kind.entity_set, doc_id) == "posted"
        # A draft left by an earlier attempt and posted now: nothing else changed.
        return Outcome("written" if posted and status == "ignored" else status, target_id=doc_id)

    async def start(self) -> None:
        """Nothing to check before writing."""

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- reconciliation ----------------------------------------------------------------
    def expected(self, entity: str) -> dict[str, str]:
        """What every source document must show in BC beyond its own fields."""
        return {"posted": "true"} if entity in KINDS and KINDS[entity].posts else {}

    async def dimension_totals(self, invoices: set[str]) -> dict[str, tuple[str, str]]:
        """Per cost center: (invoiced, applied) of the posted sales invoices from
        ``invoices`` (the source's ids, case-folded)."""
        return await self.receivables.dimension_totals(invoices)

    async def snapshot(self, entity: str) -> dict[str, dict[str, str]]:
        """BC's documents by the source number they carry, as canonical fields.

        BC also holds documents entered there directly; only those whose number the source
        names are compared (see ``reconcile``), so they never count as extra.
        """
        if entity not in KINDS:
            return await self.receivables.snapshot(entity)
        kind = KINDS[entity]
        held: dict[str, dict[str, str]] = {}
        async for page in self.client.read(kind.entity_set):
            for doc in page:
                key = str(doc.get(kind.key_field) or "").casefold()
                if not key:
                    continue
                # A sales invoice's tax came as a line of its own: only its total compares.
                total = "total_including_tax" if kind is SALES_INVOICE else "total_excluding_tax"
                row = {
                    kind.party.canonical: str(doc.get(kind.party.number_field) or ""),
                    total: comparable(doc.get(TOTAL_FIELDS[total])),
                }
                if kind.posts:
                    row["posted"] = "false" if doc.get("status") in (None, "Draft") else "true"
                held[key] = row
        return held


ENTITIES = (*KINDS, "customer", "cost_center", "payment")
TOTAL_FIELDS = {"total_excluding_tax": "totalAmountExcludingTax",
                "total_including_tax": "totalAmountIncludingTax"}  # fmt: skip


def cost_center_rules(ctx: TargetContext) -> tuple[str, int]:
    """(dimension, shortcut number) of the flows writing into the connection: one target has
    one chart of dimensions, so flows that disagree about it are a configuration error."""
    flows = ctx.settings.flows.values()
    rules = {(f.cost_center_dimension, f.cost_center_shortcut)
             for f in flows if f.target == ctx.name}  # fmt: skip
    if len(rules) > 1:
        raise ValueError(
            f"flows into {ctx.name} disagree on cost_center_dimension / cost_center_shortcut"
        )
    return rules.pop() if rules else ("COSTCENTER", 2)


def target(connection: BusinessCentralConnection, ctx: TargetContext) -> BusinessCentralTarget:
    client = BusinessCentralClient(connection, ctx.secrets, retry=ctx.retry)
    dimension, shortcut = cost_center_rules(ctx)
    journals = {f.payment_journal for f in ctx.settings.flows.values() if f.target == ctx.name
                and "payment" in f.entities}  # fmt: skip
    if len(journals) > 1:
        raise ValueError(f"flows into {ctx.name} disagree on payment_journal")
    journal = journals.pop() if journals else PAYMENT_JOURNAL
    return BusinessCentralTarget(
        client, cost_center_dimension=dimension, cost_center_shortcut=shortcut,
        payment_journal=journal,
    )  # fmt: skip
