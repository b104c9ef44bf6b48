"""The systems that can be a target, registered once each in the sinks layer.

A registration names the system (as in ``ml_connector.systems``), how its target is built from
a connection, and the canonical entities it writes. Adding a target system adds one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ml_connector.config import Settings
from ml_connector.secrets import SecretStore
from sinks import acumatica, business_central, servicenow, servicetitan
from sinks.base import Target, TargetContext

TargetFactory = Callable[[Any, TargetContext], Target]
Columns = Callable[[str], frozenset[str]]


@dataclass(frozen=True)
class TargetSystem:
    name: str
    target: TargetFactory
    entities: tuple[str, ...]  # the canonical entities it writes
    # the columns it renders per entity, what a field override may rename or drop; None for
    # a target that applies no field overrides, so config check refuses them there
    columns: Columns | None = None


TARGETS: tuple[TargetSystem, ...] = (
    TargetSystem("business_central", business_central.target, business_central.ENTITIES),
    TargetSystem("acumatica", acumatica.target, acumatica.ENTITIES),
    TargetSystem("servicenow", servicenow.target, servicenow.ENTITIES, servicenow.columns),
    TargetSystem("servicetitan", servicetitan.target, servicetitan.ENTITIES, servicetitan.columns),
)


def target_system(system: str) -> TargetSystem | None:
    return next((t for t in TARGETS if t.name == system), None)


def build_target(settings: Settings, connection: str, secrets: SecretStore) -> Target:
    conn = settings.connections[connection]
    registered = target_system(conn.system)
    if registered is None:
        raise ValueError(f"connections.{connection}: {conn.system} cannot be a target yet")
    return registered.target(conn, TargetContext(connection, settings, secrets))
