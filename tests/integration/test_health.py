"""Each worker's listener: Prometheus metrics, liveness, and readiness that says why not."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.health import Readiness, serve
from devkit.java import free_port
from ml_connector import heartbeat
from ml_connector.audit import AuditLog
from ml_connector.kafka.clients import producer
from ml_connector.metrics import PAUSED

pytestmark = pytest.mark.kafka


@pytest.fixture
def listener(bootstrap: str) -> Iterator[str]:
    port = free_port()
    server = serve("127.0.0.1", port, Readiness(bootstrap))
    assert server is not None
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def test_metrics_count_what_the_audit_trail_records(listener: str, bootstrap: str) -> None:
    kafka = producer(bootstrap)
    audit = AuditLog(kafka, "mlc.audit.health-test", "sinks")
    for _ in range(3):
        audit.emit("written", connection="sn-health", entity="vendor", record_id="v1")
    kafka.flush(10)
    text = httpx.get(f"{listener}/metrics").text
    assert ('mlc_records_total{component="sinks",connection="sn-health",entity="vendor",'
            'stage="written"} 3.0') in text  # fmt: skip
    assert httpx.get(f"{listener}/healthz").status_code == 200


def test_readiness_flips_when_kafka_is_away_a_worker_is_paused_or_a_loop_stalls(
    listener: str,
) -> None:
    ready = httpx.get(f"{listener}/readyz")
    assert ready.status_code == 200 and ready.json() == {"ready": True, "problems": []}
    PAUSED.labels("sink sn-health").set(1)
    try:
        paused = httpx.get(f"{listener}/readyz")
        assert paused.status_code == 503
        assert "sink sn-health is paused" in " ".join(paused.json()["problems"])
    finally:
        PAUSED.labels("sink sn-health").set(0)
    assert httpx.get(f"{listener}/readyz").status_code == 200

    # A loop that stopped coming round: not ready, naming it; ended on purpose: ready again.
    heartbeat.beat("sink sn-health", within=-1.0)  # overdue at once
    try:
        stuck = httpx.get(f"{listener}/readyz")
        assert stuck.status_code == 503
        assert "sink sn-health has not come round" in " ".join(stuck.json()["problems"])
    finally:
        heartbeat.forget("sink sn-health")
    assert httpx.get(f"{listener}/readyz").status_code == 200

    away = Readiness(f"127.0.0.1:{free_port()}")  # nothing listens there
    assert any("Kafka unreachable" in p for p in away.problems())


def test_a_taken_port_is_reported_not_fatal(
    bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    first = serve("127.0.0.1", port, Readiness(bootstrap))
    assert first is not None
    assert serve("127.0.0.1", port, Readiness(bootstrap)) is None
    assert "metrics listener not started" in caplog.text
    first.shutdown()
