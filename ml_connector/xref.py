"""Cross-references between systems, kept in the compacted ``mlc.xref`` topic.

One record per master record (vendor, G/L account, cost center, item) a system holds: key
``<connection>|<entity>|<native id>``, value its business code (vendor number, account number,
cost center code) and, once a sink has written it somewhere, the peer record it corresponds
to. Two writers fill it:

- the processors, for every master a source connection sends (so "Business Central has vendor
  V10000" is known before any document naming V10000 is routed to it);
- the sinks, for every master written into a target (so a ServiceNow supplier's sys_id maps
  back to the Business Central vendor it came from: the learned cross-reference).

Readers keep the whole topic in memory (it holds one small record per master) and follow it.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

log = logging.getLogger(__name__)

# The business key of each master entity: what documents name them by.
CODE_FIELDS = {
    "vendor": "number",
    "customer": "number",
    "item": "number",
    "gl_account": "number",
    "cost_center": "code",
}

# Entities that name masters by code and may have to wait for them.
DOCUMENTS = frozenset({"purchase_order", "purchase_invoice"})


def fold(code: str) -> str:
    """Codes compare like ERP Code fields: trimmed, case-insensitive."""
    return code.strip().casefold()


def xref_key(connection: str, entity: str, native_id: str) -> str:
    return f"{connection}|{entity}|{native_id}"


@dataclass(frozen=True)
class XrefEntry:
    connection: str
    entity: str
    native_id: str
    code: str
    peer_connection: str | None = None
    peer_id: str | None = None
    peer_code: str | None = None

    @property
    def key(self) -> str:
        return xref_key(self.connection, self.entity, self.native_id)

    def to_json(self) -> bytes:
        value: dict[str, Any] = {"code": self.code}
        if self.peer_connection:
            value["peer"] = {"connection": self.peer_connection, "id": self.peer_id,
                             "code": self.peer_code}  # fmt: skip
        return json.dumps(value).encode()

    @classmethod
    def parse(cls, key: str, raw: bytes) -> XrefEntry:
        connection, entity, native_id = key.split("|", 2)
        value = json.loads(raw)
        peer = value.get("peer") or {}
        return cls(connection, entity, native_id, str(value.get("code") or ""),
                   peer.get("connection"), peer.get("id"), peer.get("code"))  # fmt: skip


def business_code(entity: str, record: dict[str, Any] | None) -> str | None:
    """The code a master is known by; documents have none here. Only masters are named by
    other records, and they are few: the xref stays small enough to hold in memory."""
    field = CODE_FIELDS.get(entity)
    code = (record or {}).get(field) if field else None
    return str(code) if code else None


def master_entry(connection: str, entity: str, native_id: str,
                 record: dict[str, Any] | None) -> XrefEntry | None:  # fmt: skip
    """The entry a source's master record stands for, or None when it has no code."""
    code = business_code(entity, record)
    return XrefEntry(connection, entity, native_id, code) if code else None


def written_entry(target: str, entity: str, target_id: str,
                  event: dict[str, Any]) -> XrefEntry | None:  # fmt: skip
    """What a sink learned by writing the master ``event`` into ``target`` as ``target_id``."""
    code = business_code(entity, event.get("after"))
    source = event.get("source") or {}
    if code is None or not source.get("native_id"):
        return None
    return XrefEntry(target, entity, target_id, code, source.get("connection"),
                     str(source["native_id"]), code)  # fmt: skip


class XrefView:
    """The whole xref topic in memory, followed by a background consumer.

    ``version`` grows with every change, so a caller can tell cheaply whether anything arrived
    since it last looked.
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": "mlc-xref-reader",  # never commits: every reader starts at the beginning
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "log_level": 0,
        })  # fmt: skip
        self._entries: dict[str, XrefEntry] = {}
        self._codes: dict[tuple[str, str, str], str] = {}  # (conn, entity, folded code) -> key
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.version = 0

    def start(self) -> XrefView:
        meta = self._consumer.list_topics(self.topic, timeout=10).topics[self.topic]
        self._consumer.assign(
            [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in meta.partitions]
        )
        self._thread = threading.Thread(target=self._follow, name="xref-view", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._consumer.close()

    def _follow(self) -> None:
        while not self._stop.is_set():
            for m in self._consumer.consume(500, 0.5):
                if (error := m.error()) is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        log.warning("xref: %s", error)
                    continue
                self.apply((m.key() or b"").decode(), m.value())

    def apply(self, key: str, raw: bytes | None) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._codes.pop((old.connection, old.entity, fold(old.code)), None)
            if raw is not None:
                entry = XrefEntry.parse(key, raw)
                self._entries[key] = entry
                self._codes[(entry.connection, entry.entity, fold(entry.code))] = key
            self.version += 1

    def holds(self, connection: str, entity: str, code: str) -> bool:
        """Whether ``connection`` is known to hold a record of ``entity`` with this code."""
        return (connection, entity, fold(code)) in self._codes

    def peer_code(self, connection: str, entity: str, native_id: str, peer: str) -> str | None:
        """The code in ``peer`` of what ``connection`` holds as ``native_id``, if learned."""
        entry = self._entries.get(xref_key(connection, entity, native_id))
        if entry is None or entry.peer_connection != peer:
            return None
        return entry.peer_code
