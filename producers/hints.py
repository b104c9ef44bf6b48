"""Following webhook hints: fetch what changed and turn it into change events.

BC's notifications carry no data, so each hint is resolved against the API: a created or
updated record is read by id; a ``collection`` is read as the delta query it carries; a
dimension that changed has its values read again. Offsets of the hints topic are committed
after the events are acknowledged. Polling keeps running beside this and re-reads the same
records later, which the processors drop as unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from confluent_kafka import Consumer

from ml_connector.api.errors import NotFound
from ml_connector.kafka.clients import Consumed
from producers.business_central import BusinessCentralSource
from producers.events import parse_timestamp
from producers.poller import Poller
from producers.webhooks import Hint

log = logging.getLogger(__name__)

# Entity sets BC notifies about -> the stream whose records they change.
NOTIFIED = {"vendors": "vendor", "accounts": "gl_account", "dimensions": "cost_center"}


class HintFollower:
    def __init__(
        self,
        source: BusinessCentralSource,
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
        await asyncio.to_thread(self.consumer.subscribe, [self.topic])
        try:
            while not stop.is_set():
                batch = await asyncio.to_thread(self.consumer.consume, 100, 0.5)
                messages = [Consumed.of(m) for m in batch if m.error() is None]
                for m in messages:
                    if m.value is not None:
                        await self.follow(Hint.from_json(m.value))
                if messages:
                    await asyncio.to_thread(self.consumer.commit, asynchronous=False)
        finally:
            await asyncio.to_thread(self.consumer.close)

    async def follow(self, hint: Hint) -> None:
        entity = NOTIFIED.get(hint.entity_set)
        poller = self.pollers.get(entity or "")
        if poller is None:
            return  # a set this flow does not carry
        stream = poller.stream
        if hint.change_type == "collection" or hint.entity_set == "dimensions":
            since = _filter_since(hint.resource)
            records = [r async for page in self.source.read_since(stream, since) for r in page]
        elif hint.change_type == "deleted":
            # The record is gone and BC says no more; the poll's view stays authoritative.
            log.info("%s %s deleted in Business Central", hint.entity_set, hint.record_id)
            return
        else:
            try:
                records = [await self.source.client.get(stream.path, str(hint.record_id))]
            except NotFound:
                return  # deleted again before we looked: a 'deleted' hint follows
        self.followed += await poller.emit(records, op="u", seen_via="webhook")


def _filter_since(resource: str) -> datetime | None:
    """The lower bound of a collection's ``$filter=lastModifiedDateTime gt ...``, if any."""
    query = parse_qs(urlsplit(resource).query).get("$filter", [""])[0]
    _, sep, value = query.partition(" gt ")
    return parse_timestamp(value.strip()) if sep else None
