"""``ml-connector demo``: the embedded default, end to end, with a summary at the end."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from confluent_kafka import Consumer, TopicPartition
from rich.console import Console
from rich.table import Table

from app.audit_index import AuditIndex
from app.demo_measure import Landed, in_servicenow
from app.dlq import DeadFilter, DeadLetters
from app.pipeline import components
from app.reconcile import EntityReport, reconcile
from app.reconcile_totals import dimension_totals, totals_table
from app.supervisor import Supervisor
from devkit.sandbox import Sandbox
from ml_connector import xref
from ml_connector.config import Settings
from ml_connector.connections.servicenow import (
    ServiceNowConnection,
    StagingTable,
)
from ml_connector.flows import returned_documents
from ml_connector.kafka.clients import consumer, watermarks
from ml_connector.secrets import SecretStore
from ml_connector.state import StateStore


@dataclass
class EntitySummary:
    flow: str
    entity: str
    seeded: int
    records_read: int
    events_produced: int
    routed: int
    import_calls: int
    in_target: int
    duplicates: int
    dead: int
    slowest: float | None = None  # seconds from the poll that read a record to its write

    @property
    def complete(self) -> bool:
        return self.in_target == self.seeded and self.duplicates == 0


def topic_size(bootstrap: str, topic: str) -> int:
    """Records ever written to a topic (sum of end offsets minus start offsets)."""
    c = consumer(bootstrap, "mlc-summary")
    try:
        return _size(c, topic)
    finally:
        c.close()


def _size(c: Consumer, topic: str) -> int:
    meta = c.list_topics(topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None:
        return 0
    total = 0
    for p in meta.partitions:
        low, high = watermarks(c, TopicPartition(topic, p))
        total += high - low
    return total


# Where each entity sits in Business Central and which field is its business key.
SOURCE_SETS = {"vendor": ("vendors", "number"), "gl_account": ("accounts", "number"),
               "cost_center": ("dimensionValues", "code"), "item": ("items", "number")}  # fmt: skip


def source_keys(bc: httpx.Client, entity: str, dimension: str) -> set[str]:
    entity_set, key = SOURCE_SETS[entity]
    rows = bc.get(f"/_sim/entities/{entity_set}").json()["value"]
    if entity == "cost_center":
        dims = bc.get("/_sim/entities/dimensions").json()["value"]
        ids = {d["id"] for d in dims if d["code"] == dimension}
        rows = [r for r in rows if r["dimensionId"] in ids]
    return {str(r[key]).lower() for r in rows}


def dead_letters(box: Sandbox, settings: Settings, target: str, entity: str) -> Iterator[object]:
    t = settings.kafka.topics
    dlq = DeadLetters(box.bootstrap, t.dlq(target), t.state, target)
    return dlq.records(DeadFilter(entity=entity, include_replayed=True))


def masters_in_servicenow(bc: httpx.Client, sn: httpx.Client, table: StagingTable,
                          entity: str, dimension: str) -> Landed:  # fmt: skip
    return in_servicenow(sn, source_keys(bc, entity, dimension), table)


# ServiceNow documents by the number BC files them under: only approved ones are read, and
# only posted invoices count as arrived.
DOCUMENTS = {
    "purchase_order": ("sn_shop_purchase_order", "purchaseOrders", "number"),
    "purchase_invoice": ("sn_shop_invoice", "purchaseInvoices", "vendorInvoiceNumber"),
}


def documents_in_business_central(bc: httpx.Client, sn: httpx.Client, entity: str) -> Landed:
    sn_table, bc_set, bc_key = DOCUMENTS[entity]
    rows = sn.get(f"/_sim/tables/{sn_table}").json()["result"]
    rows = [r for r in rows if r.get("approval") == "approved"]
    docs = bc.get(f"/_sim/entities/{bc_set}").json()["value"]
    if entity == "purchase_invoice":
        docs = [d for d in docs if d.get("status") == "Open"]  # posted
    keys = {r["number"].lower() for r in rows}
    held = Counter(str(d[bc_key]).lower() for d in docs if str(d[bc_key]).lower() in keys)
    return Landed(keys, held, sum(held.values()))


def statuses_in_servicenow(bc: httpx.Client, sn: httpx.Client, table: StagingTable) -> Landed:
    """Approved ServiceNow invoices, and those showing what BC did with them (its number and
    status): the invoice status that goes back once BC has posted them."""
    rows = [r for r in sn.get(f"/_sim/tables/{table.target}").json()["result"]
            if r.get("approval") == "approved"]  # fmt: skip
    bc_docs = {str(d["vendorInvoiceNumber"]).lower(): d
               for d in bc.get("/_sim/entities/purchaseInvoices").json()["value"]}  # fmt: skip
    held: Counter[str] = Counter()
    for r in rows:
        doc = bc_docs.get(r["number"].lower())
        shown = (r["u_erp_number"], r["u_erp_status"])
        if doc is not None and shown == (doc["number"], doc["status"]):
            held[r["number"].lower()] = 1
    staged = sn.get(f"/_sim/tables/{table.staging}").json()["result"]
    return Landed({r["number"].lower() for r in rows}, held, len(staged))


# What one flow's entity amounts to in both systems: (box, settings, flow, entity) -> Landed.
Measure = Callable[[Sandbox, Settings, str, str], Landed]


def bc_landed(box: Sandbox, settings: Settings, name: str, entity: str) -> Landed:
    """The Business Central <-> ServiceNow integration."""
    flow = settings.flows[name]
    target = settings.connections[flow.target]
    with (
        httpx.Client(base_url=box.bc_url, timeout=30) as bc,
        httpx.Client(base_url=box.sn_url, timeout=30) as sn,
    ):
        if isinstance(target, ServiceNowConnection) and entity in returned_documents(
            settings, name
        ):
            return statuses_in_servicenow(bc, sn, target.tables[entity])
        if isinstance(target, ServiceNowConnection):
            return masters_in_servicenow(bc, sn, target.tables[entity], entity,
                                         flow.cost_center_dimension)  # fmt: skip
        return documents_in_business_central(bc, sn, entity)


def summarize(
    box: Sandbox, settings: Settings, timed: bool = False, measure: Measure = bc_landed
) -> list[EntitySummary]:
    """What each system holds now; ``timed`` adds each entity's slowest read-to-write time."""
    topics = settings.kafka.topics
    state = StateStore(box.bootstrap, topics.state).load_all()
    index = AuditIndex(settings.audit.database) if timed else None
    if index is not None:
        index.sync(box.bootstrap, topics.audit, topics.audit_cli_group)
    rows = []
    for name, flow in settings.flows.items():
        for entity in flow.entities:
            totals = state.get(f"cursor|{flow.source}|{entity}", {}).get("totals", {})
            landed = measure(box, settings, name, entity)
            rows.append(
                EntitySummary(
                    flow=name,
                    entity=entity,
                    seeded=len(landed.keys),
                    records_read=totals.get("records_read", 0),
                    events_produced=totals.get("events_produced", 0),
                    routed=topic_size(box.bootstrap, topics.sink(flow.target, entity)),
                    import_calls=landed.written,
                    in_target=sum(1 for k in landed.keys if landed.held.get(k) == 1),
                    duplicates=sum(1 for k in landed.keys if landed.held.get(k, 0) > 1),
                    dead=sum(1 for _ in dead_letters(box, settings, flow.target, entity)),
                    slowest=max(index.spans(flow.source, entity, "polled", "written").values(),
                                default=None) if index is not None else None,
                )
            )  # fmt: skip
    return rows


