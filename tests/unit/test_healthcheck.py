"""The image's HEALTHCHECK: ready only when every worker listener in the container says so."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app import health, healthcheck
from devkit.java import free_port, free_ports
from ml_connector.config import load_settings


class _Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/readyz" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def servers() -> Iterator[list[ThreadingHTTPServer]]:
    started: list[ThreadingHTTPServer] = []
    yield started
    for server in started:
        server.shutdown()
        server.server_close()


def _ready_listener(port: int, started: list[ThreadingHTTPServer]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started.append(server)


def _worker_listener_without_kafka(port: int, started: list[ThreadingHTTPServer]) -> None:
    """The workers' own listener, whose Kafka is nowhere: it answers 503 with the reason."""
    server = health.serve("127.0.0.1", port, health.Readiness(f"127.0.0.1:{free_port()}"))
    assert server is not None
    started.append(server)


def test_a_ready_listener_is_healthy(servers: list[ThreadingHTTPServer]) -> None:
    port = free_port()
    _ready_listener(port, servers)
    assert healthcheck.check("127.0.0.1", {"sinks": port}) == (True, ["sinks: ready"])


def test_a_worker_that_cannot_reach_kafka_is_unhealthy_and_says_why(
    servers: list[ThreadingHTTPServer],
) -> None:
    port = free_port()
    _worker_listener_without_kafka(port, servers)
    healthy, [line] = healthcheck.check("127.0.0.1", {"processors": port})
    assert not healthy
    assert line.startswith("processors: not ready (Kafka unreachable")


def test_nothing_listening_is_unhealthy() -> None:
    port = free_port()
    healthy, [line] = healthcheck.check("127.0.0.1", {"producers": port})
    assert not healthy and f"ports {port}" in line


def test_the_ports_come_from_the_config_the_worker_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers: list[ThreadingHTTPServer]
) -> None:
    base = free_ports(len(health.OFFSETS))
    config = tmp_path / "mlc.yaml"
    config.write_text(f"metrics:\n  listen_host: 0.0.0.0\n  port: {base}\n")
    monkeypatch.setenv("MLC_CONFIG", str(config))
    monkeypatch.delenv("MLC_METRICS_LISTEN_HOST", raising=False)
    assert healthcheck.main() == 1  # nothing runs yet
    _ready_listener(base + health.OFFSETS["sinks"], servers)
    assert healthcheck.main() == 0
    # the supervisor's container runs several kinds: one not ready makes it unhealthy
    _worker_listener_without_kafka(base + health.OFFSETS["audit"], servers)
    assert healthcheck.main() == 1


def test_a_config_without_listeners_is_unhealthy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mlc.yaml"
    config.write_text("metrics:\n  port: null\n")
    monkeypatch.setenv("MLC_CONFIG", str(config))
    assert healthcheck.main() == 1
    assert "metrics.port is null" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "env"),
    [
        ("kafka:\n  topic_prefix: x\n", None),
        ("metrics:\n  port: 9500\n", None),
        ("metrics:\n  port: null\n", None),
        ("metrics:\n  listen_host: 10.1.2.3\n  port: 9600\n", None),
        ("metrics:\n  port: 9700\n", "0.0.0.0"),
        ("", "0.0.0.0"),
    ],
)
def test_the_check_finds_the_listeners_where_the_workers_put_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, env: str | None
) -> None:
    """The check reads the metrics section alone (it runs every few seconds); it must land
    where the workers' full config loading does, environment override included."""
    config = tmp_path / "mlc.yaml"
    config.write_text(text)
    monkeypatch.setenv("MLC_CONFIG", str(config))
    if env is None:
        monkeypatch.delenv("MLC_METRICS_LISTEN_HOST", raising=False)
    else:
        monkeypatch.setenv("MLC_METRICS_LISTEN_HOST", env)
    metrics = load_settings(config).metrics
    assert healthcheck.listener() == (metrics.listen_host, metrics.port)
