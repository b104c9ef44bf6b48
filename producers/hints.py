"""Following webhook hints: fetch what changed and turn it into change events.

Notifications carry little or no data, so each hint is resolved against the source's API by
the source adapter itself (``records_for``): BC reads a record by id or a collection's delta,
ServiceNow reads the pushed document with its lines. Offsets of the hints topic are
committed after the events are acknowledged. Polling keeps running beside this and re-reads
the same records later, which the processors drop as unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from confluent_kafka import Consumer

from ml_connector.kafka.clients import Consumed
from ml_connector.kafka.worker import Worker, each
from producers.events import parse_timestamp
from producers.hint import Hint
from producers.poller import Poller

log = logging.getLogger(__name__)


class HintedSource(Protocol):
    async def records_for(self, hint: Hint) -> tuple[str | None, list[dict[str, Any]]]: ...

    def entity_for(self, hint: Hint) -> str | None: ...


class HintFollower:
    def __init__(
        self,
        source: HintedSource,
        pollers: Mapping[str, Poller],  # by canonical entity
        consumer: Consumer,
        topic: str,
    ) -> None:
        self.source = source
        self.pollers = pollers
        self.consumer = consumer
        self.topic = topic
        self.followed = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``; a hint that cannot be followed stops it with that error, after the
        hints before it were committed."""
        worker = Worker(self.consumer, each(self._hinted), name=f"hints {self.topic}",
                        topics=[self.topic], batch_size=100)  # fmt: skip
        await worker.run(stop.is_set)

    async def _hinted(self, m: Consumed) -> None:
        # Each hint's events are acknowledged inside ``follow`` (the poller's emit).
        if m.value is not None:
            await self.follow(Hint.from_json(m.value))

    async def follow(self, hint: Hint) -> None:
        if hint.change_type == "deleted":
            poller = self.pollers.get(self.source.entity_for(hint) or "")
            if poller is not None and hint.record_id:
                when = (parse_timestamp(hint.last_modified) if hint.last_modified
                        else datetime.now(UTC))  # fmt: skip
                await poller.emit_delete(hint.record_id, when, seen_via="webhook")
                self.followed += 1
            return
        entity, records = await self.source.records_for(hint)
        poller = self.pollers.get(entity or "")
        if poller is None or not records:
            return  # nothing this flow carries, or nothing left to read
        self.followed += await poller.emit(records, op="u", seen_via="webhook")
