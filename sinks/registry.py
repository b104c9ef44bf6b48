"""Target adapters by system name."""

from __future__ import annotations

from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.config import ServiceNowConnection, Settings
from ml_connector.secrets import SecretStore
from sinks.base import Target
from sinks.servicenow import ServiceNowTarget


def build_target(settings: Settings, connection: str, secrets: SecretStore) -> Target:
    conn = settings.connections[connection]
    if isinstance(conn, ServiceNowConnection):
        return ServiceNowTarget(ServiceNowClient(conn, secrets))
    raise ValueError(f"connections.{connection}: {conn.system} cannot be a target yet")
