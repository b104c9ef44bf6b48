"""docker-compose.yml is what users start; a compose implementation must accept it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def _compose_command() -> list[str]:
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False) \
        if shutil.which("docker") else None  # fmt: skip
    if plugin is not None and plugin.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise AssertionError("neither `docker compose` nor `docker-compose` is installed")


def test_compose_file_is_accepted() -> None:
    env = {**os.environ, "MLC_SECRET_KEY": "test-key"}
    result = subprocess.run(
        [*_compose_command(), "-f", str(COMPOSE), "config", "-q"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_declares_kafka_registry_and_every_worker() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {"kafka", "schema-registry", "producers", "processors", "sinks", "audit"} <= set(
        services
    )
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    for worker in ("producers", "processors", "sinks", "audit"):
        assert services[worker]["command"] == ["run", worker]
