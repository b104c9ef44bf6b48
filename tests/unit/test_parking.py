"""The release timer: which waiting documents it hands back, and when."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from ml_connector.config import MappingRules
from processors.parking import Parked, release_timer
from processors.resolve import Awaited, Resolver
from processors.routes import Route


@dataclass
class Xref:
    codes: set[tuple[str, str, str]] = field(default_factory=set)
    version: int = 0

    def holds(self, connection: str, entity: str, code: str) -> bool:
        return (connection, entity, code) in self.codes

    def peer_code(self, connection: str, entity: str, native_id: str, peer: str) -> str | None:
        return None

    def add(self, entity: str, code: str) -> None:
        self.codes.add(("bc", entity, code))
        self.version += 1


@dataclass
class Topic:
    sent: list[tuple[bytes, int]] = field(default_factory=list)

    async def send(self, *, key: bytes, value: bytes, partition: int) -> None:
        assert json.loads(value)["table_key"]
        self.sent.append((key, partition))


ROUTE = Route("sn", "bc", "purchase_invoice")


def _waiting(since: float, *missing: Awaited) -> dict[str, Any]:
    parked = Parked(b"avro", b"inv-1", 2)
    return {"bc|sn|purchase_invoice|inv-1": parked.entry(ROUTE, list(missing), since)}


def _timer(waiting: dict[str, Any], xref: Xref, topic: Topic, timeout: float = 3600.0) -> Any:
    resolver = Resolver("sn", "bc", MappingRules(), xref, frozenset({"vendor"}), timeout)
    return release_timer(waiting, xref, {("sn", "bc"): resolver},
                         {("sn", "purchase_invoice"): topic})  # fmt: skip


async def test_a_document_goes_back_when_its_master_arrives_and_not_before() -> None:
    xref, topic = Xref(), Topic()
    tick = _timer(_waiting(time.time(), Awaited("vendor", "V1")), xref, topic)
    await tick()  # the first pass hands back everything: mappings may have changed
    assert topic.sent == [(b"inv-1", 2)]
    topic.sent.clear()
    xref.version += 1  # something else arrived
    await tick()
    assert topic.sent == []
    xref.add("vendor", "V1")
    await tick()
    assert topic.sent == []  # its marker is still on the way: not sent twice


async def test_once_parked_again_a_document_goes_back_as_soon_as_its_master_arrives() -> None:
    xref, topic = Xref(), Topic()
    waiting = _waiting(time.time(), Awaited("vendor", "V1"))
    tick = _timer(waiting, xref, topic)
    await tick()  # the first pass, at start-up: the agent finds V1 still missing ...
    waiting.update(_waiting(time.time(), Awaited("vendor", "V1")))  # ... and parks it again
    xref.add("vendor", "V1")
    await tick()
    assert topic.sent == [(b"inv-1", 2), (b"inv-1", 2)]


async def test_a_document_parked_again_on_something_else_may_go_at_once() -> None:
    xref, topic = Xref(), Topic()
    waiting = _waiting(time.time(), Awaited("vendor", "V1"))
    tick = _timer(waiting, xref, topic)
    await tick()
    waiting.update(_waiting(time.time(), Awaited("vendor", "V2")))
    xref.add("vendor", "V2")
    await tick()
    assert topic.sent == [(b"inv-1", 2), (b"inv-1", 2)]


async def test_a_document_whose_wait_ran_out_goes_back_without_its_master() -> None:
    xref, topic = Xref(), Topic()
    waiting = _waiting(time.time() - 10, Awaited("vendor", "V1"))
    tick = _timer(waiting, xref, topic, timeout=5.0)
    await tick()
    assert topic.sent == [(b"inv-1", 2)]
