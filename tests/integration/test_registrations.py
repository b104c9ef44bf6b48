"""Every part that lists systems comes from the registrations: nothing else names them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import typing
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.fernet import Fernet
from starlette.testclient import TestClient
from typer.testing import CliRunner

from ml_connector.config import Settings, parse_settings
from ml_connector.connections.base import ConnectionBase
from ml_connector.secrets import SecretStore
from ml_connector.state import StateStore
from ml_connector.systems import SYSTEMS, system
from producers.receiver import receiver_app
from producers.registry import SOURCES, build_notifiers, build_source
from sinks.registry import TARGETS, build_target
from tests.clients.connections import (
    acumatica_connection,
    bc_connection,
    fo_connection,
    nav_connection,
    sn_connection,
    st_connection,
)

URL = "http://127.0.0.1:9"
PUSH_SECRET = "value-push-secret-long-enough"
ST_HOOK_KEY = "a-servicetitan-webhook-key-of-32-chars+"
# One connection per system, as a user's config declares it (keyed by the tag it must carry).
EXAMPLES: dict[str, Callable[..., ConnectionBase]] = {
    c(URL).system: c
    for c in (bc_connection, sn_connection, nav_connection, fo_connection,
              acumatica_connection, st_connection)
}  # fmt: skip
NAMES = [s.name for s in SYSTEMS]


def as_config(conn: ConnectionBase) -> dict[str, Any]:
    return conn.model_dump(mode="json", exclude_none=True)


def settings_with(
    connections: dict[str, ConnectionBase], flows: dict[str, Any] | None = None
) -> Settings:
    return parse_settings({
        "connections": {n: as_config(c) for n, c in connections.items()},
        "flows": flows or {},
        "webhooks": {"public_url": "https://mlc.example.com"},
    })  # fmt: skip


@pytest.fixture
def secrets(tmp_path: Any) -> SecretStore:
    store = SecretStore(tmp_path / "secrets.json", Fernet.generate_key())
    for name in ("secret", "password", "nav-key", "st-secret", "st-app-key"):
        store.set(name, "value-" + name)
    store.set("push-secret", PUSH_SECRET)
    store.set("st-hook-key", ST_HOOK_KEY)
    return store


def test_the_systems_are_registered_once_each_under_their_tag() -> None:
    assert len(NAMES) == len(set(NAMES)) == 6
    assert set(NAMES) == set(EXAMPLES)
    for s in SYSTEMS:
        assert typing.get_args(s.connection.model_fields["system"].annotation) == (s.name,)
    assert {t.name for t in TARGETS} <= set(NAMES)
    assert {s.name for s in SOURCES} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_the_config_union_is_the_registered_connections(name: str) -> None:
    settings = settings_with({"conn": EXAMPLES[name](URL)})
    assert type(settings.connections["conn"]) is system(name).connection


def test_an_unregistered_system_is_refused_naming_the_registered_ones() -> None:
    data = {"connections": {"x": {"system": "sap", "base_url": URL}}}
    with pytest.raises(Exception) as err:
        parse_settings(data)
    message = str(err.value)
    assert "connections.x.system" in message and "'sap'" in message
    assert all(n in message for n in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_default_rate_limits_come_from_the_registration(name: str) -> None:
    conn = settings_with({"c": EXAMPLES[name](URL)}).connections["c"]
    assert conn.rate_limit is None
    assert conn.rate == system(name).rate_limit
    assert system(name).rate_limit.concurrency is not None  # every system has some cap


def _flow(source: str, target: str, entities: list[str]) -> dict[str, Any]:
    return {"source": source, "target": target, "entities": entities}


@pytest.mark.parametrize("name", NAMES)
def test_sources_are_built_from_the_registrations(name: str, secrets: SecretStore) -> None:
    other = "servicenow" if name != "servicenow" else "business_central"
    registered = next((s for s in SOURCES if s.name == name), None)
    entities = list(registered.entities[:1]) if registered else ["vendor"]
    settings = settings_with(
        {"src": EXAMPLES[name](URL), "dst": EXAMPLES[other](URL)},
        {"f": _flow("src", "dst", entities)},
    )
    if registered is None:
        with pytest.raises(ValueError, match=f"{name} cannot be a source yet"):
            build_source(settings, "f", secrets)
        return
    source = build_source(settings, "f", secrets)
    assert source.system == name
    assert set(registered.entities) <= set(source.streams)


@pytest.mark.parametrize("name", NAMES)
def test_targets_are_built_from_the_registrations(name: str, secrets: SecretStore) -> None:
    settings = settings_with({"dst": EXAMPLES[name](URL)})
    registered = next((t for t in TARGETS if t.name == name), None)
    if registered is None:
        with pytest.raises(ValueError, match=f"{name} cannot be a target yet"):
            build_target(settings, "dst", secrets)
        return
    target = build_target(settings, "dst", secrets)
    assert type(target).__module__ == f"sinks.{name}"
    assert registered.entities


def test_webhook_routes_come_from_the_registrations(secrets: SecretStore, bootstrap: str) -> None:
    notifying = {
        "business_central": bc_connection(URL, webhooks=True),
        "servicenow": sn_connection(URL, push={"secret": {"secret": "push-secret"}}),
        "acumatica": acumatica_connection(URL, push={"secret": {"secret": "push-secret"}}),
        "servicetitan": st_connection(URL, webhooks={"hmac_key": {"secret": "st-hook-key"}}),
    }
    assert {s.name for s in SOURCES if s.notifier is not None} == set(notifying)
    settings = settings_with(
        {**{f"{n}-conn": c for n, c in notifying.items()}, "quiet": bc_connection(URL)},
        {f"f-{n}": _flow(f"{n}-conn", "quiet", [next(s for s in SOURCES if s.name == n)
                                                .entities[0]]) for n in notifying},
    )  # fmt: skip
    state = StateStore(bootstrap, f"registrations-state-{uuid.uuid4().hex[:8]}")
    notifiers = build_notifiers(settings, secrets, state)
    assert set(notifiers) == {(n, f"{n}-conn") for n in notifying}

    written: list[Any] = []
    client = TestClient(receiver_app(notifiers, written.extend))
    handshake = client.get("/webhooks/business_central/business_central-conn",
                           params={"validationToken": "t0k"})  # fmt: skip
    assert (handshake.status_code, handshake.text) == (200, "t0k")
    push = client.post("/webhooks/servicenow/servicenow-conn",
                       json={"table": "sn_shop_invoice", "sys_id": "a" * 32},
                       headers={"X-MLC-Push-Secret": PUSH_SECRET})  # fmt: skip
    assert push.status_code == 202 and written[0].record_id == "a" * 32
    pushed = client.post("/webhooks/acumatica/acumatica-conn",
                         json={"Query": "Vendor", "Inserted": [{"VendorID": "V1"}]},
                         headers={"X-MLC-Push-Secret": PUSH_SECRET})  # fmt: skip
    assert pushed.status_code == 202 and written[1].entity_set == "Vendor"
    event = b'{"eventType": "invoice.created", "data": {"id": 10000001}}'
    digest = hmac.new(ST_HOOK_KEY.encode(), event, hashlib.sha256).digest()
    signature = {"x-servicetitan-signature": base64.b64encode(digest).decode()}
    signed = client.post("/webhooks/servicetitan/servicetitan-conn", content=event,
                         headers=signature)  # fmt: skip
    assert signed.status_code == 202 and written[2].entity_set == "invoices"
    # A connection that does not notify, or a system without notifications, has no route.
    assert client.get("/webhooks/business_central/quiet").status_code == 404
    assert client.post("/webhooks/acumatica/x", json={}).status_code == 404
    too_big = client.post("/webhooks/servicenow/servicenow-conn", content=b"x" * (2 << 20),
                          headers={"X-MLC-Push-Secret": PUSH_SECRET})  # fmt: skip
    assert too_big.status_code == 400 and "larger than" in too_big.text


def test_simulate_offers_exactly_the_registered_systems() -> None:
    from simulators.registry import SIMULATORS

    assert {s.name for s in SIMULATORS} == set(NAMES)
    assert len({s.name for s in SIMULATORS}) == len(SIMULATORS)
    from app.cli import app

    result = CliRunner().invoke(app, ["simulate", "--help"], env={"COLUMNS": "200"})
    assert all(name in result.output for name in NAMES)
    unknown = CliRunner().invoke(app, ["simulate", "sap"])
    assert unknown.exit_code == 2 and all(name in unknown.output for name in NAMES)


def test_the_docs_table_is_the_registrations() -> None:
    from pathlib import Path

    from app.catalogue import markdown_table

    doc = (Path(__file__).resolve().parents[2] / "docs" / "connectors.md").read_text()
    start = doc.index("-->\n", doc.index("<!-- systems table")) + 4
    shown = doc[start : doc.index("<!-- end of systems table -->")]
    assert shown == markdown_table(), "docs/connectors.md's table differs; it should read:\n" + (
        markdown_table()
    )
    for s in SYSTEMS:
        assert f"`{s.name}`" in shown
