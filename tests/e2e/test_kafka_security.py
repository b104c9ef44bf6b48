"""The pipeline on a cluster that demands SASL over TLS, as platform teams run Kafka.

A private broker for this module has a SASL_SSL listener (PLAIN and SCRAM users, a
self-signed certificate) beside the PLAINTEXT one its own replication uses. The workers are
given only the SASL_SSL address and the credentials, through the configuration and the
secret store; the test harness looks at the topics over the plain listener.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devkit.embedded import EmbeddedBroker, SaslUsers
from tests.e2e.conftest import vendors_cross_a_secured_cluster

pytestmark = pytest.mark.kafka

PASSWORD = "mlc-kafka-secret-4711"
WRONG = "not-the-password-0815"
VENDORS = 12


@pytest.fixture(scope="module")
def secure_broker() -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(sasl=SaslUsers({"admin": "admin-pw", "mlc": PASSWORD}))
    broker.start(timeout=120)
    try:
        yield broker
    finally:
        broker.stop()


def _security(broker: EmbeddedBroker, mechanism: str) -> dict[str, Any]:
    return {
        "bootstrap_servers": broker.sasl_bootstrap_servers,
        "security": {
            "protocol": "SASL_SSL",
            "tls": {"ca_file": str(broker.tls_ca)},
            "sasl": {"mechanism": mechanism, "username": "mlc",
                     "password": {"secret": "kafka-password"}},
        },
    }  # fmt: skip


def test_pipeline_runs_end_to_end_over_sasl_ssl(
    pipeline_factory: Callable[..., Any], secure_broker: EmbeddedBroker
) -> None:
    given = _security(secure_broker, "SCRAM-SHA-512")
    p = pipeline_factory(
        broker=given.pop("bootstrap_servers"),
        vendors=VENDORS,
        poll_interval=1.0,
        kafka_config=given,
        extra_secrets={"kafka-password": PASSWORD},
        run=False,
    )
    vendors_cross_a_secured_cluster(p, VENDORS, PASSWORD)


def _cli(*args: str, password: str) -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it: its own process, the password in its environment."""
    env = {**os.environ, "MLC_TEST_KAFKA_PASSWORD": password, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "app", *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


def _config_with_env_password(tmp_path: Path, broker: EmbeddedBroker, mechanism: str) -> Path:
    """A config of Kafka alone, its password read from the environment."""
    config = {
        "kafka": {**_security(broker, mechanism), "encoding": "single-object",
                  "topic_prefix": "wrongpw"},
        # Only environment references: no store key is needed.
        "secrets": {"store": str(tmp_path / "secrets.json")},
    }  # fmt: skip
    config["kafka"]["security"]["sasl"]["password"] = {"env": "MLC_TEST_KAFKA_PASSWORD"}
    path = tmp_path / "wrong.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_wrong_sasl_password_is_named_by_ping_and_at_start_up(
    tmp_path: Path, secure_broker: EmbeddedBroker, mechanism: str
) -> None:
    config = _config_with_env_password(tmp_path, secure_broker, mechanism)

    ping = _cli("ping", "-c", str(config), password=WRONG)
    said = ping.stdout + ping.stderr
    assert ping.returncode == 1, said
    assert "kafka" in said and "Authentication failed" in said, said
    assert "Traceback" not in said and WRONG not in said

    start = _cli("run", "producers", "--once", "-c", str(config), password=WRONG)
    said = start.stdout + start.stderr
    assert start.returncode == 1, said
    assert f"kafka at {secure_broker.sasl_bootstrap_servers}" in said, said
    assert "Authentication failed" in said
    assert "Traceback" not in said and WRONG not in said


def test_right_password_pings_kafka_over_sasl_ssl(
    tmp_path: Path, secure_broker: EmbeddedBroker
) -> None:
    config = _config_with_env_password(tmp_path, secure_broker, "SCRAM-SHA-256")
    ping = _cli("ping", "-c", str(config), password=PASSWORD)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert "1 broker(s)" in ping.stdout + ping.stderr
