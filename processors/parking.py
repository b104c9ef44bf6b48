"""Documents waiting for a master: parked in a table, handed back when the master arrives.

A document whose vendor, account or cost center the target has not sent yet is kept in the
``waiting`` table under the same key as its dedupe entry, with what it waits for. A later
version of the same document replaces it there (only the latest state matters to a target),
so nothing older can overtake anything newer on release.

Faust lets a table change only while its own partition's event is being processed, so the
timer below never releases anything itself: when ``mlc.xref`` brings what a document waits
for (or its wait runs out), it sends a marker to the document's partition of the
``released`` topic, which the same agent reads beside the change topic; the agent then
resolves the document again and routes it, or parks it again on what is still missing.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from processors.resolve import Awaited, Resolver
from processors.routes import Route

log = logging.getLogger(__name__)

RESEND_AFTER = 30.0  # seconds before a marker not yet acted on is sent again
FULL_SCAN_EVERY = 10.0  # seconds: waits that ran out are noticed without any xref change


@dataclass(frozen=True)
class Parked:
    """A document's change event as it arrived, and since when it waits (None: not yet)."""

    value: bytes
    key: bytes
    partition: int
    since: float | None = None

    def entry(self, route: Route, missing: list[Awaited], since: float) -> dict[str, Any]:
        return {
            "source": route.source, "target": route.target, "entity": route.entity,
            "key": self.key.decode(), "partition": self.partition, "since": since,
            "event": base64.b64encode(self.value).decode(),
            "awaits": [m.to_json() for m in missing],
            "parked_at": time.time(),  # each parking is new: a marker may go for it at once
        }  # fmt: skip

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> Parked:
        return cls(base64.b64decode(entry["event"]), str(entry["key"]).encode(),
                   int(entry["partition"]), float(entry["since"]))  # fmt: skip


class XrefVersion(Protocol):
    """What the timer needs of the cross-reference view."""

    @property
    def version(self) -> int: ...


def release_timer(
    waiting: Any,
    xref: XrefVersion,
    resolver_for: Mapping[tuple[str, str], Resolver],
    released: Mapping[tuple[str, str], Any],
) -> Callable[[], Awaitable[None]]:
    """A timer body that hands back every waiting document that may go now."""
    seen_version = -1  # the first pass hands back everything: mappings may have changed
    last_full = 0.0
    sent: dict[str, float] = {}

    async def tick() -> None:
        nonlocal seen_version, last_full
        now = time.time()
        version = xref.version
        if version == seen_version and now - last_full < FULL_SCAN_EVERY:
            return
        everything = seen_version < 0
        for table_key, entry in list(waiting.items()):
            if not entry:
                continue
            resolver = resolver_for.get((entry["source"], entry["target"]))
            # One marker per parking: once the agent parked it again (say on what it still
            # waits for), the next arrival may hand it back at once.
            mark = f"{table_key}|{entry.get('parked_at')}"
            if resolver is None or sent.get(mark, 0.0) > now - RESEND_AFTER:
                continue
            due = (
                everything
                or now - float(entry["since"]) >= resolver.park_timeout
                or all(resolver.satisfied(Awaited.from_json(a)) for a in entry["awaits"])
            )
            if not due:
                continue
            sent[mark] = now
            marker = json.dumps({"table_key": table_key}).encode()
            await released[(entry["source"], entry["entity"])].send(
                key=str(entry["key"]).encode(), value=marker, partition=int(entry["partition"])
            )
        for mark in [k for k, at in sent.items() if at <= now - RESEND_AFTER]:
            del sent[mark]
        seen_version, last_full = version, now

    return tick
