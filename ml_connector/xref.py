"""Cross-references between systems, kept in the compacted ``mlc.xref`` topic.

One record per master record (vendor, G/L account, cost center, item) a system holds: key
``<connection>|<entity>|<native id>``, value its business code (vendor number, account number,
cost center code) and, once a sink has written it somewhere, the peer record it corresponds
to. Two writers fill it:

- the processors, for every master a source connection sends (so "Business Central has vendor
  V10000" is known before any document naming V10000 is routed to it);
- the sinks, for every master written into a target (so a ServiceNow supplier's sys_id maps
  back to the Business Central vendor it came from: the learned cross-reference).

Readers keep the whole topic in memory (it holds one small record per master) and follow it
(``xref_view``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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
