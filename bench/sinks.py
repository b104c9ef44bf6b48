"""P1: requests per record for bulk loads into each target, batched beside one at a time.

Each case seeds a sink topic with distinct records (one key each, a bulk load), runs the sink
runner over it against the target's simulator until every record is settled, and counts the
API calls the simulator served (token requests left out). The same records then go through the
same runner with the target's batch write hidden, so it loops over its single-record write:
the per-record path, side by side in the same run. Goal: <= 0.02 requests per record where
the API batches (ServiceNow insertMultiple, Business Central $batch).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

from starlette.applications import Starlette

from bench.processors import vendor_event
from ml_connector.audit import AuditLog
from ml_connector.avro import AvroCodec, RegistryCatalog
from ml_connector.clients.business_central import BusinessCentralClient
from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.connections.business_central import BusinessCentralConnection
from ml_connector.connections.servicenow import ServiceNowConnection
from ml_connector.kafka.admin import COMPACTED, TopicSpec, ensure_topics
from ml_connector.kafka.clients import consumer, producer
from ml_connector.secrets import SecretStore, generate_key
from ml_connector.state import StateStore
from ml_connector.topics import Topics
from simulators import business_central, servicenow
from simulators.server import serve_in_thread
from sinks.base import Target
from sinks.batching import OneAtATime
from sinks.business_central import BusinessCentralTarget
from sinks.holding import HeldKeys
from sinks.runner import SinkRunner, Tier
from sinks.servicenow import ServiceNowTarget


def _secrets() -> SecretStore:
    store = SecretStore(Path(mkdtemp()) / "s.json", generate_key())
    store.set("secret", "mlc-secret")
    store.set("password", "mlc-password")
    return store


def _servicenow(url: str, secrets: SecretStore) -> Target:
    conn = ServiceNowConnection.model_validate(
        {"system": "servicenow", "instance_url": url,
         "auth": {"kind": "servicenow", "username": "mlc.integration",
                  "password": {"secret": "password"}, "grant": "client_credentials",
                  "client_id": "mlc-client", "client_secret": {"secret": "secret"}}}
    )  # fmt: skip
    return ServiceNowTarget(ServiceNowClient(conn, secrets))


def _business_central(url: str, secrets: SecretStore) -> Target:
    conn = BusinessCentralConnection.model_validate(
        {"system": "business_central", "base_url": url, "tenant": "sim-tenant",
         "environment": "production",
         "auth": {"kind": "entra_client_credentials", "client_id": "mlc-client",
                  "token_url": f"{url}/sim-tenant/oauth2/v2.0/token",
                  "client_secret": {"secret": "secret"}}}
    )  # fmt: skip
    client = BusinessCentralClient(conn, secrets)
    return BusinessCentralTarget(client, cost_center_dimension="COSTCENTER", cost_center_shortcut=2)


def order_event(i: int, run: str) -> dict[str, Any]:
    """A ServiceNow purchase order naming what the BC simulator's seed holds."""
    line = {
        "line_number": 1,
        "line_type": "account",
        "item_number": None,
        "account_number": "60100",
        "description": "paper",
        "quantity": Decimal(3),
        "unit_cost": Decimal("10.5"),
        "cost_center": "CC200",
        "amount": Decimal("31.5"),
    }
    doc = {
        "number": f"{run}{i:06d}",
        "vendor_number": "V00020",
        "vendor_ref": None,
        "order_date": date(2024, 2, 1),
        "currency": "USD",
        "status": "ordered",
        "cost_center": "CC200",
        "total_excluding_tax": Decimal("31.5"),
        "total_including_tax": None,
        "lines": [line],
    }
    return {"before": None, "after": doc, "op": "c",
            "source": {"system": "servicenow", "connection": "sn", "company": None,
                       "entity": "purchase_order", "native_id": f"{run}{i}",
                       "native_version": "1",
                       "modified_at": datetime(2024, 1, 2, tzinfo=UTC), "seen_via": "poll"},
            "ts_ms": 1, "event_id": f"{run}e{i}", "native": "{}"}  # fmt: skip


