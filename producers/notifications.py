"""What a system's notifier is built from: the connection and the shared services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ml_connector.config import Settings
from ml_connector.connections.base import ConnectionBase
from ml_connector.secrets import SecretStore
from ml_connector.state import StateStore


@dataclass(frozen=True)
class NotifierContext:
    name: str
    connection: ConnectionBase
    settings: Settings
    secrets: SecretStore
    state: StateStore

    @property
    def public_url(self) -> str:
        """The receiver's base URL as the source reaches it (no trailing slash)."""
        return (self.settings.webhooks.public_url or "").rstrip("/")

    @property
    def renew_before(self) -> timedelta:
        return self.settings.webhooks.renew_before

    def entities_read(self) -> set[str]:
        """The entities the flows reading from this connection carry."""
        flows = self.settings.flows.values()
        return {e for f in flows if f.source == self.name for e in f.entities}