def render(rows: list[EntitySummary]) -> Table:
    """One column per flow and entity, so the table fits a narrow terminal."""
    table = Table(title="ml-connector demo summary")
    table.add_column("")
    for r in rows:
        table.add_column(f"{r.flow}\n{r.entity}", justify="right", overflow="fold")
    lines: list[tuple[str, Callable[[EntitySummary], object]]] = [
        ("in the source", lambda r: r.seeded),
        ("records read", lambda r: r.records_read),
        ("events produced", lambda r: r.events_produced),
        ("routed (changed)", lambda r: r.routed),
        ("records written", lambda r: r.import_calls),
        ("in target, once", lambda r: r.in_target),
        ("duplicates", lambda r: r.duplicates),
        ("dead letters", lambda r: r.dead),
        ("slowest read → written", lambda r: "-" if r.slowest is None else f"{r.slowest:.1f} s"),
        ("status", lambda r: "[green]complete[/green]" if r.complete else "[red]incomplete[/red]"),
    ]
    for label, value in lines:
        table.add_row(label, *(str(value(r)) for r in rows))
    return table


# A facilities services company: a few hundred vendors, its sites as cost centers, and the
# purchase orders and AP invoices its site managers raise and approve in ServiceNow.
_CITIES = ("Atlanta", "Denver", "Chicago", "Dallas", "Phoenix", "Seattle", "Boston", "Miami",
           "Detroit", "Portland")  # fmt: skip
