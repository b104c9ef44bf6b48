"""Cross-references between systems, kept in the compacted ``mlc.xref`` topic.

One record per referenced record a system holds (every entity some document declares a
reference to: the masters, and the sales invoices payments apply to): key
``<connection>|<entity>|<native id>``, value its business code (vendor number, account number,
cost center code, invoice number) and, once a sink has written it somewhere, the peer record it
corresponds to. Two writers fill it:

- the processors, for every such record a source connection sends (so "Business Central has
  vendor V10000" is known before any document naming V10000 is routed to it);
- the sinks, for every such record written into a target (so a ServiceNow supplier's sys_id
  maps back to the Business Central vendor it came from: the learned cross-reference).

Readers keep the whole topic in memory (it holds one small record per referenced record) and
follow it (``xref_view``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ml_connector.canonical import DOCUMENTS as DOCUMENTS  # re-exported: what may wait
from ml_connector.canonical import REFERENCED, key_field

# The business key of each entity documents name: what they name it by. Derived from the
# declared references (``canonical``), as is DOCUMENTS, what may have to wait for them.
CODE_FIELDS = {entity: key_field(entity) for entity in sorted(REFERENCED)}


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
    """The code a referenced record is known by; what nothing names has none here. Only
    masters and invoices are named by other records: the xref stays small enough to hold in
    memory."""
    field = CODE_FIELDS.get(entity)
    code = (record or {}).get(field) if field else None
    return str(code) if code else None


def master_entry(connection: str, entity: str, native_id: str,
                 record: dict[str, Any] | None) -> XrefEntry | None:  # fmt: skip
    """The entry a source's referenced record stands for, or None when it has no code."""
    code = business_code(entity, record)
    return XrefEntry(connection, entity, native_id, code) if code else None


def written_entry(target: str, entity: str, target_id: str,
                  event: dict[str, Any]) -> XrefEntry | None:  # fmt: skip
    """What a sink learned by writing the referenced record ``event`` into ``target`` as
    ``target_id``."""
    code = business_code(entity, event.get("after"))
    source = event.get("source") or {}
    if code is None or not source.get("native_id"):
        return None
    return XrefEntry(target, entity, target_id, code, source.get("connection"),
                     str(source["native_id"]), code)  # fmt: skip
