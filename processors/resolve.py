"""Reference resolution: what a source document names, as the target's codes.

What a document names is declared on its canonical model (``ml_connector.canonical``): a
purchase invoice its vendor, cost centers, accounts and items, a sales invoice its customer, a
payment the invoice it applies to. Each reference goes through, in order: the flow's explicit
``mappings``; what the connector learned while syncing masters (``mlc.xref``: a ServiceNow
supplier's sys_id -> the Business Central vendor it was written from), for references that
carry the source's own id; the same code on both sides. Then, for entities the target itself
sends out through another flow, or that the same flow writes into it, the code must be one
the target is known to hold: until it is, the document waits ("references resolve before
transactions") rather than reach the target half mapped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ml_connector.canonical import DOCUMENTS, LINES, REFERENCED, Reference, declared
from ml_connector.config import MappingRules, Settings
from ml_connector.flows import returned_documents
from ml_connector.xref import fold


class Xref(Protocol):
    def holds(self, connection: str, entity: str, code: str) -> bool: ...

    def peer_code(self, connection: str, entity: str, native_id: str, peer: str) -> str | None: ...


@dataclass(frozen=True)
class Awaited:
    """A reference a document waits for: the target's code, or the source's id of a record
    (a vendor) whose target code is not known yet (``code`` empty)."""

    entity: str
    code: str
    ref: str = ""

    def to_json(self) -> list[str]:
        return [self.entity, self.code, self.ref]

    @classmethod
    def from_json(cls, raw: list[str]) -> Awaited:
        return cls(*raw)

    def describe(self, source: str, target: str) -> str:
        if self.code:
            return f"{self.entity} {self.code!r} (not yet seen in {target})"
        return f"{source} {self.entity} {self.ref!r} (no {target} number mapped to it yet)"


def _folded(mapping: Mapping[str, str]) -> dict[str, str]:
    return {fold(k): v for k, v in mapping.items()}


class Resolver:
    def __init__(self, source: str, target: str, rules: MappingRules, xref: Xref,
                 waited: frozenset[str], park_timeout: float = 3600.0) -> None:  # fmt: skip
        self.source, self.target = source, target
        self.park_timeout = park_timeout  # seconds
        self.xref = xref
        self.waited = waited
        self._rules = {entity: _folded(rules.for_entity(entity)) for entity in REFERENCED}

    def satisfied(self, awaited: Awaited) -> bool:
        """Whether what a parked document waits for has arrived."""
        if awaited.code:
            return self.xref.holds(self.target, awaited.entity, awaited.code)
        learned = self.xref.peer_code(self.source, awaited.entity, awaited.ref, self.target)
        return learned is not None

    def resolve(self, entity: str, doc: Mapping[str, Any]) -> tuple[dict[str, Any], list[Awaited]]:
        """The document in the target's codes, and what it still waits for."""
        missing: list[Awaited] = []
        refs = declared(entity)
        out = dict(doc)
        for ref in refs.header:
            out[ref.field] = self._reference(ref, doc, missing)
        if refs.lines:
            out[LINES] = [
                {**line, **{ref.field: self._reference(ref, line, missing) for ref in refs.lines}}
                for line in doc[LINES]
            ]
        return out, list(dict.fromkeys(missing))

    def _reference(self, ref: Reference, record: Mapping[str, Any], missing: list[Awaited]) -> Any:
        """One reference in the target's code; left as it is when nothing maps it."""
        value = record.get(ref.field)
        source_id = (record.get(ref.source_id) or "") if ref.source_id else ""
        rules = self._rules.get(ref.entity, {})
        mapped = (
            rules.get(fold(source_id)) if source_id else None
        ) or (
            rules.get(fold(value)) if value else None
        ) or (
            self.xref.peer_code(self.source, ref.entity, source_id, self.target)
            if source_id else None
        ) or value  # fmt: skip
        if not mapped:
            if source_id:
                # Named only by the source's own id: what it is in the target is still to learn.
                missing.append(Awaited(ref.entity, "", source_id))
            return value
        if ref.entity in self.waited and not self.xref.holds(self.target, ref.entity, mapped):
            missing.append(Awaited(ref.entity, mapped))
        return mapped


def resolvers(settings: Settings, xref: Xref) -> dict[tuple[str, str], Resolver]:
    """(source, target) -> its resolver, for every flow that moves documents to create."""
    out: dict[tuple[str, str], Resolver] = {}
    for name, flow in settings.flows.items():
        if not DOCUMENTS & (set(flow.entities) - returned_documents(settings, name)):
            continue
        # What the target itself sends out is waited for, and what this flow writes into it
        # that its documents name (accounts and cost centers before the lines charged to
        # them, a bill before its payment); the rest is left to the target.
        waited = frozenset(e for f in settings.flows.values() if f.source == flow.target
                           for e in f.entities) | (REFERENCED & set(flow.entities))  # fmt: skip
        out[(flow.source, flow.target)] = Resolver(
            flow.source, flow.target, flow.mappings, xref, waited,
            flow.park_timeout.total_seconds(),
        )  # fmt: skip
    return out
