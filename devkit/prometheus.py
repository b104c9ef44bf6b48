"""A throwaway Prometheus (Debian's ``prometheus`` package) scraping given workers.

For the tests that prove the dashboard's queries return data from real scrapes, not from a
text parser of our own. ``make prometheus-server`` installs the package on a fresh machine.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx
import yaml

from devkit.java import JavaProcess, JavaServiceError, free_port


class PrometheusServer:
    """Scrapes ``targets`` (host:port) as one job every ``interval`` seconds."""

    def __init__(self, targets: list[str], job: str, interval: float = 1.0) -> None:
        self.targets, self.job, self.interval = targets, job, interval
        self.workdir = Path(tempfile.mkdtemp(prefix="mlc-prometheus-"))
        self.port = free_port()
        self._process: JavaProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> PrometheusServer:
        binary = shutil.which("prometheus")
        if binary is None:
            raise JavaServiceError("Prometheus is missing: install Debian's prometheus package "
                                   "(make prometheus-server)")  # fmt: skip
        seconds = f"{self.interval:g}s"
        config = {
            "global": {"scrape_interval": seconds, "evaluation_interval": seconds},
            "scrape_configs": [{"job_name": self.job, "static_configs": [
                {"targets": self.targets}]}],
        }  # fmt: skip
        path = self.workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        self._process = JavaProcess(
            [binary, f"--config.file={path}", f"--storage.tsdb.path={self.workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            self.workdir / "prometheus.log",
        )  # fmt: skip
        self._process.wait_ready(
            lambda: httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200,
            timeout, "Prometheus",
        )  # fmt: skip
        return self

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector ``expr`` evaluates to now (an empty list: no data)."""
        r = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = r.json()
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus refused {expr!r}: {body.get('error') or r.text}")
        return list(body["data"]["result"])

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
