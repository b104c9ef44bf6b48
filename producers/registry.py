"""Source adapters by system name."""

from __future__ import annotations

from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.config import BusinessCentralConnection, Settings
from ml_connector.secrets import SecretStore
from producers.business_central import BusinessCentralSource
from producers.poller import Source


def build_source(settings: Settings, connection: str, secrets: SecretStore) -> Source:
    conn = settings.connections[connection]
    if isinstance(conn, BusinessCentralConnection):
        return BusinessCentralSource(BusinessCentralClient(conn, secrets))
    raise ValueError(f"connections.{connection}: {conn.system} cannot be a source yet")
