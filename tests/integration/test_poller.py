"""The poll cursor never skips a record that shares its timestamp or commits late."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer

from ml_connector.avro import make_codec
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.clients.servicetitan import ServiceTitanClient
from ml_connector.connections.business_central import BusinessCentralConnection
from ml_connector.connections.servicetitan import ServiceTitanConnection
from ml_connector.kafka.admin import COMPACTED, TopicSpec, ensure_topics
from ml_connector.kafka.clients import producer
from ml_connector.kafka.tasks import NotHolding
from ml_connector.secrets import SecretStore, generate_key
from ml_connector.state import StateStore
from ml_connector.topics import Topics
from producers import servicetitan as servicetitan_source
from producers.business_central import STREAMS, BusinessCentralSource
from producers.poller import Cursor, Poller
from producers.source import StreamSource
from simulators import business_central, servicetitan
from simulators.server import serve_in_thread


@pytest.fixture
def bc_url() -> Iterator[str]:
    options = business_central.BusinessCentralOptions(vendor_count=30, records_per_timestamp=3)
    url, stop = serve_in_thread(business_central.create_app(options))
    yield url
    stop()


def keys_in(bootstrap: str, topic: str) -> list[str]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.partition.eof": True})  # fmt: skip
    c.subscribe([topic])
    keys: list[str] = []
    eof: set[int] = set()
    parts = len(c.list_topics(topic).topics[topic].partitions)
    while len(eof) < parts:
        msg = c.poll(5)
        if msg is None:
            break
        if msg.error():
            eof.add(msg.partition() or 0)
            continue
        keys.append((msg.key() or b"").decode())
    c.close()
    return keys


def make_poller(bootstrap: str, bc_url: str, tmp_path: Path, overlap: float) -> Poller:
    topics = Topics(f"t{uuid.uuid4().hex[:8]}")
    ensure_topics(bootstrap, [TopicSpec(topics.state, 1, COMPACTED),
                              TopicSpec(topics.schemas, 1, COMPACTED),
                              TopicSpec(topics.change("bc", "vendor"), 3)])  # fmt: skip
    store = SecretStore(tmp_path / "s.json", generate_key())
    store.set("bc", "mlc-secret")
    conn = BusinessCentralConnection.model_validate(
        {"system": "business_central", "base_url": bc_url, "tenant": "sim-tenant",
         "environment": "production", "page_size": 7,
         "auth": {"kind": "entra_client_credentials", "client_id": "mlc-client",
                  "token_url": f"{bc_url}/sim-tenant/oauth2/v2.0/token",
                  "client_secret": {"secret": "bc"}}}
    )  # fmt: skip
    return Poller(
        BusinessCentralSource(BusinessCentralClient(conn, store), cost_center_dimension="CC"),
        STREAMS["vendor"],
        connection="bc", topics=topics, codec=make_codec(None, bootstrap, topics.schemas),
        producer=producer(bootstrap), state=StateStore(bootstrap, topics.state),
        overlap=timedelta(seconds=overlap),
    )  # fmt: skip


def add_vendor(bc_url: str, number: str, modified: str) -> str:
    body = {"number": number, "displayName": number, "lastModifiedDateTime": modified}
    r = httpx.post(f"{bc_url}/_sim/entities/vendors", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_ties_and_late_commits_are_read(bootstrap: str, bc_url: str, tmp_path: Path) -> None:
    poller = make_poller(bootstrap, bc_url, tmp_path, overlap=2)
    first = await poller.poll_once()
    assert first.records_read == 30
    cursor = Cursor.from_json((poller.state.load(poller.state_key) or {})["cursor"])
    assert cursor is not None
    at_cursor = cursor.modified_at.isoformat().replace("+00:00", "Z")
    late = (cursor.modified_at - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")

    # A record committed after the poll but stamped with the cursor's own timestamp, and one
    # stamped a second earlier (inside the overlap window): both must be read next time.
    tied = add_vendor(bc_url, "V-TIED", at_cursor)
    stale = add_vendor(bc_url, "V-LATE", late)
    second = await poller.poll_once()
    keys = keys_in(bootstrap, poller.topic)
    assert tied in keys and stale in keys
    assert second.records_read >= 2
    assert len(set(keys)) == 32
    await poller.source.client.aclose()  # type: ignore[attr-defined]


async def test_cursor_survives_a_new_poller(bootstrap: str, bc_url: str, tmp_path: Path) -> None:
    """A restarted producer continues from the stored cursor instead of re-reading all."""
    poller = make_poller(bootstrap, bc_url, tmp_path, overlap=0)
    assert (await poller.poll_once()).records_read == 30
    again = Poller(poller.source, poller.stream, connection="bc",
                   topics=Topics(poller.topic.split(".")[0]), codec=poller.codec,
                   producer=poller.producer, state=poller.state, overlap=timedelta(0))  # fmt: skip
    stats = await again.poll_once()
    assert stats.records_read < 30  # only the records at the cursor's timestamp
    assert stats.totals["polls"] == 2


async def test_a_declared_stream_of_another_system_polls_the_same_way(
    bootstrap: str, tmp_path: Path
) -> None:
    """The poller knows no system: ServiceTitan's declared vendor stream, run by the generic
    reader, keeps a tie committed after the poll as Business Central's does."""
    url, stop = serve_in_thread(servicetitan.create_app(servicetitan.ServiceTitanOptions()))
    topics = Topics(f"t{uuid.uuid4().hex[:8]}")
    ensure_topics(bootstrap, [TopicSpec(topics.state, 1, COMPACTED),
                              TopicSpec(topics.schemas, 1, COMPACTED),
                              TopicSpec(topics.change("st", "vendor"), 3)])  # fmt: skip
    store = SecretStore(tmp_path / "s.json", generate_key())
    store.set("st", "cs1.mlc-secret")
    store.set("key", "ak1.mlc-app-key")
    conn = ServiceTitanConnection.model_validate(
        {"system": "servicetitan", "api_url": url, "tenant_id": "1234567",
         "auth": {"kind": "servicetitan", "token_url": f"{url}/connect/token",
                  "client_id": "cid.mlc-sim", "client_secret": {"secret": "st"},
                  "app_key": {"secret": "key"}}}
    )  # fmt: skip
    source = StreamSource("servicetitan", ServiceTitanClient(conn, store),
                          servicetitan_source.streams(lambda unit: ""),
                          lambda: _named("1234567"))  # fmt: skip
    poller = Poller(source, source.streams["vendor"], connection="st", topics=topics,
                    codec=make_codec(None, bootstrap, topics.schemas), producer=producer(bootstrap),
                    state=StateStore(bootstrap, topics.state), overlap=timedelta(0))  # fmt: skip
    try:
        assert (await poller.poll_once()).records_read == 3  # the seeded vendors
        cursor = Cursor.from_json((poller.state.load(poller.state_key) or {})["cursor"])
        assert cursor is not None
        stamp = cursor.modified_at.isoformat().replace("+00:00", "Z")
        r = httpx.post(f"{url}/_sim/entities/vendors", json={"name": "Tied", "modifiedOn": stamp})
        assert r.status_code == 201, r.text
        tied = str(r.json()["id"])
        second = await poller.poll_once()
        assert tied in keys_in(bootstrap, poller.topic)
        assert second.records_read >= 2  # the tie and the record the cursor points at
    finally:
        await source.aclose()
        stop()


