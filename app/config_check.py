"""What ``config check`` finds beyond the schema: what would otherwise fail only at run time.

Each problem names the key to fix. Nothing here reaches the systems (``ping`` does that); it
checks files, secrets and whether each flow's systems can carry its entities.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from ml_connector.config import Settings
from ml_connector.connections.base import SecretRef
from ml_connector.secrets import SecretError, SecretStore
from producers.registry import build_source, source_system
from sinks.registry import target_system


def secret_refs(model: BaseModel, where: str) -> Iterator[tuple[str, SecretRef]]:
    """(key path, reference) of every secret a connection names."""
    for name, value in model:
        if isinstance(value, SecretRef):
            yield f"{where}.{name}", value
        elif isinstance(value, BaseModel):
            yield from secret_refs(value, f"{where}.{name}")


def problems(settings: Settings) -> tuple[list[str], list[str]]:
    """(problems, notes): problems name a key to fix; notes say what could not be checked."""
    found: list[str] = []
    notes: list[str] = []
    for name, conn in settings.connections.items():
        if isinstance(conn.verify, str) and not Path(conn.verify).is_file():
            found.append(f"connections.{name}.verify: no CA bundle file at {conn.verify}")
    store: SecretStore | None = None
    try:
        store = SecretStore.from_config(settings.secrets)
    except SecretError as exc:
        notes.append(f"secrets not checked: {exc}")
    if store is not None:
        try:
            store.check_key()
            stored = set(store.names())
        except SecretError as exc:
            found.append(f"secrets: {exc}")
            store = None
    if store is not None:
        for name, conn in settings.connections.items():
            for where, ref in secret_refs(conn, f"connections.{name}"):
                if ref.secret not in stored:
                    found.append(
                        f"{where}: secret {ref.secret!r} is not in the store (ml-connector "
                        f"secrets set {ref.secret})"
                    )
    usable = store if store is not None and not found else None
    for flow_name in settings.flows:
        found += _flow_problems(settings, flow_name, usable)
    return found, notes


def _flow_problems(settings: Settings, flow_name: str, store: SecretStore | None) -> list[str]:
    flow = settings.flows[flow_name]
    found = []
    source_conn = settings.connections[flow.source]
    if store is not None:  # built for real: its streams may depend on the connection's keys
        try:
            source = build_source(settings, flow_name, store)
            asyncio.run(source.aclose())
        except (ValueError, SecretError) as exc:
            found.append(str(exc))
    elif source_system(source_conn.system) is None:
        found.append(f"connections.{flow.source}: {source_conn.system} cannot be a source yet")
    target_conn = settings.connections[flow.target]
    target = target_system(target_conn.system)
    if target is None:
        found.append(f"connections.{flow.target}: {target_conn.system} cannot be a target yet")
    else:
        unknown = [e for e in flow.entities if e not in target.entities]
        if unknown:
            found.append(
                f"flows.{flow_name}.entities: {target_conn.system} cannot be a target of "
                f"{', '.join(unknown)} (it writes {', '.join(target.entities)})"
            )
    return found
