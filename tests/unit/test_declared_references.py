"""Documents other than purchase ones wait and go by their declared references alone.

A sales invoice names its customer, a payment the sales invoice it applies to: nothing in the
processors knows either, yet both are parked until what they name reaches the target's
side of the cross-reference, and handed back by the release timer once it has.
"""

from __future__ import annotations

import ast
import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ml_connector import canonical
from ml_connector.config import Settings, parse_settings
from ml_connector.flows import returned_documents
from ml_connector.xref import XrefEntry, fold, master_entry, written_entry
from processors.parking import Parked, release_timer
from processors.resolve import Awaited, Resolver, resolvers
from processors.routes import Route
from tests.unit.test_config import BC, SN

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class MemoryXref:
    """The ``Xref`` protocol (and the version the timer watches) over entries in memory,
    answering as the Kafka-fed view does."""

    entries: dict[str, XrefEntry] = field(default_factory=dict)
    version: int = 0

    def apply(self, entry: XrefEntry | None) -> None:
        assert entry is not None, "the record named no code: nothing would reach the xref"
        self.entries[entry.key] = entry
        self.version += 1

    def holds(self, connection: str, entity: str, code: str) -> bool:
        return any((e.connection, e.entity, fold(e.code)) == (connection, entity, fold(code))
                   for e in self.entries.values())  # fmt: skip

    def peer_code(self, connection: str, entity: str, native_id: str, peer: str) -> str | None:
        entry = self.entries.get(f"{connection}|{entity}|{native_id}")
        return entry.peer_code if entry is not None and entry.peer_connection == peer else None


@dataclass
class Topic:
    """A released topic: what the timer sends to it, by document key."""

    sent: list[bytes] = field(default_factory=list)

    async def send(self, *, key: bytes, value: bytes, partition: int) -> None:
        assert json.loads(value)["table_key"]
        self.sent.append(key)


def _settings(**mappings: dict[str, str]) -> Settings:
    """ServiceNow enters sales invoices and payments into BC; BC sends its customers and
    sales invoices back, so BC's side of each is what the documents wait for."""
    return parse_settings({
        "connections": {"bc": BC, "sn": SN},
        "flows": {
            "into": {"source": "sn", "target": "bc", "entities": ["sales_invoice", "payment"],
                     "mappings": mappings},
            "back": {"source": "bc", "target": "sn", "entities": ["customer", "sales_invoice"]},
        },
    })  # fmt: skip


def _canonical(entity: str, **fields: Any) -> dict[str, Any]:
    """A record as the change topics carry it: every field of the model, validated."""
    return canonical.model_for(entity).model_validate(fields).model_dump()


def _invoice(number: str = "SI1") -> dict[str, Any]:
    line = {"line_number": 1, "item_number": "SVC-1", "amount": Decimal("100.0000")}
    return _canonical("sales_invoice", number=number, customer_number="C100", lines=[line])


def _payment() -> dict[str, Any]:
    return _canonical("payment", number="PAY1", customer_number="C100",
                      applies_to_invoice_number="SI1", amount=Decimal("100.0000"))  # fmt: skip


def _customer() -> dict[str, Any]:
    return _canonical("customer", number="C100", name="Contoso")


