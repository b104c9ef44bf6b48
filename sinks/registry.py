"""Target adapters by system name."""

from __future__ import annotations

from ml_connector.api.client import RetryPolicy
from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.config import ServiceNowConnection, Settings
from ml_connector.secrets import SecretStore
from sinks.base import Target
from sinks.servicenow import ServiceNowTarget


def retry_policy(settings: Settings) -> RetryPolicy:
    """In-process retries of one write; the delivery tiers take over after these."""
    d = settings.delivery
    return RetryPolicy(attempts=d.attempts, max_total=d.max_backpressure_wait.total_seconds())


def build_target(settings: Settings, connection: str, secrets: SecretStore) -> Target:
    conn = settings.connections[connection]
    if isinstance(conn, ServiceNowConnection):
        client = ServiceNowClient(conn, secrets)
        client.client.retry = retry_policy(settings)
        return ServiceNowTarget(client)
    raise ValueError(f"connections.{connection}: {conn.system} cannot be a target yet")