FACILITY_SITES = tuple((f"SITE{n:03d}", f"{_CITIES[n % len(_CITIES)]} site {n:03d}")
                       for n in range(101, 141))  # fmt: skip
MASTERS = ["vendor", "gl_account", "cost_center", "item"]
DOCUMENT_ENTITIES = ["purchase_order", "purchase_invoice"]
# BC -> ServiceNow: the masters, and BC's purchase invoices, whose status (posted, paid) goes
# back onto the ServiceNow invoices they came from.
BC_ENTITIES = [*MASTERS, "purchase_invoice"]
# The integrations the demo knows, by the name its masters flow has in the config.
INTEGRATIONS = ("bc-servicenow", "acumatica-servicenow", "servicetitan-bc")


@dataclass(frozen=True)
class Scenario:
    vendors: int = 300
    documents: int = 3000  # ServiceNow purchase orders and AP invoices, half each
    poll_interval: float = 60.0


def check_reconcile(settings: Settings, console: Console) -> bool:
    """Compare every entity of every flow on both sides, as ``ml-connector reconcile`` does."""
    import asyncio

    secrets = SecretStore.from_config(settings.secrets)
    clean = True
    for name, flow in settings.flows.items():
        reports: list[EntityReport] = asyncio.run(reconcile(settings, name, secrets))
        returned = returned_documents(settings, name)
        for r in reports:
            clean = clean and r.clean
            what = "master identical"
            if r.entity in xref.DOCUMENTS:
                what = "statuses agree" if r.entity in returned else "documents agree"
            verdict = f"{what} on both sides" if r.clean else "[red]differs[/red]"
            console.print(f"{r.entity} {verdict}: {r.compared} compared, "
                          f"{len(r.missing)} missing, {len(r.different)} different, "
                          f"{len(r.extra)} extra in {flow.target}")  # fmt: skip
        totals = asyncio.run(dimension_totals(settings, name, secrets))
        if totals is not None:
            console.print(totals_table(name, totals))
            agree = all(t.clean for t in totals)
            clean = clean and agree
            console.print("invoice totals and payment applications per cost center: "
                          + ("agree on both sides" if agree else "[red]differ[/red]"))  # fmt: skip
    return clean


def check_timing(rows: list[EntitySummary], settings: Settings, console: Console) -> bool:
    """Every approved document written within one polling interval of the poll that read it."""
    ok = True
    for name, flow in settings.flows.items():
        created = xref.DOCUMENTS - returned_documents(settings, name)
        documents = [r for r in rows if r.flow == name and r.entity in created]
        if not documents:
            continue
        interval = flow.poll_interval.total_seconds()
        slowest = max((r.slowest or 0.0 for r in documents), default=0.0)
        within = slowest <= interval
        ok = ok and within
        verdict = "yes" if within else "[red]no[/red]"
        console.print(f"{name}: every approved document posted in {flow.target} within one "
                      f"polling interval ({interval:.0f} s) of being read: {verdict} "
                      f"(slowest {slowest:.1f} s)")  # fmt: skip
    return ok


def run_demo(
    *, bootstrap: str, registry_url: str | None, scenario: Scenario, keep_running: bool,
    timeout: float, workdir: Path | None, console: Console,
    integrations: tuple[str, ...] = INTEGRATIONS,
) -> bool:  # fmt: skip
    """Each integration in a sandbox of its own, one after the other; True if all passed."""
    ok = True
    for name in integrations:
        console.rule(name)
        where = workdir / name if workdir is not None else None
        wait = timeout
        if name == "servicetitan-bc":
            from app.demo_servicetitan import wait_needed

            # Every write goes into BC here, at its documented 6,000 requests per 5 minutes.
            wait = max(timeout, wait_needed(scenario.vendors, scenario.documents))
            if wait > timeout:
                console.print(f"waiting up to {wait:.0f} s: Business Central's request budget "
                              "sets the pace of this scenario")  # fmt: skip
        ok = _play(name, bootstrap=bootstrap, registry_url=registry_url, scenario=scenario,
                   keep_running=keep_running, timeout=wait, workdir=where,
                   console=console) and ok  # fmt: skip
    return ok


