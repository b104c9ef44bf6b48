"""What ``config check`` finds beyond the schema: what would otherwise fail only at run time.

Each problem names the key to fix. Nothing here reaches the systems (``ping`` does that); it
checks files, secrets, whether each flow's systems can carry its entities, and what its field
overrides name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from app.field_check import field_problems
from ml_connector.config import Settings
from ml_connector.connections.base import EnvSecret, FileSecret, StoredSecret
from ml_connector.secrets import SecretError, SecretStore
from producers.registry import build_source, source_system
from sinks.registry import target_system

Ref = StoredSecret | EnvSecret | FileSecret


def secret_refs(model: BaseModel, where: str) -> Iterator[tuple[str, Ref]]:
    """(key path, reference) of every secret a connection names."""
    for name, value in model:
        if isinstance(value, Ref):
            yield f"{where}.{name}", value
        elif isinstance(value, BaseModel):
            yield from secret_refs(value, f"{where}.{name}")


def problems(settings: Settings, *, strict: bool = False) -> tuple[list[str], list[str]]:
    """(problems, notes): problems name a key to fix; notes say what could not be checked."""
    found: list[str] = []
    notes: list[str] = []
    for name, conn in settings.connections.items():
        if isinstance(conn.verify, str) and not Path(conn.verify).is_file():
            found.append(f"connections.{name}.verify: no CA bundle file at {conn.verify}")
    store: SecretStore | None = None
    try:
        store = SecretStore.from_config(settings.secrets)
        store.check_key()
    except SecretError as exc:
        found.append(f"secrets: {exc}")
        store = None
    if store is not None:
        found += _secret_problems(settings, store, notes, strict=strict)
    usable = store if store is not None and not found and not notes else None
    k = settings.kafka
    if k.encoding == "confluent" and not k.schema_registry_url:
        # Config files often leave the registry to SCHEMA_REGISTRY_URL: only run insists.
        message = ("kafka.schema_registry_url (or SCHEMA_REGISTRY_URL) is required; set "
                   "kafka.encoding: single-object to run without a registry")  # fmt: skip
        (found if strict else notes).append(message)
    for flow_name in settings.flows:
        found += _flow_problems(settings, flow_name, usable)
    found += field_problems(settings)
    return found, notes


def _secret_problems(
    settings: Settings, store: SecretStore, notes: list[str], *, strict: bool
) -> list[str]:
    """Every secret the connections name, resolved (values are dropped at once). Without a
    key, stored secrets cannot be checked: a note for ``config check``, a problem for
    ``run`` (``strict``), which would need them."""
    found: list[str] = []
    unchecked = []
    for name, conn in settings.connections.items():
        for where, ref in secret_refs(conn, f"connections.{name}"):
            if isinstance(ref, StoredSecret) and not store.has_key:
                unchecked.append(where)
                continue
            try:
                store.get(ref)
            except SecretError as exc:
                hint = f" (ml-connector secrets set {ref.secret})" if isinstance(
                    ref, StoredSecret) else ""  # fmt: skip
                found.append(f"{where}: {exc}{hint}")
    if unchecked:
        message = "no secret key to read the stored secrets with (set MLC_SECRET_KEY or " \
                  f"secrets.key_file): {', '.join(unchecked)}"  # fmt: skip
        (found if strict else notes).append(message)
    return found


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
