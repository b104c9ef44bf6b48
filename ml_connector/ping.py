"""``ping``: can this connection be used, and if not, what to fix.

Each system contributes its own steps (a cheap authenticated read, the permissions its flows
need) through its registration in ``ml_connector.systems``; what every connection gets alike is
here: reaching the host (DNS, TCP, TLS) and turning each failure into one line that names the
check and the fix. Nothing here prints a secret: errors arrive redacted (``api.errors``) and
secret names, never values, appear in fixes.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from ml_connector.api.errors import (
    ApiError,
    CredentialsRejected,
    NotFound,
    RetryableError,
    UnreadableAnswer,
)
from ml_connector.secrets import SecretError


@dataclass(frozen=True)
class Check:
    check: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Needs:
    """What the flows ask of a connection: the canonical entities they read and write."""

    reads: frozenset[str] = field(default_factory=frozenset)
    writes: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Step:
    """One check of a system's own: ``run`` returns what it found, or raises."""

    check: str
    run: Callable[[], Awaitable[str]]
    fix: str = ""  # what to do when it fails, beyond what the error class suggests


class Missing(Exception):
    """A step found something absent (a role, a version); the message says what."""


async def reach(url: str, verify: bool | str, timeout: float) -> list[Check]:
    """DNS, then an unauthenticated request: any HTTP answer means TCP and TLS work."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return [Check("dns", False, f"{host} does not resolve ({exc.strerror or exc})",
                      "check the host name in the connection's URL")]  # fmt: skip
    address = infos[0][4][0]
    checks = [Check("dns", True, f"{host} is {address}")]
    tls = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
    try:
        async with httpx.AsyncClient(verify=tls, timeout=min(timeout, 15.0)) as client:
            response = await client.get(f"{parts.scheme}://{parts.netloc}/")
    except httpx.ConnectError as exc:
        reason = str(exc) or type(exc).__name__
        if "CERTIFICATE" in reason.upper() or "SSL" in reason.upper():
            return [
                *checks,
                Check(
                    "tls", False, reason, "give the CA bundle as the connection's verify: <path>"
                ),
            ]
        return [
            *checks,
            Check(
                "connect",
                False,
                f"{host}:{port}: {reason}",
                "check the port, firewalls and proxies between here and it",
            ),
        ]
    except httpx.TimeoutException:
        return [
            *checks,
            Check(
                "connect",
                False,
                f"{host}:{port} did not answer in time",
                "check firewalls and proxies between here and it",
            ),
        ]
    except httpx.HTTPError as exc:
        return [*checks, Check("connect", False, f"{host}:{port}: {exc}", "")]
    scheme = "TLS" if parts.scheme == "https" else "plain HTTP"
    return [*checks, Check("connect", True, f"{host}:{port} answers over {scheme} "
                                            f"({response.status_code})")]  # fmt: skip


async def run_steps(steps: Sequence[Step]) -> list[Check]:
    """Each step in order; the first failure ends the list (later ones depend on it)."""
    checks = []
    for step in steps:
        try:
            detail = await step.run()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a line, none a traceback
            checks.append(failed(step, exc))
            break
        checks.append(Check(step.check, True, detail))
    return checks


def failed(step: Step, exc: BaseException) -> Check:
    message = str(exc) or type(exc).__name__
    if isinstance(exc, CredentialsRejected) and "token request" in message:
        return Check("token", False, message, "check the client id and its secret, and that "
                     "the application is granted access")  # fmt: skip
    if isinstance(exc, CredentialsRejected):
        return Check(step.check, False, message, step.fix or
                     "check the user or application's credentials and permissions")  # fmt: skip
    if isinstance(exc, SecretError):
        return Check("secrets", False, message, "store it with: ml-connector secrets set NAME")
    if isinstance(exc, Missing):
        return Check(step.check, False, message, step.fix)
    if isinstance(exc, NotFound):
        return Check(step.check, False, message, step.fix or "check the URL, environment, "
                     "company or tenant in the connection")  # fmt: skip
    if isinstance(exc, UnreadableAnswer):
        return Check(
            step.check,
            False,
            message,
            "something answers in the system's place (a proxy or a login page?)",
        )
    if isinstance(exc, RetryableError):
        return Check(
            step.check,
            False,
            message,
            "the system did not answer usefully; check its status and try again",
        )
    if isinstance(exc, ApiError):
        return Check(step.check, False, message, step.fix)
    return Check(step.check, False, f"{type(exc).__name__}: {message}", step.fix)
