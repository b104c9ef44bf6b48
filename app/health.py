"""Each worker's own listener: ``/metrics`` (Prometheus), ``/healthz`` (alive) and
``/readyz`` (Kafka reachable, no worker waiting out a peer that refuses everything, and every
loop still coming round).

A plain threaded HTTP server from the standard library: it must answer while the worker's
event loop is busy or stuck, which is exactly when it matters.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.health_ports import OFFSETS as OFFSETS  # where each component listens
from ml_connector import heartbeat
from ml_connector.kafka.clients import admin as admin_client
from ml_connector.metrics import PAUSED

log = logging.getLogger(__name__)

KAFKA_CHECK_SECONDS = 10.0


class Readiness:
    def __init__(self, bootstrap: str) -> None:
        self.admin = admin_client(bootstrap, log_level=0)
        self._checked = 0.0
        self._kafka: str | None = "not checked yet"

    def _kafka_problem(self) -> str | None:
        if time.monotonic() - self._checked > KAFKA_CHECK_SECONDS:
            try:
                self.admin.list_topics(timeout=3)
                self._kafka = None
            except Exception as exc:  # noqa: BLE001 - unreachable, in whatever form
                self._kafka = f"Kafka unreachable: {exc}"
            self._checked = time.monotonic()
        return self._kafka

    def problems(self) -> list[str]:
        found = [p for p in [self._kafka_problem()] if p]
        found += heartbeat.stalled()
        for metric in PAUSED.collect():
            found += [f"{s.labels['worker']} is paused (see its log)"
                      for s in metric.samples if s.value]  # fmt: skip
        return found


def serve(host: str, port: int, readiness: Readiness) -> ThreadingHTTPServer | None:
    """Start the listener in a daemon thread; a port already taken is logged, not fatal."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._answer(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                self._answer(200, b'{"status": "alive"}', "application/json")
            elif self.path == "/readyz":
                found = readiness.problems()
                body = json.dumps({"ready": not found, "problems": found}).encode()
                self._answer(503 if found else 200, body, "application/json")
            else:
                self._answer(404, b'{"error": "no such endpoint"}', "application/json")

        def _answer(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # one line per scrape is noise

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        log.warning("metrics listener not started on %s:%d: %s", host, port, exc)
        return None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    log.info("metrics, /healthz and /readyz on http://%s:%d", host, port)
    return server
