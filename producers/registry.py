"""Source adapters by system name."""

from __future__ import annotations

from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.config import BusinessCentralConnection, ServiceNowConnection, Settings
from ml_connector.secrets import SecretStore
from producers.business_central import BusinessCentralSource
from producers.poller import Source
from producers.servicenow import ServiceNowSource


def build_source(settings: Settings, flow: str, secrets: SecretStore) -> Source:
    """The source side of one flow (the flow carries source-specific mapping rules)."""
    rules = settings.flows[flow]
    conn = settings.connections[rules.source]
    source: Source
    if isinstance(conn, BusinessCentralConnection):
        source = BusinessCentralSource(
            BusinessCentralClient(conn, secrets),
            cost_center_dimension=rules.cost_center_dimension,
            cost_center_shortcut=rules.cost_center_shortcut,
        )
    elif isinstance(conn, ServiceNowConnection):
        source = ServiceNowSource(ServiceNowClient(conn, secrets))
    else:
        raise ValueError(f"connections.{rules.source}: {conn.system} cannot be a source yet")
    unknown = [e for e in rules.entities if e not in source.streams]
    if unknown:
        raise ValueError(
            f"flows.{flow}.entities: {conn.system} cannot be a source of {', '.join(unknown)} "
            f"(it reads {', '.join(sorted(source.streams))})"
        )
    return source
