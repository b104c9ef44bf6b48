"""P4 and P5: the processors against a bare copy of the same bytes, and their peak memory.

Both seed a change topic with distinct vendors (one key each, so the key space grows with the
backlog), run the processors in their own process as ``ml-connector run processors`` would,
and count what reaches the sink topic.

- P4: events routed per CPU-second of the processors' process, beside two loops over the same
  bytes in this process: a confluent-kafka consume -> produce copy, and the same loop with a
  fastavro decode and encode of each value (what the processors cannot do with less).
- P5: the processors' peak resident memory (VmHWM) once the whole backlog is routed.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import Consumer, Producer

import schemas
from ml_connector.avro import codec_for
from ml_connector.config import Settings, parse_settings
from ml_connector.kafka.admin import TopicSpec, ensure_topics
from ml_connector.kafka.clients import consumer, producer

ROOT = Path(__file__).resolve().parents[1]


def config(bootstrap: str, registry_url: str, partitions: int) -> dict[str, Any]:
    auth = {"kind": "entra_client_credentials", "token_url": "https://t/t", "client_id": "c",
            "client_secret": {"secret": "s"}}  # fmt: skip
    return {
        "kafka": {"bootstrap_servers": bootstrap, "schema_registry_url": registry_url,
                  "topic_prefix": f"b{uuid.uuid4().hex[:6]}", "partitions": partitions},
        "connections": {
            "bc": {"system": "business_central", "environment": "p", "auth": auth},
            "sn": {"system": "servicenow", "instance_url": "https://sn.example.com",
                   "auth": {"kind": "servicenow", "client_id": "c",
                            "client_secret": {"secret": "s"}}},
        },
        "flows": {"f": {"source": "bc", "target": "sn", "entities": ["vendor"]}},
    }  # fmt: skip


def vendor_event(i: int) -> dict[str, Any]:
    return {
        "before": None,
        "after": {"number": f"V{i:07d}", "name": f"Vendor {i}", "balance": Decimal("12.5000"),
                  "blocked": False},
        "op": "r",
        "source": {"system": "business_central", "connection": "bc", "company": None,
                   "entity": "vendor", "native_id": f"n{i}", "native_version": "W/1",
                   "modified_at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "seen_via": "poll"},
        "ts_ms": 1,
        "event_id": f"e{i}",
        "native": "{}",
    }  # fmt: skip


def seed(settings: Settings, bootstrap: str, count: int) -> str:
    """``count`` vendor change events, one key each; returns the change topic."""
    from app.pipeline import prepare

    prepare(settings, bootstrap)
    codec = codec_for(settings.kafka, bootstrap)
    change = settings.kafka.topics.change("bc", "vendor")
    p = producer(bootstrap, **{"linger.ms": 50, "batch.num.messages": 10000})
    for i in range(count):
        value = codec.encode(change, "vendor", vendor_event(i))
        while True:
            try:
                p.produce(change, key=f"n{i}".encode(), value=value)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    if p.flush(120) != 0:
        raise RuntimeError("the backlog was not acknowledged")
    return change


@dataclass
class Run:
    events: int
    seconds: float  # first to last routed event
    cpu: float  # the processors' CPU-seconds over the same span
    peak_rss: int  # bytes, the process's high-water mark

    @property
    def per_second(self) -> float:
        return (self.events - 1) / self.seconds if self.seconds else float("inf")

    @property
    def per_cpu_second(self) -> float:
        return (self.events - 1) / self.cpu if self.cpu else float("inf")


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _counter(bootstrap: str, topic: str) -> Consumer:
    c = consumer(bootstrap, f"bench-{uuid.uuid4().hex[:8]}", **{"fetch.wait.max.ms": 50})
    c.subscribe([topic])
    return c


def run_processors(cfg: dict[str, Any], count: int, timeout: float) -> Run:
    """The processors' own process over the backlog, until ``count`` events are routed."""
    settings = parse_settings(cfg)
    bootstrap = settings.kafka.bootstrap_servers or ""
    sink = settings.kafka.topics.sink("sn", "vendor")
    counter = _counter(bootstrap, sink)
    # MLC_BENCH_PROFILE=file: the processors run under cProfile, their stats written there.
    profile = os.environ.get("MLC_BENCH_PROFILE")
    runner = ["-m", "cProfile", "-o", profile] if profile else []
    proc = subprocess.Popen([sys.executable, *runner, "-m", "bench.processors_worker",
                             json.dumps(cfg)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    seen, first, cpu_first = 0, 0.0, 0.0
    deadline = time.monotonic() + timeout
    try:
        while seen < count:
            if proc.poll() is not None:
                raise RuntimeError(f"the processors ended: {(proc.stderr or io.StringIO()).read()}")
            if time.monotonic() > deadline:
                proc.terminate()
                _, errors = proc.communicate(timeout=60)
                raise RuntimeError(f"only {seen} of {count} events routed in {timeout:.0f} s; "
                                   f"the processors said:\n{errors[-5000:]}")  # fmt: skip
            got = [m for m in counter.consume(10000, 0.2) if m.error() is None]
            if got and seen == 0:
                first, cpu_first = time.perf_counter(), _cpu(proc.pid)
            seen += len(got)
        return Run(seen, time.perf_counter() - first, _cpu(proc.pid) - cpu_first,
                   _peak_rss(proc.pid))  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(60)
        counter.close()


def copy_loop(bootstrap: str, source: str, count: int, *, avro: bool) -> Run:
    """Consume ``source`` from the start and produce each value to a new topic, as bytes or
    decoded and encoded again with fastavro; the rates count this process's CPU."""
    target = f"{source}.copy{uuid.uuid4().hex[:6]}"
    ensure_topics(bootstrap, [TopicSpec(target, 3)])
    parsed = fastavro.parse_schema(schemas.value_schema("vendor"))
    c = _counter(bootstrap, source)
    p: Producer = producer(bootstrap)
    seen, first, cpu_first = 0, 0.0, 0.0
    while seen < count:
        batch = [m for m in c.consume(10000, 1.0) if m.error() is None]
        if batch and seen == 0:
            first, cpu_first = time.perf_counter(), time.process_time()
        for m in batch:
            value = m.value() or b""
            if avro:
                header, body = value[:5], io.BytesIO(value[5:])
                record = fastavro.schemaless_reader(body, parsed, parsed)
                out = io.BytesIO()
                out.write(header)
                fastavro.schemaless_writer(out, parsed, record)
                value = out.getvalue()
            while True:
                try:
                    p.produce(target, key=m.key(), value=value)
                    break
                except BufferError:
                    p.poll(0.05)
            p.poll(0)
        seen += len(batch)
    p.flush(120)
    c.close()
    return Run(seen, time.perf_counter() - first, time.process_time() - cpu_first, 0)


def bench_p4(bootstrap: str, registry_url: str, count: int) -> None:
    cfg = config(bootstrap, registry_url, partitions=3)
    settings = parse_settings(cfg)
    change = seed(settings, bootstrap, count)
    raw = copy_loop(bootstrap, change, count, avro=False)
    loop = copy_loop(bootstrap, change, count, avro=True)
    ours = run_processors(cfg, count, timeout=max(120.0, count / 50))
    print(f"P4 processors, {count:,} vendor change events: {ours.per_second:,.0f} events/s, "
          f"{ours.per_cpu_second:,.0f} per CPU-second | confluent-kafka copy "
          f"{raw.per_cpu_second:,.0f} per CPU-second ({raw.per_second:,.0f}/s) | "
          f"confluent-kafka + fastavro loop {loop.per_cpu_second:,.0f} per CPU-second "
          f"({loop.per_second:,.0f}/s) -> ratio {ours.per_cpu_second / raw.per_cpu_second:.3f} "
          f"of raw, {ours.per_cpu_second / loop.per_cpu_second:.3f} of the Avro loop")  # fmt: skip


def bench_p5(bootstrap: str, registry_url: str, count: int) -> None:
    cfg = config(bootstrap, registry_url, partitions=3)
    seed(parse_settings(cfg), bootstrap, count)
    ours = run_processors(cfg, count, timeout=max(600.0, count / 50))
    print(f"P5 processors' peak memory, backlog of {count:,} events (one key each): "
          f"{ours.peak_rss / 2**20:,.0f} MiB ({ours.per_second:,.0f} events/s)")  # fmt: skip
