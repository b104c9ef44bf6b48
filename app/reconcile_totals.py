"""Revenue and cash per cost center on both sides: what ``reconcile`` adds for a flow that
posts sales invoices and their payments.

Record by record, ``reconcile`` shows each invoice and payment arrived; this shows they add up
where finance looks: per business unit, the invoiced total and what payments applied to it in
the source, against the posted sales invoices of that dimension value in the target (their
totals, and what payments took off them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rich.table import Table

from ml_connector import streams
from ml_connector.config import Settings
from ml_connector.secrets import SecretStore
from ml_connector.values import comparable
from producers.registry import build_source

INVOICE, PAYMENT = "sales_invoice", "payment"


@dataclass(frozen=True)
class DimensionTotal:
    code: str
    source_invoiced: str
    target_invoiced: str
    source_applied: str
    target_applied: str

    @property
    def clean(self) -> bool:
        return (self.source_invoiced, self.source_applied) == (
            self.target_invoiced, self.target_applied)  # fmt: skip


async def _canonical(source: Any, entity: str) -> list[dict[str, Any]]:
    stream = source.streams[entity]
    return [stream.to_canonical(r) async for page in streams.read(source.client, stream)
            for r in page]  # fmt: skip


async def dimension_totals(
    settings: Settings, flow_name: str, secrets: SecretStore
) -> list[DimensionTotal] | None:
    """Per cost center code, both sides; None when the flow posts no sales invoices or its
    target cannot total them."""
    from sinks.registry import build_target

    flow = settings.flows[flow_name]
    if INVOICE not in flow.entities:
        return None
    target = build_target(settings, flow.target, secrets)
    totals = getattr(target, "dimension_totals", None)
    if totals is None:
        await target.aclose()
        return None
    source = build_source(settings, flow_name, secrets)
    try:
        invoiced: dict[str, Decimal] = defaultdict(Decimal)
        applied: dict[str, Decimal] = defaultdict(Decimal)
        centers: dict[str, str] = {}
        for doc in await _canonical(source, INVOICE):
            lines = doc.get("lines") or []
            code = next((str(x["cost_center"]) for x in lines if x.get("cost_center")), "")
            centers[str(doc["number"]).casefold()] = code
            invoiced[code] += doc.get("total_including_tax") or Decimal(0)
        if PAYMENT in flow.entities:
            for pay in await _canonical(source, PAYMENT):
                applies = str(pay.get("applies_to_invoice_number") or "").casefold()
                if applies in centers:  # payments on invoices not final yet wait for them
                    applied[centers[applies]] += pay.get("amount") or Decimal(0)
        held: dict[str, tuple[str, str]] = await totals(set(centers))
    finally:
        await target.aclose()
        await source.aclose()
    codes = sorted(set(invoiced) | set(held), key=str.casefold)
    return [
        DimensionTotal(code, comparable(invoiced.get(code, Decimal(0))),
                       held.get(code, ("0", "0"))[0],
                       comparable(applied.get(code, Decimal(0))), held.get(code, ("0", "0"))[1])
        for code in codes
    ]  # fmt: skip


def totals_table(flow: str, totals: list[DimensionTotal]) -> Table:
    table = Table(title=f"{flow}: invoiced and applied per cost center")
    for column in ("cost center", "invoiced (source)", "invoiced (target)", "applied (source)",
                   "applied (target)", ""):  # fmt: skip
        table.add_column(column, justify="left" if column == "cost center" else "right")
    for t in totals:
        table.add_row(t.code or "(none)", t.source_invoiced, t.target_invoiced, t.source_applied,
                      t.target_applied, "agree" if t.clean else "[red]differ[/red]")  # fmt: skip
    return table
