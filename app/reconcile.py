"""``ml-connector reconcile <flow>``: compare both systems entity by entity.

The source is read in full through its producer adapter and mapped to the canonical model,
as the pipeline does; the target is read through its sink adapter. Records are matched by
business key and each difference is named: missing (in the source, not in the target),
different (fields the target holds that disagree), extra (in the target, not in the source).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ml_connector import streams
from ml_connector.api.errors import ApiError
from ml_connector.canonical import DOCUMENTS, key_field
from ml_connector.config import Settings
from ml_connector.flows import returned_documents
from ml_connector.secrets import SecretStore
from ml_connector.values import comparable
from processors.resolve import Resolver
from producers.registry import build_source


@dataclass
class EntityReport:
    entity: str
    compared: int = 0
    missing: list[str] = field(default_factory=list)
    different: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.different or self.extra)


@runtime_checkable
class Snapshotter(Protocol):
    """What a target adapter offers reconciliation: its rows as canonical fields, by key."""

    async def snapshot(self, entity: str) -> dict[str, dict[str, str]]: ...

    async def aclose(self) -> None: ...


def compare(
    entity: str,
    source: Mapping[str, dict[str, Any]],
    target: Mapping[str, dict[str, str]],
    *,
    extras: bool = True,
) -> EntityReport:
    """Both sides keyed by business key (case-folded); ``target`` holds canonical fields.
    ``extras=False`` for a target holding records of its own beside the source's."""
    report = EntityReport(entity, compared=len(source))
    for key, record in sorted(source.items()):
        row = target.get(key)
        if row is None:
            report.missing.append(key)
            continue
        diffs = {
            name: (comparable(record.get(name)), value)
            for name, value in row.items()
            # An empty source value does not blank the target (Import Set default), so only
            # values the source holds can disagree.
            if comparable(record.get(name)) and comparable(record.get(name)) != value
        }
        if diffs:
            report.different[key] = diffs
    # A document target holds documents of its own (entered there directly): only masters
    # are expected to match one to one.
    if entity not in DOCUMENTS and extras:
        report.extra = sorted(set(target) - set(source))
    return report


async def reconcile(
    settings: Settings, flow_name: str, secrets: SecretStore,
    on_page: Callable[[str, int], None] | None = None,
) -> list[EntityReport]:  # fmt: skip
    """Each entity of the flow read in full from the source and compared with the target's
    snapshot; ``on_page(entity, records)`` after each source page, for progress."""
    from sinks.registry import build_target

    flow = settings.flows[flow_name]
    source = build_source(settings, flow_name, secrets)
    target = build_target(settings, flow.target, secrets)
    if not isinstance(target, Snapshotter):
        await target.aclose()
        await source.aclose()
        raise ValueError(f"{flow.target}: this target cannot be reconciled yet")
    # Documents are compared in the target's codes: the flow's explicit mappings applied, as
    # the processors do (what they learned at run time is not consulted here).
    resolver = Resolver(flow.source, flow.target, flow.mappings, _NothingLearned(), frozenset())
    expected: Callable[[str], dict[str, str]] = getattr(target, "expected", lambda _: {})
    # Documents going back where they were entered are found by that system's own number; the
    # source's documents of its own are not the target's concern.
    returned = returned_documents(settings, flow_name)
    origins: Mapping[str, str] = getattr(target, "origin_fields", {})
    # Masters a target keeps of its own too (a pricebook with entries entered there).
    own: frozenset[str] = getattr(target, "holds_own", frozenset())
    reports = []
    reading = ""  # what is being read, for an error to name the connection that failed
    try:
        for entity in flow.entities:
            stream = source.streams[entity]
            reading = f"{entity} from {flow.target}"
            held = await target.snapshot(entity)
            records: dict[str, dict[str, Any]] = {}
            reading = f"{entity} from {flow.source}"
            async for page in streams.read(source.client, stream):
                if on_page is not None:
                    on_page(entity, len(page))
                for raw in page:
                    canonical = stream.to_canonical(raw)
                    if entity in returned:
                        origin = str(canonical.get(origins.get(entity, "")) or "").casefold()
                        if origin in held:
                            records[origin] = canonical
                        continue
                    if entity in DOCUMENTS:
                        canonical = {**resolver.resolve(entity, canonical)[0], **expected(entity)}
                    records[business_key(entity, canonical)] = canonical
            reports.append(compare(entity, records, held, extras=entity not in own))
    except ApiError as exc:
        raise ReadFailed(f"reading {reading}: {exc}") from exc
    finally:
        await target.aclose()
        await source.aclose()
    return reports


class ReadFailed(RuntimeError):
    """One side of the flow could not be read; the message names the connection."""


class _NothingLearned:
    def holds(self, connection: str, entity: str, code: str) -> bool:
        return False

    def peer_code(self, connection: str, entity: str, native_id: str, peer: str) -> str | None:
        return None


def business_key(entity: str, canonical: Mapping[str, Any]) -> str:
    return str(canonical[key_field(entity)]).casefold()
