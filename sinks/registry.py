"""Target adapters by system name."""

from __future__ import annotations

from ml_connector.api.client import RetryPolicy
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.config import BusinessCentralConnection, ServiceNowConnection, Settings
from ml_connector.secrets import SecretStore
from sinks.base import Target
from sinks.business_central import BusinessCentralTarget
from sinks.servicenow import ServiceNowTarget


def retry_policy(settings: Settings) -> RetryPolicy:
    """In-process retries of one write; the delivery tiers take over after these."""
    d = settings.delivery
    return RetryPolicy(attempts=d.attempts, max_total=d.max_backpressure_wait.total_seconds())


def cost_center_rules(settings: Settings, connection: str) -> tuple[str, int]:
    """(dimension, shortcut number) of the flows writing into ``connection``: one target has
    one chart of dimensions, so flows that disagree about it are a configuration error."""
    rules = {(f.cost_center_dimension, f.cost_center_shortcut)
             for f in settings.flows.values() if f.target == connection}  # fmt: skip
    if len(rules) > 1:
        raise ValueError(
            f"flows into {connection} disagree on cost_center_dimension / cost_center_shortcut"
        )
    return rules.pop() if rules else ("COSTCENTER", 2)


def build_target(settings: Settings, connection: str, secrets: SecretStore) -> Target:
    conn = settings.connections[connection]
    if isinstance(conn, ServiceNowConnection):
        return ServiceNowTarget(ServiceNowClient(conn, secrets, retry=retry_policy(settings)))
    if isinstance(conn, BusinessCentralConnection):
        bc = BusinessCentralClient(conn, secrets, retry=retry_policy(settings))
        dimension, shortcut = cost_center_rules(settings, connection)
        return BusinessCentralTarget(
            bc, cost_center_dimension=dimension, cost_center_shortcut=shortcut
        )
    raise ValueError(f"connections.{connection}: {conn.system} cannot be a target yet")
