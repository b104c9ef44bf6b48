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

from ml_connector.api.errors import FatalError, RetryableError
from ml_connector.kafka.clients import Consumed
from ml_connector.kafka.worker import Backoff, Worker, each
from producers.events import parse_timestamp
from producers.hint import Hint
from producers.poller import Poller

log = logging.getLogger(__name__)

HINT_PAUSE = 5.0  # seconds, doubling while the source keeps failing
MAX_HINT_PAUSE = 300.0


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
        self.skipped = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``. A hint the source cannot answer for now pauses the follower and is
        tried again (polling goes on meanwhile); one refused for good is logged and skipped;
        anything else stops it with that error, after the hints before it were committed."""
        worker = Worker(self.consumer, each(self._hinted), name=f"hints {self.topic}",
                        topics=[self.topic], batch_size=100)  # fmt: skip
        await worker.run(stop.is_set)

    async def _hinted(self, m: Consumed) -> None:
        # Each hint's events are acknowledged inside ``follow`` (the poller's emit).
        if m.value is None:
            return
        try:
            hint = Hint.from_json(m.value)
        except (ValueError, TypeError) as exc:
            # Not written by our receiver: nothing to follow, and nothing to wait for.
            log.error("%s[%d]@%d is not a hint (%s); skipped", m.topic, m.partition, m.offset,
                      exc)  # fmt: skip
            self.skipped += 1
            return
        try:
            await self.follow(hint)
        except RetryableError as exc:
            # The source is down or throttling past the client's own retries: try this hint
            # again later rather than stop following (deletes arrive only this way).
            raise Backoff(
                f"cannot follow {hint.entity_set} {hint.record_id} now ({exc})",
                HINT_PAUSE,
                MAX_HINT_PAUSE,
            ) from exc
        except FatalError as exc:
            # Refused for good (a record we may not read, a bad request): the next poll reads
            # whatever changed; a hint is an accelerator, not the only way in.
            log.error("hint %s %s %s not followed: %s", hint.connection, hint.entity_set,
                      hint.record_id, exc)  # fmt: skip
            self.skipped += 1

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