@dataclass(frozen=True)
class Case:
    name: str  # "ServiceNow, vendors"
    target_name: str
    entity: str
    app: Callable[[], Starlette]
    target: Callable[[str, SecretStore], Target]
    event: Callable[[int, str], dict[str, Any]]


CASES = (
    Case("ServiceNow, vendors", "sn", "vendor",
         lambda: servicenow.create_app(servicenow.ServiceNowOptions()), _servicenow,
         lambda i, run: vendor_event(i) | {"event_id": f"{run}{i}"}),
    Case("Business Central, purchase orders", "bc", "purchase_order",
         lambda: business_central.create_app(business_central.BusinessCentralOptions()),
         _business_central, order_event),
)  # fmt: skip


@dataclass
class Load:
    records: int
    requests: int
    seconds: float
    written: int

    @property
    def per_record(self) -> float:
        return self.requests / self.records

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else float("inf")


def _requests(app: Starlette) -> int:
    counts = app.state.sim.requests.counts()
    return sum(n for (_, route), n in counts.items() if "token" not in (route or ""))


async def _load(bootstrap: str, codec: AvroCodec, case: Case, count: int, batched: bool) -> Load:
    app = case.app()
    url, stop = serve_in_thread(app)
    run = f"b{uuid.uuid4().hex[:6]}"
    topics = Topics(run)
    sink = topics.sink(case.target_name, case.entity)
    tier = Tier("30s", topics.retry(case.target_name, "30s"), timedelta(seconds=30))
    ensure_topics(bootstrap, [TopicSpec(sink, 3), TopicSpec(tier.topic, 3),
                              TopicSpec(topics.dlq(case.target_name), 1),
                              TopicSpec(topics.audit, 1),
                              TopicSpec(topics.state, 1, COMPACTED)])  # fmt: skip
    kafka = producer(bootstrap, **{"linger.ms": 20})
    for i in range(count):
        value = codec.encode(sink, case.entity, case.event(i, run))
        kafka.produce(sink, key=f"{run}{i}".encode(), value=value)
        kafka.poll(0)
    kafka.flush(60)
    target = case.target(url, _secrets())
    runner = SinkRunner(
        consumer=consumer(bootstrap, topics.sink_group(case.target_name),
                          **{"partition.assignment.strategy": "range"}),
        producer=kafka, codec=codec, target=target if batched else OneAtATime(target),
        target_name=case.target_name, topics={sink: case.entity}, tiers=[tier],
        dlq_topic=topics.dlq(case.target_name), group=topics.sink_group(case.target_name),
        held=HeldKeys(StateStore(bootstrap, topics.state, kafka), case.target_name),
        audit=AuditLog(kafka, topics.audit, "sinks"),
    )  # fmt: skip
    task = asyncio.create_task(runner.run())
    s = runner.stats
    started = None
    while s.written + s.dead + s.retried < count:
        if task.done():
            task.result()
        if started is None and (s.written or s.dead):
            started = time.perf_counter()  # the first write includes the once-off look-ups
        await asyncio.sleep(0.05)
    seconds = time.perf_counter() - (started or time.perf_counter())
    requests = _requests(app)
    runner.stop()
    await task
    await target.aclose()
    stop()
    return Load(count, requests, seconds, s.written)


def bench_p1(bootstrap: str, registry_url: str, count: int,
             cases: Sequence[Case] = CASES) -> None:  # fmt: skip
    codec = AvroCodec(RegistryCatalog(registry_url))
    load = os.getloadavg()
    print(f"P1 (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}): requests per record "
          f"for {count} records")  # fmt: skip
    for case in cases:
        batched = asyncio.run(_load(bootstrap, codec, case, count, batched=True))
        single = asyncio.run(_load(bootstrap, codec, case, count, batched=False))
        print(f"  {case.name}: batched {batched.per_record:.3f} requests/record "
              f"({batched.requests} requests, {batched.per_second:,.0f} records/s, "
              f"{batched.written} written) vs one at a time {single.per_record:.3f} "
              f"({single.requests} requests, {single.per_second:,.0f} records/s) -> "
              f"{single.per_record / batched.per_record:.0f}x fewer requests, "
              f"goal <= 0.02: {'met' if batched.per_record <= 0.02 else 'not met'}")  # fmt: skip
