"""Logging for every process: JSON lines for files and collectors, readable text on a terminal.

Every line names its component (producers, sinks, ...) and the connection its loop acts for,
so the supervisor's interleaved children and a worker's flows stay apart; third-party
libraries speak at warning and above only, and nothing writes terminal escape codes into a
file.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from ml_connector.context import CONNECTION

LEVELS = ("debug", "info", "warning", "error")
NOISY = ("httpx", "httpcore", "faust", "aiokafka", "kafka", "mode", "uvicorn", "urllib3",
         "asyncio", "rocksdict", "venusian")  # fmt: skip


class _Stderr(logging.StreamHandler):
    """Whatever ``sys.stderr`` is when a line is written (a test runner swaps it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


class _Component(logging.Filter):
    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def filter(self, record: logging.LogRecord) -> bool:
        record.component = self.component
        if not hasattr(record, "connection"):
            # The connection the loop that logged acts for ("-" outside any: start-up, CLI).
            acting = CONNECTION.get()
            record.connection = "-" if acting == "?" else acting
        return True


def setup(level: str = "info", *, component: str = "cli", fmt: str | None = None) -> None:
    """``fmt``: json, text, or None for text on a terminal and JSON elsewhere (MLC_LOG_FORMAT
    overrides)."""
    chosen = fmt or os.environ.get("MLC_LOG_FORMAT") or ("text" if sys.stderr.isatty() else "json")
    handler = _Stderr()
    formatter: logging.Formatter
    if chosen == "json":
        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(component)s %(connection)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "asctime": "time", "name": "logger"},
        )
    else:
        formatter = logging.Formatter(
            "%(asctime)s %(levelname)-7s %(component)s %(connection)s %(name)s: %(message)s"
        )
    handler.setFormatter(formatter)
    handler.addFilter(_Component(component))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in NOISY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def context(**fields: Any) -> dict[str, Any]:
    """``extra=`` for a log call: fields that land as keys of the JSON line."""
    return {k: v for k, v in fields.items() if v is not None}
