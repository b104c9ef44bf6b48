"""Serve a simulator app: in a background thread (tests, demo) or in the foreground.

``serve_in_thread`` binds the socket itself before uvicorn starts, so port 0 yields a free port
that is known before the first request and cannot be taken by someone else in between. With
``tls=True`` both serve HTTPS with a fresh self-signed certificate (``simulators.tls``) whose
path clients pass as ``verify=``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from simulators.tls import TlsFiles, self_signed

_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 10.0


class Served(tuple[str, Callable[[], None]]):
    """``(url, stop)`` as before, plus ``cert_path`` (None over plain HTTP)."""

    cert_path: str | None

    def __new__(cls, url: str, stop: Callable[[], None], cert_path: str | None = None) -> Served:
        served = super().__new__(cls, (url, stop))
        served.cert_path = cert_path
        return served

    @property
    def url(self) -> str:
        return self[0]

    @property
    def stop(self) -> Callable[[], None]:
        return self[1]


def _tls_options(tls: bool | TlsFiles) -> tuple[dict[str, Any], str | None]:
    if tls is False:
        return {}, None
    files = self_signed() if tls is True else tls
    return {"ssl_certfile": files.cert_path, "ssl_keyfile": files.key_path}, files.cert_path


def serve_in_thread(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    tls: bool | TlsFiles = False,
    **uvicorn_options: Any,
) -> Served:
    """Start ``app`` on ``host:port`` in a daemon thread; return (base URL, stop).

    Returns only once the server accepts connections. ``stop`` is idempotent and waits for
    the thread to end. ``tls`` serves HTTPS (True: a new self-signed certificate; its path is
    ``.cert_path`` of the result). ``uvicorn_options`` pass through to ``uvicorn.Config``.
    """
    tls_options, cert_path = _tls_options(tls)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    bound_port = sock.getsockname()[1]

    options: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "lifespan": "off",
        # Without it, a client stuck mid-request would block stop() forever.
        "timeout_graceful_shutdown": 5,
    }
    options.update(tls_options)
    options.update(uvicorn_options)
    server = uvicorn.Server(uvicorn.Config(app, **options))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # noqa: BLE001 - uvicorn exits with SystemExit; surfaced below
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"simulator:{bound_port}", daemon=True)
    thread.start()

    deadline = time.monotonic() + _START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(_STOP_TIMEOUT_S)
            sock.close()
            raise RuntimeError(f"simulator did not start on {host}:{bound_port}") from (
                errors[0] if errors else None
            )
        time.sleep(0.01)

    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        server.should_exit = True
        thread.join(_STOP_TIMEOUT_S)
        sock.close()

    scheme = "https" if options.get("ssl_certfile") else "http"
    url_host = f"[{host}]" if ":" in host else host
    return Served(f"{scheme}://{url_host}:{bound_port}", stop, cert_path)


def run(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    tls: bool | TlsFiles = False,
    on_ready: Callable[[str, str | None], None] | None = None,
    **uvicorn_options: Any,
) -> None:
    """Serve ``app`` in the foreground until interrupted.

    ``on_ready(url, cert_path)`` is called before serving, so a CLI can print where clients
    connect and which certificate they must trust.
    """
    tls_options, cert_path = _tls_options(tls)
    if on_ready is not None:
        scheme = "https" if cert_path else "http"
        url_host = f"[{host}]" if ":" in host else host
        on_ready(f"{scheme}://{url_host}:{port}", cert_path)
    uvicorn.run(app, host=host, port=port, **{**tls_options, **uvicorn_options})