def _sandbox(name: str, bootstrap: str, workdir: Path | None, registry_url: str | None,
             scenario: Scenario) -> tuple[Sandbox, Measure, Callable[[Sandbox], bool]]:  # fmt: skip
    """The sandbox playing an integration, how to measure it, and what to do once its
    masters are in (true when done)."""
    if name == "acumatica-servicenow":
        from app import demo_acumatica as acu

        box = acu.start(
            bootstrap,
            workdir,
            registry_url=registry_url,
            vendors=scenario.vendors,
            documents=scenario.documents,
            poll_interval=scenario.poll_interval,
        )
        requests = max(1, scenario.documents // 100)
        return box, acu.landed, lambda b: acu.raise_requests(b, requests) > 0
    if name == "servicetitan-bc":
        from app import demo_servicetitan as st

        box = st.start(
            bootstrap, workdir, registry_url=registry_url, vendors=scenario.vendors,
            documents=scenario.documents, poll_interval=scenario.poll_interval,
        )  # fmt: skip
        return box, st.landed, lambda b: True
    documents = {"servicenow-bc": {"source": "sn", "target": "bc",
                                   "entities": DOCUMENT_ENTITIES}}  # fmt: skip
    box = Sandbox.start(
        bootstrap, workdir, registry_url=registry_url, vendors=scenario.vendors,
        entities=BC_ENTITIES,
        extra_flows=documents, poll_interval=scenario.poll_interval,
        sn_purchase_orders=scenario.documents // 2,
        sn_invoices=scenario.documents - scenario.documents // 2,
        bc_options={"cost_centers": FACILITY_SITES},
        sn_options={"cost_centers": FACILITY_SITES, "supplier_count": scenario.vendors},
    )  # fmt: skip
    return box, bc_landed, lambda b: True


# A simulator is shown only where a flow of the sandbox uses it (every sandbox runs BC and SN).
SHOWN = {"Business Central": ("bc-servicenow", "servicetitan-bc"),
         "ServiceNow": ("bc-servicenow", "acumatica-servicenow")}  # fmt: skip


def _play(
    name: str, *, bootstrap: str, registry_url: str | None, scenario: Scenario,
    keep_running: bool, timeout: float, workdir: Path | None, console: Console,
) -> bool:  # fmt: skip
    ok = False
    box, measure, after_masters = _sandbox(name, bootstrap, workdir, registry_url, scenario)
    with box:
        settings = box.settings()
        for label, url in (("Business Central", box.bc_url), ("Acumatica", box.acu_url),
                           ("ServiceTitan", box.st_url), ("ServiceNow", box.sn_url)):  # fmt: skip
            shown = SHOWN.get(label)
            if url and (shown is None or any(f in settings.flows for f in shown)):
                console.print(f"{label + ' simulator:':28}{url}")
        console.print(f"config: {box.config_path}; logs: {box.workdir / 'logs'}")
        supervisor = Supervisor(box.config_path, components(settings), log_dir=box.workdir / "logs")
        supervisor.start()
        try:
            deadline = time.monotonic() + timeout
            rows: list[EntitySummary] = []
            done_after = False
            with console.status("waiting for the seeded records to arrive...") as status:
                while time.monotonic() < deadline:
                    supervisor.check()
                    done_after = done_after or after_masters(box)
                    rows = summarize(box, settings, measure=measure)
                    done = sum(r.in_target for r in rows)
                    status.update(f"{done} of {sum(r.seeded for r in rows)} records in their "
                                  "targets")  # fmt: skip
                    if done_after and rows and all(r.complete for r in rows):
                        break
                    time.sleep(1)
            # Give the sinks a moment to commit, then report what the systems hold.
            time.sleep(1)
            rows = summarize(box, settings, timed=True, measure=measure)
            console.print(render(rows))
            if name == "servicetitan-bc":
                from app import demo_pricebook

                for line in demo_pricebook.summary_lines(box, settings, reports=[]):
                    console.print(line)
            complete = bool(rows) and all(r.complete for r in rows)
            agree = check_reconcile(settings, console)
            # The BC scenario promises one polling interval per document; elsewhere the
            # summary shows the slowest time without promising it.
            timely = check_timing(rows, settings, console) if name == "bc-servicenow" else True
            ok = complete and agree and timely
            if keep_running:
                console.print("pipeline running; Ctrl-C stops it")
                supervisor.run_forever()
            return ok
        finally:
            supervisor.stop()
            if workdir is None and ok:
                shutil.rmtree(box.workdir, ignore_errors=True)
            else:
                console.print(f"config and logs kept in {box.workdir}")
