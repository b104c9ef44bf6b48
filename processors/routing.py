"""One batch of events' routed sends: in flight together, acknowledged before anything of them
is remembered.

The processors send every routed event of a batch without waiting, then wait for all of the
batch's acknowledgements, and only then record each one's content hash (and audit it as
routed), in the order they were sent. Faust acks the batch's events after that, so its commit
never passes an event whose send Kafka has not acknowledged: a crash anywhere re-sends
rather than loses (sinks upsert), as when each send was awaited on its own.

Until then the batch answers "what was last routed for this key" from what it sent itself,
so a key seen twice in one batch is compared with its own earlier event.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faust.streams import _current_event

# Called with the send's RecordMetadata once Kafka acknowledged it.
Acked = Callable[[Any], Awaitable[None]]


def as_current(event: Any) -> None:
    """Names ``event`` as the one being processed, for Faust's tables: they write a key's
    changelog to that event's partition. Only the context's variable: the stream's own
    ``current_event`` belongs to the task filling the next batch, which reads it."""
    _current_event.set(weakref.ref(event))


@dataclass
class _Sent:
    event: Any  # the Faust event the send was for: table writes go to its partition
    table_key: str
    entry: dict[str, Any]
    future: asyncio.Future[Any]
    then: Acked


class Routing:
    def __init__(self, seen: Any) -> None:
        self._seen = seen
        self._sent: list[_Sent] = []
        self._latest: dict[str, dict[str, Any]] = {}

    def last(self, table_key: str) -> Any:
        """What was last routed for the key: sent in this batch, or remembered before it."""
        if table_key in self._latest:
            return self._latest[table_key]
        return self._seen.get(table_key)

    def sent(self, event: Any, table_key: str, entry: dict[str, Any],
             future: asyncio.Future[Any], then: Acked) -> None:  # fmt: skip
        self._latest[table_key] = entry
        self._sent.append(_Sent(event, table_key, entry, future, then))

    async def settle(self, failed: Callable[[Any, BaseException], None]) -> None:
        """Each send acknowledged, then remembered, in order; ``failed`` is called with the
        event of the first send Kafka refused, and must not return."""
        for s in self._sent:
            try:
                metadata = await s.future
            except Exception as exc:  # any refusal: nothing after it is recorded
                failed(s.event, exc)
                raise
            as_current(s.event)  # the entry's changelog goes to its event's partition
            self._seen[s.table_key] = s.entry
            await s.then(metadata)
        self._sent.clear()
        self._latest.clear()
