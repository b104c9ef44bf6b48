"""The contract between the sink runner and a target system."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ml_connector.api.client import RetryPolicy
from ml_connector.config import Settings
from ml_connector.secrets import SecretStore


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

    async def start(self) -> None:
        """Start-up checks: raises what makes writing pointless (a version not served)."""

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class TargetContext:
    """What a target is built from besides its connection: its name in the config, the whole
    configuration (flows into it may shape it) and the shared services."""

    name: str
    settings: Settings
    secrets: SecretStore

    @property
    def retry(self) -> RetryPolicy:
        """In-process retries of one write; the delivery tiers take over after these."""
        d = self.settings.delivery
        return RetryPolicy(attempts=d.attempts, max_total=d.max_backpressure_wait.total_seconds())
