"""Ratios measured in one run on this machine; nothing here is asserted.

- codec: change events encoded and decoded per second through AvroCodec (Confluent wire
  format, schema cached), relative to bare fastavro on the same records: the cost of the
  envelope plumbing.
- poll: records per second a poller turns into acknowledged change events, relative to
  reading the same records from the Business Central simulator alone: how much of the
  source's read rate the producer keeps.
- p1: requests per record for bulk loads into each target, the batched sink beside the
  per-record path (``bench/sinks.py``).
- p4, p5: the processors' events per CPU-second against bare copy loops, and their peak
  memory with a backlog (``bench/processors.py``).

``python -m bench`` runs them all; ``python -m bench p4 --events 15000`` runs one.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import time
import uuid
from datetime import timedelta
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import fastavro

import schemas
from bench.processors import bench_p4, bench_p5
from bench.sinks import bench_p1
from devkit.embedded import EmbeddedBroker
from devkit.registry import EmbeddedRegistry
from ml_connector import streams
from ml_connector.avro import AvroCodec, RegistryCatalog
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.connections.business_central import BusinessCentralConnection
from ml_connector.kafka.admin import COMPACTED, TopicSpec, ensure_topics
from ml_connector.kafka.clients import producer
from ml_connector.secrets import SecretStore, generate_key
from ml_connector.state import StateStore
from ml_connector.topics import Topics
from producers.business_central import STREAMS, BusinessCentralSource, vendor
from producers.events import SourceInfo, envelope, parse_timestamp
from producers.poller import Poller
from simulators import business_central
from simulators.server import serve_in_thread

RECORDS = 5000


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def bench_codec(registry_url: str, records: list[dict[str, Any]]) -> None:
    info = SourceInfo("business_central", "bc", None, "vendor")
    events = [envelope(info, native_id=r["id"], after=vendor(r), op="r", native=r,
                       version=r["@odata.etag"], modified_at=parse_timestamp(
                           r["lastModifiedDateTime"]), seen_via="poll")
              for r in records]  # fmt: skip
    parsed = fastavro.parse_schema(schemas.value_schema("vendor"))
    start = time.perf_counter()
    for e in events:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, e)
        buf.seek(0)
        fastavro.schemaless_reader(buf, parsed, parsed)
    bare = rate(len(events), time.perf_counter() - start)
    codec = AvroCodec(RegistryCatalog(registry_url))
    codec.decode("vendor", codec.encode("bench.vendor", "vendor", events[0]))  # warm the cache
    start = time.perf_counter()
    for e in events:
        codec.decode("vendor", codec.encode("bench.vendor", "vendor", e))
    ours = rate(len(events), time.perf_counter() - start)
    print(f"codec: {ours:,.0f} events/s round trip vs bare fastavro {bare:,.0f}/s "
          f"-> ratio {ours / bare:.2f}")  # fmt: skip


async def bench_poll(bootstrap: str, registry_url: str, bc_url: str) -> None:
    store = SecretStore(Path(mkdtemp()) / "s.json", generate_key())
    store.set("bc", "mlc-secret")
    conn = BusinessCentralConnection.model_validate(
        {"system": "business_central", "base_url": bc_url, "tenant": "sim-tenant",
         "environment": "production", "page_size": 1000,
         "auth": {"kind": "entra_client_credentials", "client_id": "mlc-client",
                  "token_url": f"{bc_url}/sim-tenant/oauth2/v2.0/token",
                  "client_secret": {"secret": "bc"}}}
    )  # fmt: skip
    source = BusinessCentralSource(BusinessCentralClient(conn, store), cost_center_dimension="X")
    start = time.perf_counter()
    read = sum([len(page) async for page in streams.read(source.client, STREAMS["vendor"])])
    raw = rate(read, time.perf_counter() - start)
    topics = Topics(f"bench{uuid.uuid4().hex[:6]}")
    ensure_topics(bootstrap, [TopicSpec(topics.state, 1, COMPACTED),
                              TopicSpec(topics.change("bc", "vendor"), 3)])  # fmt: skip
    poller = Poller(source, STREAMS["vendor"], connection="bc", topics=topics,
                    codec=AvroCodec(RegistryCatalog(registry_url)), producer=producer(bootstrap),
                    state=StateStore(bootstrap, topics.state), overlap=timedelta(0))  # fmt: skip
    start = time.perf_counter()
    stats = await poller.poll_once()
    polled = rate(stats.events_produced, time.perf_counter() - start)
    print(f"poll: {polled:,.0f} records/s into Kafka (acknowledged) vs reading the source "
          f"alone {raw:,.0f}/s -> ratio {polled / raw:.2f}")  # fmt: skip
    await source.aclose()


BENCHES = ("codec", "poll", "p1", "p4", "p5")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "benches", nargs="*", metavar="|".join(BENCHES), help="which to run (default: all)"
    )
    parser.add_argument("--records", type=int, default=2_000, help="P1's records per target")
    parser.add_argument("--events", type=int, default=15_000, help="P4's change events")
    parser.add_argument(
        "--backlog",
        type=int,
        default=50_000,
        help="P5's backlog, one key per event (the goal speaks of 1,000,000)",
    )
    args = parser.parse_args()
    chosen = args.benches or BENCHES
    if unknown := set(chosen) - set(BENCHES):
        parser.error(f"unknown bench {', '.join(sorted(unknown))}: expected {', '.join(BENCHES)}")
    options = business_central.BusinessCentralOptions(vendor_count=RECORDS)
    app = business_central.create_app(options)
    bc_url, stop_bc = serve_in_thread(app)
    with EmbeddedBroker() as broker, EmbeddedRegistry() as registry:
        bootstrap = broker.bootstrap_servers
        if "codec" in chosen:
            sim = app.state.sim
            records = [sim.render("vendors", r) for r in
                       sim.rows(sim.default_company_id(), "vendors")]  # fmt: skip
            bench_codec(registry.url, records)
        if "poll" in chosen:
            asyncio.run(bench_poll(bootstrap, registry.url, bc_url))
        if "p1" in chosen:
            bench_p1(bootstrap, registry.url, args.records)
        if "p4" in chosen:
            bench_p4(bootstrap, registry.url, args.events)
        if "p5" in chosen:
            bench_p5(bootstrap, registry.url, args.backlog)
    stop_bc()


if __name__ == "__main__":
    main()
