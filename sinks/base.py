"""The contract between the sink runner and a target system."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SinkRecord:
    topic: str
    partition: int
    offset: int
    key: str
    entity: str
    event: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What the target said about one record. ``error`` set means it refused it for good."""

    status: str  # inserted | updated | ignored | written | rejected
    target_id: str | None = None
    error: str | None = None
    note: str | None = None  # why a record was ignored, for the audit trail

    @property
    def ok(self) -> bool:
        return self.error is None


class Target(Protocol):
    """A target system's writer. Raises RetryableError when trying again may succeed."""

    async def write(self, record: SinkRecord) -> Outcome: ...

    async def aclose(self) -> None: ...
