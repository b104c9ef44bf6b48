"""The systems that can be a source, registered once each in the producers layer.

A registration names the system (as in ``ml_connector.systems``), how its source is built from
a connection, and, if it can notify, how its notifier is built. Adding a source system adds
one line here; the flows, the poller and the webhook receiver find it by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ml_connector.config import FlowConfig, Settings
from ml_connector.connections.base import ConnectionBase
from ml_connector.secrets import SecretStore
from ml_connector.state import StateStore
from producers import (
    acumatica,
    acumatica_push,
    business_central,
    business_central_notifications,
    servicenow,
    servicenow_push,
    servicetitan,
    servicetitan_webhooks,
)
from producers.notifications import NotifierContext
from producers.poller import Source
from producers.receiver import Notifier

SourceFactory = Callable[[Any, FlowConfig, SecretStore], Source]
NotifierFactory = Callable[[NotifierContext], Notifier | None]


@dataclass(frozen=True)
class SourceSystem:
    name: str
    source: SourceFactory
    entities: tuple[str, ...]  # what it can read with its default configuration
    notifier: NotifierFactory | None = None
    notifies_by: str = ""  # how it notifies, for people: "change subscriptions"


SOURCES: tuple[SourceSystem, ...] = (
    SourceSystem("business_central", business_central.source, business_central.ENTITIES,
                 business_central_notifications.notifier, "change subscriptions (webhooks)"),
    SourceSystem("acumatica", acumatica.source, acumatica.ENTITIES, acumatica_push.notifier,
                 "push notifications"),
    SourceSystem("servicenow", servicenow.source, servicenow.ENTITIES, servicenow_push.notifier,
                 "Business Rule pushes"),
    SourceSystem("servicetitan", servicetitan.source, servicetitan.ENTITIES,
                 servicetitan_webhooks.notifier, "webhooks (HMAC-signed)"),
)  # fmt: skip


def source_system(system: str) -> SourceSystem | None:
    return next((s for s in SOURCES if s.name == system), None)


def build_source(settings: Settings, flow: str, secrets: SecretStore) -> Source:
    """The source side of one flow (the flow carries source-specific mapping rules)."""
    rules = settings.flows[flow]
    conn = settings.connections[rules.source]
    registered = source_system(conn.system)
    if registered is None:
        raise ValueError(f"connections.{rules.source}: {conn.system} cannot be a source yet")
    source = registered.source(conn, rules, secrets)
    unknown = [e for e in rules.entities if e not in source.streams]
    if unknown:
        raise ValueError(
            f"flows.{flow}.entities: {conn.system} cannot be a source of {', '.join(unknown)} "
            f"(it reads {', '.join(sorted(source.streams))})"
        )
    return source


def build_notifiers(
    settings: Settings, secrets: SecretStore, state: StateStore
) -> dict[tuple[str, str], Notifier]:
    """(system, connection) -> notifier, for every connection whose changes are notified."""
    out: dict[tuple[str, str], Notifier] = {}
    for name in settings.webhook_connections():
        conn: ConnectionBase = settings.connections[name]
        registered = source_system(conn.system)
        if registered is None or registered.notifier is None:
            raise ValueError(f"connections.{name}: {conn.system} sends no notifications")
        notifier = registered.notifier(NotifierContext(name, conn, settings, secrets, state))
        if notifier is not None:
            out[(conn.system, name)] = notifier
    return out
