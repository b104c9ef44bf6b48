"""docker-compose.yml is what users start; a compose implementation must accept it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
WORKERS = ("producers", "processors", "sinks", "audit", "webhooks")


def _compose_command() -> list[str]:
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False) \
        if shutil.which("docker") else None  # fmt: skip
    if plugin is not None and plugin.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise AssertionError("neither `docker compose` nor `docker-compose` is installed")


def _config(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")}
    return subprocess.run(
        [*_compose_command(), "-f", str(COMPOSE), "config", *args],
        cwd=ROOT, env={**environ, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The services as the compose implementation reads them: anchors merged, variables set."""
    result = _config(MLC_SECRET_KEY="test-key")
    assert result.returncode == 0, result.stdout + result.stderr
    services: dict[str, Any] = yaml.safe_load(result.stdout)["services"]
    return services


def test_compose_file_is_accepted() -> None:
    result = _config("-q", MLC_SECRET_KEY="test-key")
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_refuses_to_start_without_the_store_key() -> None:
    result = _config("-q")
    assert result.returncode != 0 and "MLC_SECRET_KEY" in result.stderr


def _published(port: Any) -> tuple[str, str]:
    """(host address, host port) of one published port, in short or long syntax."""
    if isinstance(port, dict):
        return port.get("host_ip", "0.0.0.0"), str(port["published"])
    parts = str(port).split("/")[0].split(":")
    return (parts[0], parts[1]) if len(parts) == 3 else ("0.0.0.0", parts[0])


def test_every_port_is_published_on_loopback_by_default(resolved: dict[str, Any]) -> None:
    published = {name: [_published(p) for p in s.get("ports", [])] for name, s in resolved.items()}
    assert published["kafka"] == [("127.0.0.1", "29092")]
    assert published["schema-registry"] == [("127.0.0.1", "8081")]
    assert published["webhooks"] == [("127.0.0.1", "8088")]
    assert {host for ports in published.values() for host, _ in ports} == {"127.0.0.1"}


def test_the_webhook_port_can_be_opened_on_purpose() -> None:
    result = _config(MLC_SECRET_KEY="k", MLC_WEBHOOKS_PUBLISH="0.0.0.0")
    assert result.returncode == 0, result.stderr
    [port] = yaml.safe_load(result.stdout)["services"]["webhooks"]["ports"]
    assert _published(port) == ("0.0.0.0", "8088")


def test_every_service_a_worker_waits_for_is_healthy_first(resolved: dict[str, Any]) -> None:
    for worker in WORKERS:
        service = resolved[worker]
        assert service["healthcheck"]["test"] == ["CMD", "python", "-m", "app.healthcheck"]
        assert set(service["depends_on"]) == {"kafka", "schema-registry"}
        for needed, how in service["depends_on"].items():
            assert how["condition"] == "service_healthy", (worker, needed)
            assert resolved[needed]["healthcheck"]["test"], needed


def test_the_workers_see_the_example_configs_paths_where_the_image_keeps_them(
    resolved: dict[str, Any],
) -> None:
    """The example config's relative paths resolve under the image's WORKDIR: config/ is the
    read-only mount, data/ the audit worker's writable volume (the image's VOLUME)."""
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    [workdir] = {line.split()[1] for line in dockerfile if line.startswith("WORKDIR /app")}
    assert 'VOLUME ["/app/data"]' in dockerfile
    example = yaml.safe_load((ROOT / "config/ml-connector.example.yaml").read_text())
    assert example["secrets"]["store"].startswith("config/")
    assert example["audit"]["database"].startswith("data/")
    for worker in WORKERS:
        service = resolved[worker]
        config = service["environment"]["MLC_CONFIG"]
        assert config == "config/ml-connector.yaml"
        mounts = {v.split(":")[1]: v for v in service["volumes"]}
        assert mounts[f"{workdir}/config"].endswith(":ro")
    assert "audit-data" in resolved["audit"]["volumes"][1].split(":")[0]
    assert resolved["audit"]["volumes"][1].split(":")[1] == f"{workdir}/data"
    assert resolved["webhooks"]["environment"]["MLC_WEBHOOKS_LISTEN_HOST"] == "0.0.0.0"


def test_compose_declares_kafka_registry_and_every_worker() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {"kafka", "schema-registry", *WORKERS} <= set(services)
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    for worker in WORKERS:
        assert services[worker]["command"] == ["run", worker]
