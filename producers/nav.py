"""NAV / Business Central on-premises as a source: API v2.0 behaves as BC online, so its
entity sets are declared exactly as Business Central's (``business_central.bc_stream``)."""

from __future__ import annotations

from ml_connector.clients.nav import NavClient
from ml_connector.config import FlowConfig
from ml_connector.connections.nav import NavConnection
from ml_connector.secrets import SecretStore
from producers import business_central
from producers.source import StreamSource
from producers.stream import Stream

SYSTEM = "nav"

STREAMS: dict[str, Stream] = dict(business_central.STREAMS)


def streams(cost_center_dimension: str, cost_center_shortcut: int) -> dict[str, Stream]:
    return business_central.streams(cost_center_dimension, cost_center_shortcut)


def source(connection: NavConnection, flow: FlowConfig, secrets: SecretStore) -> StreamSource:
    client = NavClient(connection, secrets)
    declared = streams(flow.cost_center_dimension, flow.cost_center_shortcut)
    return StreamSource(SYSTEM, client, declared, client.company_id)
