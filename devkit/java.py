"""What the embedded Java services share: the cache, Maven, free ports, the child process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from ml_connector.children import die_with_parent


class JavaServiceError(RuntimeError):
    """An embedded service could not be fetched, built or started; the message says why."""


def cache_root() -> Path:
    """Outside the repository, shared by runs: ``$MLC_CACHE_DIR`` or ``~/.cache/ml-connector``."""
    base = os.environ.get("MLC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "ml-connector"
    )
    return Path(base)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(count: int, attempts: int = 50) -> int:
    """The first of ``count`` consecutive free loopback ports (the workers' listeners sit at
    fixed offsets from one base port)."""
    for _ in range(attempts):
        base = free_port()
        if base + count > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise JavaServiceError(f"no {count} consecutive free ports found")


def java_executable() -> str:
    java = shutil.which("java")
    if java is None:
        raise JavaServiceError("Java 17+ ('java') is needed for the embedded Kafka and registry")
    return java


def run_maven(project: Path, goals: list[str], what: str, settings: Path | None = None) -> None:
    if shutil.which("mvn") is None:
        raise JavaServiceError(f"Maven ('mvn') is needed to fetch {what} but is not on PATH")
    extra = ["-s", str(settings)] if settings else []
    result = subprocess.run(
        ["mvn", "-q", "-B", *extra, "-f", str(project / "pom.xml"), *goals],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise JavaServiceError(f"Maven could not fetch {what}:\n{result.stdout[-3000:]}")


class JavaProcess:
    """A started JVM with its output in a file, stopped politely or killed."""

    def __init__(self, command: list[str], log_file: Path) -> None:
        self.log_file = log_file
        with log_file.open("ab") as out:
            # Its own session keeps a terminal's Ctrl-C from reaching the JVM before the
            # owner's clean stop; dying with the owner keeps a killed run from leaving it behind.
            self.popen = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=die_with_parent,
            )  # fmt: skip

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_ready(
        self, probe: Callable[[], bool], timeout: float, what: str,
        error: type[JavaServiceError] = JavaServiceError,
    ) -> None:  # fmt: skip
        """Poll ``probe`` until it says ready; a probe that raises means "not yet". Fails with
        the log's tail when the process dies or the deadline passes (and stops it then)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise error(f"{what} exited early:\n{self.tail()}")
            try:
                if probe():
                    return
            except Exception:  # noqa: BLE001 - not up yet; the deadline bounds the wait
                pass
            time.sleep(0.3)
        tail = self.tail()
        self.stop()
        raise error(f"{what} was not ready after {timeout:.0f}s:\n{tail}")

    def tail(self, lines: int = 40) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        if self.alive():
            self.popen.kill()
        self.popen.wait()

    def stop(self, timeout: float = 30) -> None:
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
