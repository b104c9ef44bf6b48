"""Every Kafka topic name ml-connector uses, built in this one module.

Subscribers rely on these shapes (for example the regex ``mlc\\..*\\.vendor``), so nothing else
in the code base may format a topic name by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")


def _check(segment: str, what: str) -> str:
    if not _SEGMENT.match(segment):
        raise ValueError(f"{what} {segment!r} may hold only letters, digits, '_' and '-'")
    return segment


def value_subject(topic: str) -> str:
    """Schema Registry subject of a topic's values (TopicNameStrategy)."""
    return f"{topic}-value"


@dataclass(frozen=True)
class Topics:
    """Topic names under one prefix (default ``mlc``)."""

    prefix: str = "mlc"

    def change(self, connection: str, entity: str) -> str:
        """Change events of one entity read from one source connection."""
        return f"{self.prefix}.{_check(connection, 'connection')}.{_check(entity, 'entity')}"

    def hints(self, connection: str) -> str:
        """Webhook hits, written before the HTTP answer."""
        return f"{self.prefix}.hints.{_check(connection, 'connection')}"

    def sink(self, target: str, entity: str) -> str:
        """What a target connection must receive, references already resolved."""
        return f"{self.prefix}.sink.{_check(target, 'connection')}.{_check(entity, 'entity')}"

    def released(self, connection: str, entity: str) -> str:
        """Documents a processor parked for a missing master, handed back once it arrived."""
        return (f"{self.prefix}.released.{_check(connection, 'connection')}."
                f"{_check(entity, 'entity')}")  # fmt: skip

    def retry(self, target: str, tier: str) -> str:
        return f"{self.prefix}.retry.{_check(target, 'connection')}.{_check(tier, 'tier')}"

    def dlq(self, target: str) -> str:
        return f"{self.prefix}.dlq.{_check(target, 'connection')}"

    @property
    def audit(self) -> str:
        return f"{self.prefix}.audit"

    @property
    def xref(self) -> str:
        return f"{self.prefix}.xref"

    @property
    def state(self) -> str:
        return f"{self.prefix}.state"

    @property
    def schemas(self) -> str:
        """Schemas published for the single-object encoding fallback (compacted)."""
        return f"{self.prefix}.schemas"

    @property
    def tasks(self) -> str:
        """The producers' poll tasks, one partition each (compacted: the placements)."""
        return f"{self.prefix}.tasks"

    @property
    def producer_group(self) -> str:
        """The producer instances' group over ``tasks``: its assignment says who polls what."""
        return f"{self.prefix}-producers"

    def processor_app(self) -> str:
        """Faust application id; its tables' changelog topics start with it."""
        return f"{self.prefix}-processors"

    @property
    def audit_group(self) -> str:
        return f"{self.prefix}-audit-indexer"

    @property
    def audit_cli_group(self) -> str:
        """The command line catches the index up under its own group: committing into the
        running indexer's group would fight over its offsets."""
        return f"{self.prefix}-audit-cli"

    def sink_group(self, target: str) -> str:
        return f"{self.prefix}-sink-{_check(target, 'connection')}"
