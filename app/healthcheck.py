"""The container's HEALTHCHECK: exit 0 when the worker in this container is ready.

One image runs every worker kind, each on its own health port (``metrics.port`` plus the
kind's offset, ``app.health_ports``), so the check cannot know the port from the image alone.
It asks every port of the configured range instead: the kinds running here are the ports
that answer, and the container is healthy when at least one answers and every one that
answers is ready. That holds for one kind per container and for the supervisor running all
of them alike. It runs every few seconds, so it reads only the config's ``metrics`` section
(with the environment override the workers apply) and imports neither the config models nor
the Kafka client; a test holds it to what the workers read.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from app.health_ports import OFFSETS

# Above the listener's own Kafka probe (3 s), below the HEALTHCHECK's timeout (10 s).
TIMEOUT_SECONDS = 8.0


DEFAULT_PORT = 9400  # metrics.port's default (ml_connector.config.MetricsConfig)
DEFAULT_HOST = "127.0.0.1"


def listener() -> tuple[str, int | None]:
    """(host, base port) of the listeners, from the config the worker reads (MLC_CONFIG)."""
    config = os.environ.get("MLC_CONFIG")
    data = yaml.safe_load(Path(config).read_text(encoding="utf-8")) if config else None
    metrics = (data or {}).get("metrics") or {}
    if not isinstance(metrics, dict):
        raise ValueError(f"{config}: metrics must be a mapping")
    host = os.environ.get("MLC_METRICS_LISTEN_HOST") or metrics.get("listen_host", DEFAULT_HOST)
    port = metrics.get("port", DEFAULT_PORT)
    if port is not None and not isinstance(port, int):
        raise ValueError(f"{config}: metrics.port must be a number")
    return str(host), port


def _reachable(host: str) -> str:
    # A listener bound to every address is reached on loopback from inside the container.
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _ask(url: str) -> tuple[int, str] | None:
    """(status, reasons) of one /readyz, or None where nothing listens."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:
            return answer.status, ""
    except urllib.error.HTTPError as exc:
        try:
            problems = json.loads(exc.read() or b"{}").get("problems", [])
        except ValueError:
            problems = []
        return exc.code, "; ".join(str(p) for p in problems)
    except (urllib.error.URLError, OSError):
        return None


def ports(base: int) -> dict[str, int]:
    """Each worker kind's health port above ``metrics.port``."""
    return {kind: base + offset for kind, offset in OFFSETS.items()}


def check(host: str, listeners: dict[str, int]) -> tuple[bool, list[str]]:
    """(healthy, one line per worker kind that answered, or why none did)."""
    lines: list[str] = []
    healthy, answered = True, False
    for kind, port in listeners.items():
        got = _ask(f"http://{host}:{port}/readyz")
        if got is None:
            continue
        answered = True
        status, reasons = got
        lines.append(f"{kind}: {'ready' if status == 200 else f'not ready ({reasons})'}")
        healthy = healthy and status == 200
    if not answered:
        tried = ", ".join(str(p) for p in listeners.values())
        return False, [f"no health listener answers on {host} (ports {tried})"]
    return healthy, lines


def main() -> int:
    try:
        host, base = listener()
    except Exception as exc:  # noqa: BLE001 - a config the worker could not read either
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if base is None:
        print("unhealthy: metrics.port is null, so no health listener runs", file=sys.stderr)
        return 1
    healthy, lines = check(_reachable(host), ports(base))
    print("\n".join(lines), file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
