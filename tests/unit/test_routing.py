"""A batch's routed sends are remembered only once Kafka acknowledged them, in send order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from processors.routing import Routing


class Event:
    """What the batch keeps of a Faust event: something to name as current."""

    def __init__(self, offset: int) -> None:
        self.offset = offset


async def test_nothing_is_remembered_before_every_send_of_the_batch_is_acknowledged() -> None:
    seen: dict[str, Any] = {"k0": {"hash": "old"}}
    routing = Routing(seen)
    loop = asyncio.get_running_loop()
    acks = [loop.create_future() for _ in range(2)]
    audited: list[int] = []

    async def routed(metadata: Any) -> None:
        audited.append(metadata)

    routing.sent(Event(0), "k0", {"hash": "new"}, acks[0], routed)
    routing.sent(Event(1), "k1", {"hash": "h1"}, acks[1], routed)
    # The batch answers from its own sends; the table is untouched until the acks.
    assert routing.last("k0") == {"hash": "new"} and routing.last("k2") is None
    settling = asyncio.create_task(routing.settle(lambda event, exc: None))
    acks[1].set_result(11)
    await asyncio.sleep(0)
    assert seen == {"k0": {"hash": "old"}} and audited == []
    acks[0].set_result(10)
    await settling
    assert seen == {"k0": {"hash": "new"}, "k1": {"hash": "h1"}}
    assert audited == [10, 11]  # in send order, whatever order the acks came in


async def test_a_refused_send_names_its_event_and_nothing_from_it_on_is_remembered() -> None:
    seen: dict[str, Any] = {}
    routing = Routing(seen)
    loop = asyncio.get_running_loop()
    acks = [loop.create_future() for _ in range(3)]
    events = [Event(i) for i in range(3)]
    for i, (event, ack) in enumerate(zip(events, acks, strict=True)):
        routing.sent(event, f"k{i}", {"hash": str(i)}, ack, lambda _: asyncio.sleep(0))
    acks[0].set_result(0)
    acks[1].set_exception(RuntimeError("not acknowledged"))
    acks[2].set_result(2)
    failed: list[tuple[Event, BaseException]] = []
    with pytest.raises(RuntimeError, match="not acknowledged"):
        await routing.settle(lambda event, exc: failed.append((event, exc)))
    assert [e for e, _ in failed] == [events[1]]
    # Its offset is never acked, so the event and those after it are read again and re-sent.
    assert seen == {"k0": {"hash": "0"}}
