"""The Business Central -> ServiceTitan pricebook part of the demo: an HVAC and plumbing
contractor's items (labour as services, stocked parts and non-stock supplies as materials) kept
in its field pricebook at the ERP's prices.

The ServiceTitan -> Business Central demo plays this beside its own flow: it adds ``FLOWS`` to
its sandbox, seeds items with ``seed_items``, measures them with ``landed`` and prints
``summary_lines``. ``play`` runs this direction alone, in a sandbox of its own.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.demo_measure import Landed
from app.pipeline import components
from app.reconcile import EntityReport, reconcile
from app.supervisor import Supervisor
from devkit.sandbox import Sandbox
from devkit.servicetitan import CONNECTION, start_servicetitan
from ml_connector.config import Settings
from ml_connector.connections.servicetitan import ServiceTitanConnection
from ml_connector.secrets import SecretStore

FLOW = "bc-servicetitan"
FLOWS = {FLOW: {"source": "bc", "target": CONNECTION, "entities": ["item"]}}

# (number prefix, BC item type, unit of measure, names): what such a contractor sells.
CATALOGUE = (
    ("S", "Service", "HOUR", ("AC tune-up", "Furnace repair", "Drain cleaning",
                              "Water heater flush", "Diagnostic visit", "Duct cleaning",
                              "Sewer camera inspection", "Heat pump service", "Boiler service",
                              "Leak repair")),
    ("M", "Inventory", "PCS", ("Capacitor 45/5 MFD", "Contactor 30A", "Filter 16x25x1",
                               "PEX 1/2in 100ft", "Ball valve 3/4in", "Programmable thermostat",
                               "Condensate pump", "Hot surface igniter", "Flex duct 6in",
                               "Water heater 50 gal")),
    ("N", "Non-Inventory", "PCS", ("Shop supplies", "Pipe thread sealant", "Disposal fee",
                                   "Refrigerant R-410A per lb")),
)  # fmt: skip
_SIZES = ("", "residential", "commercial", "after hours", "2nd unit", "premium")


def catalogue(count: int, seed: int = 42) -> list[dict[str, Any]]:
    """``count`` BC items in the catalogue's proportions, every 25th blocked."""
    rng = random.Random(seed)
    names = [(prefix, kind, unit, name) for prefix, kind, unit, names in CATALOGUE
             for name in names]  # fmt: skip
    items = []
    for i in range(count):
        prefix, kind, unit, name = names[i % len(names)]
        variant = _SIZES[(i // len(names)) % len(_SIZES)]
        cost = round(rng.uniform(4, 400), 2)
        items.append({
            "number": f"{prefix}-{1001 + i}",
            "displayName": f"{name} ({variant})" if variant else name,
            "type": kind,
            "unitCost": cost if kind != "Service" else 0.0,
            "unitPrice": round(cost * rng.uniform(1.3, 2.2), 2),
            "baseUnitOfMeasureCode": unit,
            "blocked": i % 25 == 24,
        })  # fmt: skip
    return items


def seed_items(bc_url: str, count: int, seed: int = 42) -> list[dict[str, Any]]:
    """The catalogue entered in Business Central (through the simulator, as a user would)."""
    created = []
    with httpx.Client(base_url=bc_url, timeout=60) as bc:
        for item in catalogue(count, seed):
            r = bc.post("/_sim/entities/items", json=item)
            r.raise_for_status()
            created.append(r.json())
    return created


def _pricebook(st_url: str) -> dict[str, list[dict[str, Any]]]:
    lists = (("service", "services"), ("material", "materials"))
    with httpx.Client(base_url=st_url, timeout=60) as st:
        return {kind: list(st.get(f"/_sim/entities/{resource}").json()["value"])
                for kind, resource in lists}  # fmt: skip


def _st_url(settings: Settings, flow: str) -> str:
    connection = settings.connections[settings.flows[flow].target]
    assert isinstance(connection, ServiceTitanConnection)
    return connection.api_url


def landed(box: Sandbox, settings: Settings, name: str, entity: str) -> Landed:
    """BC items, and the pricebook entries showing each at its BC price, in its list and
    active as it is in BC (an entry under the same code active in the other list counts as
    a second one)."""
    with httpx.Client(base_url=box.bc_url, timeout=60) as bc:
        items = {
            str(i["number"]).lower(): i for i in bc.get("/_sim/entities/items").json()["value"]
        }
    held: Counter[str] = Counter()
    for kind, entries in _pricebook(_st_url(settings, name)).items():
        for entry in entries:
            code = str(entry["code"]).lower()
            item = items.get(code)
            if item is None:
                continue
            here = (kind == "service") == (item["type"] == "Service")
            as_in_bc = entry["price"] == item["unitPrice"] and entry["active"] != item["blocked"]
            # Elsewhere, an active entry is a second price for the code.
            if (here and as_in_bc) or (not here and entry["active"]):
                held[code] += 1
    return Landed(set(items), held, sum(held.values()))


def reconcile_reports(settings: Settings, flow: str = FLOW) -> list[EntityReport]:
    secrets = SecretStore.from_config(settings.secrets)
    return asyncio.run(reconcile(settings, flow, secrets))


def summary_lines(box: Sandbox, settings: Settings, flow: str = FLOW,
                  reports: list[EntityReport] | None = None) -> list[str]:  # fmt: skip
    """What the pricebook holds of the BC items, and what reconciliation says (``reports``:
    already run)."""
    with httpx.Client(base_url=box.bc_url, timeout=60) as bc:
        items = bc.get("/_sim/entities/items").json()["value"]
    numbers = {str(i["number"]).lower() for i in items}
    book = _pricebook(_st_url(settings, flow))
    ours = {kind: [e for e in entries if str(e["code"]).lower() in numbers]
            for kind, entries in book.items()}  # fmt: skip
    inactive = sum(1 for entries in ours.values() for e in entries if not e["active"])
    pushed = len({str(e["code"]).lower() for entries in ours.values() for e in entries})
    lines = [
        f"pricebook: {pushed} of {len(items)} Business Central items pushed: "
        f"{len(ours['service'])} services, {len(ours['material'])} materials "
        f"({inactive} inactive: blocked in BC)",
    ]
    for r in reports if reports is not None else reconcile_reports(settings, flow):
        verdict = "clean" if r.clean else "differs"
        lines.append(f"reconcile {flow} {r.entity}: {verdict} ({r.compared} compared, "
                     f"{len(r.missing)} missing, {len(r.different)} differing in price, cost, "
                     "name, list or active)")  # fmt: skip
    return lines


@dataclass(frozen=True)
class Played:
    ok: bool
    lines: list[str]
    workdir: Path


def play(
    bootstrap: str, workdir: Path | None = None, *, registry_url: str | None = None,
    items: int = 120, poll_interval: float = 5.0, timeout: float = 300.0,
    topic_prefix: str = "mlc",
) -> Played:  # fmt: skip
    """This direction alone: BC items seeded, the flow run until the pricebook holds each
    once at its price, then the summary and reconciliation."""
    st = start_servicetitan()
    try:
        options = st.sandbox_options(FLOWS, bc_flow=False, vendors=5,
                                     bc_options={"item_count": 0}, poll_interval=poll_interval,
                                     registry_url=registry_url,
                                     topic_prefix=topic_prefix)  # fmt: skip
        with Sandbox.start(bootstrap, workdir, **options) as box:
            seed_items(box.bc_url, items)
            settings = box.settings()
            supervisor = Supervisor(box.config_path, components(settings),
                                    log_dir=box.workdir / "logs")  # fmt: skip
            supervisor.start()
            try:
                deadline = time.monotonic() + timeout
                done = False
                while not done and time.monotonic() < deadline:
                    supervisor.check()
                    got = landed(box, settings, FLOW, "item")
                    done = all(got.held.get(k) == 1 for k in got.keys)
                    time.sleep(0.5)
                reports = reconcile_reports(settings)
                lines = summary_lines(box, settings, reports=reports)
                return Played(done and all(r.clean for r in reports), lines, box.workdir)
            finally:
                supervisor.stop()
    finally:
        st.stop()
