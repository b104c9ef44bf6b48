"""The ServiceTitan -> Business Central part of ``ml-connector demo``: a regional HVAC and
plumbing contractor with its customers, four business units, finalized job invoices and the
payments taken against them in ServiceTitan, and a Business Central company whose chart of
accounts stays authoritative (the flow maps ServiceTitan's GL names onto it). Beside it, the
other direction: the contractor's BC items pushed into its ServiceTitan pricebook
(``demo_pricebook``), so one sandbox plays the whole integration."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from app import demo_pricebook as pricebook
from app.demo_measure import Landed
from devkit.sandbox import Sandbox
from ml_connector.config import Settings
from ml_connector.xref import fold
from producers.servicetitan import FINALIZED, business_unit_code

FLOW = "servicetitan-bc"
ENTITIES = ["customer", "cost_center", "sales_invoice", "payment"]
FINAL = set(FINALIZED.split(","))
CUSTOMERS_PER_VENDOR = 8  # --vendors sizes the ERP side; a contractor has many more customers
ITEMS = 120  # the pricebook pushed from BC: labour, stocked parts, supplies


# Business Central's documented budget (6,000 requests per 5 minutes per user) sets the pace:
# about two requests per customer, five per invoice and eight per payment (look-ups, create,
# post, read back). Half the seeded invoices are final, and each carries a payment at most.
BC_REQUESTS_PER_SECOND = 6000 / 300


def wait_needed(vendors: int, documents: int) -> float:
    """Seconds the scenario needs at BC's pace, with room for the polls and retries."""
    customers = max(10, vendors * CUSTOMERS_PER_VENDOR)
    calls = 2 * customers + 5 * (documents // 2) + 8 * (documents // 2)
    return 1.5 * calls / BC_REQUESTS_PER_SECOND


def start(bootstrap: str, workdir: Path | None, *, registry_url: str | None, vendors: int,
          documents: int, poll_interval: float) -> Sandbox:  # fmt: skip
    st = {"customer_count": max(10, vendors * CUSTOMERS_PER_VENDOR), "invoice_count": documents,
          "payment_count": documents // 2, "purchase_order_count": 20}  # fmt: skip
    # A BC company set up for this contractor: no customers, cost centers or documents yet.
    bc = {
        "customer_count": 0,
        "cost_centers": (),
        "sales_invoice_count": 0,
        "purchase_order_count": 0,
        "purchase_invoice_count": 0,
    }
    box = Sandbox.start(bootstrap, workdir, registry_url=registry_url, bc_flow=False,
                        vendors=20, servicetitan_entities=ENTITIES, st_options=st,
                        st_webhooks=True, bc_options={**bc, "item_count": 0},
                        extra_flows=pricebook.FLOWS, poll_interval=poll_interval,
                        sn_purchase_orders=0, sn_invoices=0)  # fmt: skip
    pricebook.seed_items(box.bc_url, ITEMS)
    return box


def _rows(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    return list(client.get(f"/_sim/entities/{path}").json()["value"])


def _keys(st: httpx.Client, settings: Settings, entity: str) -> set[str]:
    """What ServiceTitan holds that must reach Business Central."""
    if entity == "customer":
        return {str(c["id"]) for c in _rows(st, "customers")}
    if entity == "cost_center":
        mapped = {fold(k): v for k, v in settings.flows[FLOW].mappings.cost_centers.items()}
        return {business_unit_code(u, mapped).lower() for u in _rows(st, "business-units")}
    final = {str(i["id"]) for i in _rows(st, "invoices") if i["syncStatus"] in FINAL}
    if entity == "sales_invoice":
        return final
    return {str(p["id"]) for p in _rows(st, "payments")
            if p["appliedTo"] and str(p["appliedTo"][0]["appliedTo"]) in final}  # fmt: skip


def _held(bc: httpx.Client, settings: Settings, entity: str) -> Counter[str]:
    """How Business Central holds them: posted documents only, by the ServiceTitan id."""
    if entity == "customer":
        return Counter(str(c["number"]) for c in _rows(bc, "customers"))
    if entity == "cost_center":
        dimension = settings.flows[FLOW].cost_center_dimension
        ids = {d["id"] for d in _rows(bc, "dimensions") if d["code"] == dimension}
        return Counter(str(v["code"]).lower() for v in _rows(bc, "dimensionValues")
                       if v["dimensionId"] in ids)  # fmt: skip
    if entity == "sales_invoice":
        return Counter(str(i["externalDocumentNumber"]) for i in _rows(bc, "salesInvoices")
                       if i["status"] in ("Open", "Paid"))  # fmt: skip
    return Counter(str(e["documentNumber"]) for e in _rows(bc, "generalLedgerEntries")
                   if e["documentType"] == "Payment")  # fmt: skip


def landed(box: Sandbox, settings: Settings, name: str, entity: str) -> Landed:
    if name == pricebook.FLOW:
        return pricebook.landed(box, settings, name, entity)
    with (
        httpx.Client(base_url=box.st_url, timeout=60) as st,
        httpx.Client(base_url=box.bc_url, timeout=60) as bc,
    ):
        keys, held = _keys(st, settings, entity), _held(bc, settings, entity)
    held = Counter({k: n for k, n in held.items() if k in keys})
    return Landed(keys, held, sum(held.values()))
