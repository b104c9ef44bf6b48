"""``ml-connector ui``: a small status page for people who would rather look than read.

It samples the same status ``ml-connector status`` prints (read from Kafka, so it shows the
whole deployment, not one worker) every few seconds, keeps a bounded history in memory, and
serves one self-contained page (no script or style from elsewhere: it works air-gapped) that
draws flows and entities as a table and lag, throughput and dead letters over time as charts.
``/api/status`` serves the same numbers as JSON.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from app.status import Status, status
from ml_connector.config import Settings

log = logging.getLogger(__name__)

PAGE = Path(__file__).with_name("ui.html")
KEEP = 720  # samples: an hour at the default 5 s


@dataclass
class Sample:
    at: float  # epoch seconds
    lag: dict[str, int]  # consumer group -> records not committed past
    read: dict[str, int]  # "flow connection entity" -> records read so far
    dead: dict[str, int]  # target -> records in its DLQ

    @classmethod
    def of(cls, found: Status, at: float) -> Sample:
        return cls(
            at,
            {g.group: g.lag for g in found.groups},
            {f"{s.flow} {s.connection} {s.entity}": s.records_read for s in found.streams},
            {t.target: t.dead for t in found.targets},
        )


@dataclass
class History:
    """The latest status and the samples before it, filled by a daemon thread."""

    settings: Settings
    bootstrap: str
    every: float = 5.0
    samples: deque[Sample] = field(default_factory=lambda: deque(maxlen=KEEP))
    latest: Status | None = None
    error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        try:
            found = status(self.settings, self.bootstrap)
        except Exception as exc:  # noqa: BLE001 - Kafka away: the page says so, keeps its charts
            with self._lock:
                self.error = f"cannot read the status from Kafka at {self.bootstrap}: {exc}"
            return
        with self._lock:
            self.latest, self.error = found, None
            self.samples.append(Sample.of(found, time.time()))

    def start(self) -> History:
        def loop() -> None:
            while not self._stop.is_set():
                self.sample()
                self._stop.wait(self.every)

        threading.Thread(target=loop, name="ui-sampler", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "error": self.error,
                "status": self.latest.to_json() if self.latest else None,
                "history": [vars(s) for s in self.samples],
            }


def ui_app(history: History) -> Starlette:
    page = PAGE.read_text()

    async def index(_: Request) -> HTMLResponse:
        return HTMLResponse(page)

    async def api(_: Request) -> JSONResponse:
        return JSONResponse(history.to_json())

    return Starlette(routes=[Route("/", index), Route("/api/status", api)])
