"""Reference resolution: a source document's vendor, accounts and cost centers as target codes.

Each reference goes through, in order: the flow's explicit ``mappings``; what the connector
learned while syncing masters (``mlc.xref``: a ServiceNow supplier's sys_id -> the Business
Central vendor it was written from); the same code on both sides. Then, for masters the target
itself sends out through another flow, the code must be one the target is known to hold:
until it is, the document waits ("references resolve before transactions") rather than reach
the target half mapped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ml_connector.config import MappingRules, Settings
from ml_connector.flows import returned_documents
from ml_connector.xref import DOCUMENTS, fold


class Xref(Protocol):
    def holds(self, connection: str, entity: str, code: str) -> bool: ...

    def peer_code(self, connection: str, entity: str, native_id: str, peer: str) -> str | None: ...


@dataclass(frozen=True)
class Awaited:
    """A reference a document waits for: the target's code, or the source's id of a vendor
    whose target number is not known yet (``code`` empty)."""

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
        self._vendors = _folded(rules.vendors)
        self._rules = {"cost_center": _folded(rules.cost_centers),
                       "gl_account": _folded(rules.accounts), "item": {}}  # fmt: skip

    def satisfied(self, awaited: Awaited) -> bool:
        """Whether what a parked document waits for has arrived."""
        if awaited.code:
            return self.xref.holds(self.target, awaited.entity, awaited.code)
        learned = self.xref.peer_code(self.source, awaited.entity, awaited.ref, self.target)
        return learned is not None

    def resolve(self, doc: Mapping[str, Any]) -> tuple[dict[str, Any], list[Awaited]]:
        """The document in the target's codes, and what it still waits for."""
        missing: list[Awaited] = []
        out = dict(doc)
        out["vendor_number"] = self._vendor(doc, missing)
        out["cost_center"] = self._code("cost_center", doc.get("cost_center"), missing)
        out["lines"] = [
            {
                **line,
                "cost_center": self._code("cost_center", line.get("cost_center"), missing),
                "account_number": self._code("gl_account", line.get("account_number"), missing),
                "item_number": self._code("item", line.get("item_number"), missing),
            }
            for line in doc["lines"]
        ]
        return out, list(dict.fromkeys(missing))

    def _vendor(self, doc: Mapping[str, Any], missing: list[Awaited]) -> str:
        ref, number = doc.get("vendor_ref") or "", doc.get("vendor_number") or ""
        mapped = (
            self._vendors.get(fold(ref)) if ref else None
        ) or (
            self._vendors.get(fold(number)) if number else None
        ) or (
            self.xref.peer_code(self.source, "vendor", ref, self.target) if ref else None
        ) or number  # fmt: skip
        if not mapped:
            if ref:
                missing.append(Awaited("vendor", "", ref))
            return ""
        if "vendor" in self.waited and not self.xref.holds(self.target, "vendor", mapped):
            missing.append(Awaited("vendor", mapped))
        return mapped

    def _code(self, entity: str, value: str | None, missing: list[Awaited]) -> str | None:
        if not value:
            return value
        mapped = self._rules[entity].get(fold(value), value)
        if entity in self.waited and not self.xref.holds(self.target, entity, mapped):
            missing.append(Awaited(entity, mapped))
        return mapped


def resolvers(settings: Settings, xref: Xref) -> dict[tuple[str, str], Resolver]:
    """(source, target) -> its resolver, for every flow that moves documents to create."""
    out: dict[tuple[str, str], Resolver] = {}
    for name, flow in settings.flows.items():
        if not DOCUMENTS & (set(flow.entities) - returned_documents(settings, name)):
            continue
        # Masters the target itself sends out are waited for; others are left to the target.
        waited = frozenset(e for f in settings.flows.values() if f.source == flow.target
                           for e in f.entities)  # fmt: skip
        out[(flow.source, flow.target)] = Resolver(
            flow.source, flow.target, flow.mappings, xref, waited,
            flow.park_timeout.total_seconds(),
        )  # fmt: skip
    return out