async def _named(name: str) -> str:
    return name


async def test_each_poll_keeps_its_outcome_beside_the_cursor(
    bootstrap: str, bc_url: str, tmp_path: Path
) -> None:
    """What ``status`` shows as the last poll and its result, a failed poll too."""
    poller = make_poller(bootstrap, bc_url, tmp_path, overlap=0)
    await poller.poll_once()
    saved = poller.state.load(poller.state_key) or {}
    assert saved["last_poll"]["error"] is None and saved["last_poll"]["read"] == 30
    cursor = saved["cursor"]

    faults = httpx.put(f"{bc_url}/_sim/faults", json={"error_rate": 1.0, "error_status": 503})
    assert faults.status_code == 200
    with pytest.raises(Exception):  # noqa: B017 - whichever error the client raises for a 503
        await poller.poll_once()
    failed = poller.state.load(poller.state_key) or {}
    assert failed["last_poll"]["error"] and "503" in failed["last_poll"]["error"]
    assert failed["cursor"] == cursor and failed["totals"]["failed_polls"] == 1
    assert failed["totals"]["polls"] == 1  # the failed one is not counted as a poll made

    httpx.put(f"{bc_url}/_sim/faults", json={"error_rate": 0.0})
    await poller.poll_once()
    again = poller.state.load(poller.state_key) or {}
    assert again["last_poll"]["error"] is None and again["totals"]["failed_polls"] == 1
    await poller.source.client.aclose()  # type: ignore[attr-defined]


async def test_a_poll_whose_task_moved_leaves_the_cursor_to_the_new_holder(
    bootstrap: str, bc_url: str, tmp_path: Path
) -> None:
    """A producer instance that no longer holds the task (the group gave it to another) reads
    and produces, but its fence refuses the cursor write: the new holder's cursor stands."""
    poller = make_poller(bootstrap, bc_url, tmp_path, overlap=0)
    assert (await poller.poll_once()).records_read == 30
    saved = poller.state.load(poller.state_key)
    add_vendor(bc_url, "V-AFTER", "2030-01-01T00:00:00Z")

    @contextlib.contextmanager
    def moved() -> Iterator[None]:
        raise NotHolding("task bc-servicenow|bc|vendor is no longer held by this instance")
        yield

    poller.fence = moved
    with pytest.raises(NotHolding):
        await poller.poll_once()
    assert poller.state.load(poller.state_key) == saved  # neither the cursor nor a failure
    await poller.source.client.aclose()  # type: ignore[attr-defined]
