"""Source adapters by system name."""

from __future__ import annotations

from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.config import BusinessCentralConnection, Settings
from ml_connector.secrets import SecretStore
from producers.business_central import BusinessCentralSource
from producers.poller import Source


def build_source(settings: Settings, flow: str, secrets: SecretStore) -> Source:
    """The source side of one flow (the flow carries source-specific mapping rules)."""
    rules = settings.flows[flow]
    conn = settings.connections[rules.source]
    if isinstance(conn, BusinessCentralConnection):
        return BusinessCentralSource(
            BusinessCentralClient(conn, secrets), cost_center_dimension=rules.cost_center_dimension
        )
    raise ValueError(f"connections.{rules.source}: {conn.system} cannot be a source yet")
