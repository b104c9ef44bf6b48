"""What each registered system can do, put together from every layer's registrations.

The table in docs/connectors.md and ``ml-connector systems`` both come from here, so neither
can drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml_connector.systems import SYSTEMS
from producers.registry import source_system
from sinks.registry import target_system


@dataclass(frozen=True)
class Capabilities:
    system: str
    title: str
    reads: tuple[str, ...]  # as a source, with its default configuration
    notifies_by: str
    writes: tuple[str, ...]  # as a target
    simulated: bool


def capabilities() -> list[Capabilities]:
    from simulators.registry import SIMULATORS  # the dev-time half, only when asked for

    simulated = {s.name for s in SIMULATORS}
    out = []
    for s in SYSTEMS:
        source, target = source_system(s.name), target_system(s.name)
        out.append(Capabilities(
            s.name, s.title,
            source.entities if source else (), source.notifies_by if source else "",
            target.entities if target else (), s.name in simulated,
        ))  # fmt: skip
    return out


def markdown_table() -> str:
    """The systems table of docs/connectors.md."""
    head = "| system | what it is | reads (source) | notifications | writes (target) | simulator |"
    rows = [head, "|---|---|---|---|---|---|"]
    for c in capabilities():
        rows.append(
            f"| `{c.system}` | {c.title} | {', '.join(c.reads) or '-'} | {c.notifies_by or '-'} "
            f"| {', '.join(c.writes) or '-'} | {'yes' if c.simulated else '-'} |"
        )
    return "\n".join(rows) + "\n"
