"""The commands the README gives, run as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "app"]

pytestmark = pytest.mark.kafka


def test_demo_prints_a_complete_summary(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS",)}
    result = subprocess.run(
        [*CLI, "demo", "--flow", "bc-servicenow", "--vendors", "40", "--documents", "60",
         "--poll-interval", "20", "--timeout", "180", "--workdir", str(tmp_path / "d")],
        cwd=ROOT, env={**env, "COLUMNS": "140"}, capture_output=True, text=True, timeout=400,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Kafka (embedded)" in out or "Kafka (testcontainers)" in out
    assert "in target, once" in out
    assert "purchase_invoice" in out and "cost_center" in out  # both directions
    assert "complete" in out and "incomplete" not in out
    for master in ("vendor", "gl_account", "cost_center"):
        assert f"{master} master identical on both sides" in out, out
    assert "within one polling interval (20 s) of being read: yes" in out, out


def test_the_acumatica_demo_prints_a_complete_summary(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS",)}
    result = subprocess.run(
        [*CLI, "demo", "--flow", "acumatica-servicenow", "--vendors", "20", "--documents", "40",
         "--poll-interval", "5", "--timeout", "240", "--workdir", str(tmp_path / "d")],
        cwd=ROOT, env={**env, "COLUMNS": "160"}, capture_output=True, text=True, timeout=400,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Acumatica simulator" in out and "in target, once" in out
    assert "complete" in out and "incomplete" not in out
    for master in ("vendor", "gl_account", "cost_center"):
        assert f"{master} master identical on both sides" in out, out
    for document in ("purchase_order", "purchase_invoice", "payment"):
        assert f"{document} documents agree on both sides" in out, out


def test_the_servicetitan_demo_prints_a_complete_summary(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS",)}
    result = subprocess.run(
        [*CLI, "demo", "--flow", "servicetitan-bc", "--vendors", "5", "--documents", "40",
         "--poll-interval", "5", "--timeout", "240", "--workdir", str(tmp_path / "d")],
        cwd=ROOT, env={**env, "COLUMNS": "160"}, capture_output=True, text=True, timeout=400,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "ServiceTitan simulator" in out and "in target, once" in out
    assert "complete" in out and "incomplete" not in out
    for master in ("customer", "cost_center"):
        assert f"{master} master identical on both sides" in out, out
    for document in ("sales_invoice", "payment"):
        assert f"{document} documents agree on both sides" in out, out
    assert "payment applications per cost center: agree on both sides" in out, out
    # The other direction in the same sandbox: BC items into the pricebook.
    assert "item master identical on both sides" in out, out
    assert "pricebook: 120 of 120 Business Central items pushed" in out, out


def test_kafka_up_prints_a_working_bootstrap_address() -> None:
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    proc = subprocess.Popen(
        [*CLI, "kafka", "up", "--no-registry"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        bootstrap = proc.stdout.readline().strip()
        assert bootstrap.startswith("127.0.0.1:")
        brokers = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).brokers
        assert len(brokers) == 1
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
