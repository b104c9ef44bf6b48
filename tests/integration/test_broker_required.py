"""Kafka-backed tests must fail, never skip, when the broker cannot start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_kafka_tests_error_when_the_broker_cannot_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env.update(
        MLC_CACHE_DIR=str(tmp_path / "cache"),  # nothing cached: the jars must be fetched
        MLC_KAFKA_VERSION="0.0.0-does-not-exist",  # ...and Maven Central has no such version
        DOCKER_HOST="unix:///nonexistent/docker.sock",  # and no engine answers
    )
    target = "tests/integration/test_kafka_plumbing.py::test_state_store_keeps_latest_value_per_key"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "1 error" in output, output
    assert "skipped" not in output, output
    assert "Maven could not fetch Kafka 0.0.0-does-not-exist" in output, output