class Agent:
    """What the processors' agent does with a document of the ``into`` flow: resolve it, and
    park it in ``waiting`` on what it still misses, or take it out and route it."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.waiting: dict[str, Any] = {}
        self.routed: list[dict[str, Any]] = []

    def deliver(self, entity: str, key: str, doc: dict[str, Any]) -> list[Awaited]:
        resolved, missing = self.resolver.resolve(entity, doc)
        table_key = f"bc|sn|{entity}|{key}"
        if missing:
            parked = Parked(b"avro", key.encode(), 0)
            self.waiting[table_key] = parked.entry(Route("sn", "bc", entity), missing, time.time())
        else:
            self.waiting.pop(table_key, None)
            self.routed.append(resolved)
        return missing


def _running(settings: Settings) -> tuple[MemoryXref, Agent, Any, dict[str, Topic]]:
    xref = MemoryXref()
    resolver_for = resolvers(settings, xref)
    agent = Agent(resolver_for[("sn", "bc")])
    released = {("sn", "sales_invoice"): Topic(), ("sn", "payment"): Topic()}
    tick = release_timer(agent.waiting, xref, resolver_for, released)
    return xref, agent, tick, released


def test_the_flows_wait_for_what_the_target_sends_by_declaration() -> None:
    settings = _settings()
    assert returned_documents(settings, "back") == {"sales_invoice"}  # status, not created
    only = resolvers(settings, MemoryXref())
    assert list(only) == [("sn", "bc")]
    assert only[("sn", "bc")].waited == {"customer", "sales_invoice"}


async def test_a_sales_invoice_waits_for_its_customer_and_goes_once_it_arrives() -> None:
    xref, agent, tick, released = _running(_settings())
    topic = released[("sn", "sales_invoice")]
    assert agent.deliver("sales_invoice", "si-1", _invoice()) == [Awaited("customer", "C100")]
    await tick()  # the start-up pass hands everything back; the agent parks it again
    assert topic.sent == [b"si-1"]
    assert agent.deliver("sales_invoice", "si-1", _invoice()) == [Awaited("customer", "C100")]
    xref.apply(master_entry("bc", "customer", "cust-guid", {"number": "C999", "name": "x"}))
    await tick()
    assert topic.sent == [b"si-1"], "another customer arrived: it still waits"
    assert agent.routed == []
    # BC sends customer C100; the processors record it in the xref as any master.
    xref.apply(master_entry("bc", "customer", "cust-guid-2", _customer()))
    await tick()
    assert topic.sent == [b"si-1", b"si-1"]
    assert agent.deliver("sales_invoice", "si-1", _invoice()) == []
    assert agent.waiting == {}
    assert [d["customer_number"] for d in agent.routed] == ["C100"]


async def test_a_payment_waits_for_the_invoice_it_applies_to() -> None:
    xref, agent, tick, released = _running(_settings())
    topic = released[("sn", "payment")]
    xref.apply(master_entry("bc", "customer", "cust-guid", _customer()))
    assert agent.deliver("payment", "pay-1", _payment()) == [Awaited("sales_invoice", "SI1")]
    await tick()
    agent.deliver("payment", "pay-1", _payment())
    xref.apply(master_entry("bc", "sales_invoice", "inv-guid", _invoice("SI2")))
    await tick()
    assert topic.sent == [b"pay-1"], "another invoice arrived: it still waits"
    # BC sends sales invoice SI1: being named by payments, it is recorded like a master.
    xref.apply(master_entry("bc", "sales_invoice", "inv-guid-1", _invoice("SI1")))
    await tick()
    assert topic.sent == [b"pay-1", b"pay-1"]
    assert agent.deliver("payment", "pay-1", _payment()) == []
    assert agent.routed[0]["applies_to_invoice_number"] == "SI1"


async def test_a_payment_whose_wait_ran_out_goes_back_without_its_invoice() -> None:
    settings = _settings()
    xref = MemoryXref()
    resolver = resolvers(settings, xref)[("sn", "bc")]
    short = Resolver("sn", "bc", settings.flows["into"].mappings, xref, resolver.waited, 5.0)
    entry = Parked(b"avro", b"pay-1", 1).entry(Route("sn", "bc", "payment"),
                                               [Awaited("sales_invoice", "SI1")],
                                               time.time() - 10)  # fmt: skip
    topic = Topic()
    tick = release_timer({"bc|sn|payment|pay-1": entry}, xref, {("sn", "bc"): short},
                         {("sn", "payment"): topic})  # fmt: skip
    await tick()
    assert topic.sent == [b"pay-1"]


def test_mappings_reach_the_new_masters_and_learned_invoices_resolve() -> None:
    xref = MemoryXref()
    resolver = resolvers(_settings(customers={"c100": "CUST-0100"}, items={"SVC-1": "1000"}),
                         xref)[("sn", "bc")]  # fmt: skip
    xref.apply(master_entry("bc", "customer", "g", {"number": "CUST-0100", "name": "x"}))
    resolved, missing = resolver.resolve("sales_invoice", _invoice())
    assert missing == []
    assert (resolved["customer_number"], resolved["lines"][0]["item_number"]) == (
        "CUST-0100", "1000")  # fmt: skip
    # The BC sink writing SN's invoice records what it became there, as it does for masters.
    event = {"after": _invoice("SI1"), "source": {"connection": "sn", "native_id": "sn-sys-1"}}
    learned = written_entry("bc", "sales_invoice", "bc-guid", event)
    assert learned == XrefEntry("bc", "sales_invoice", "bc-guid", "SI1", "sn", "sn-sys-1", "SI1")


def test_the_processors_name_no_entity_and_no_reference_field_of_their_own() -> None:
    """What a document names, and how, is the canonical models' to declare."""
    named = set(canonical.MODELS) | {r.field for e in canonical.DOCUMENTS
                                     for r in (*canonical.declared(e).header,
                                               *canonical.declared(e).lines)}  # fmt: skip
    found = {
        (path.name, node.value)
        for path in sorted((ROOT / "processors").glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in named
    }
    assert found == set()
