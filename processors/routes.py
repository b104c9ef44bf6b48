"""Where each source's events go: one route per flow and entity."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ml_connector.config import Settings


@dataclass(frozen=True)
class Route:
    source: str
    target: str
    entity: str


def routes(settings: Settings) -> dict[tuple[str, str], list[Route]]:
    """(source connection, entity) -> where its events go."""
    table: dict[tuple[str, str], list[Route]] = defaultdict(list)
    for flow in settings.flows.values():
        for entity in flow.entities:
            table[(flow.source, entity)].append(Route(flow.source, flow.target, entity))
    return dict(table)
