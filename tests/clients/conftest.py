"""Fixtures for client tests: a secret store and simulators served over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from ml_connector.secrets import SecretStore, generate_key
from simulators.server import serve_in_thread

SECRETS = {
    "secret": "mlc-secret",
    "password": "mlc-password",
    "wrong": "not-the-secret",
    "nav-key": "mlc-web-service-access-key",
    "st-secret": "cs1.mlc-secret",
    "st-app-key": "ak1.mlc-app-key",
}


@pytest.fixture
def secrets(tmp_path: Path) -> SecretStore:
    store = SecretStore(tmp_path / "secrets.json", generate_key())
    for name, value in SECRETS.items():
        store.set(name, value)
    return store


Serve = Callable[..., str]
ServeHttps = Callable[[Starlette], tuple[str, str]]


@pytest.fixture
def _stops() -> Iterator[list[Callable[[], None]]]:
    stops: list[Callable[[], None]] = []
    yield stops
    for stop in stops:
        stop()


@pytest.fixture
def serve(_stops: list[Callable[[], None]]) -> Serve:
    """``serve(app, **uvicorn_options) -> base URL``; every server stops after the test."""

    def start(app: Starlette, **options: Any) -> str:
        url, stop = serve_in_thread(app, **options)
        _stops.append(stop)
        return url

    return start


@pytest.fixture
def serve_https(_stops: list[Callable[[], None]]) -> ServeHttps:
    """``serve_https(app) -> (https URL, path of its self-signed certificate)``."""

    def start(app: Starlette) -> tuple[str, str]:
        served = serve_in_thread(app, tls=True)
        _stops.append(served.stop)
        assert served.cert_path is not None
        return served.url, served.cert_path

    return start
