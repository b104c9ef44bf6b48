"""What callers authenticate with: the tokens a simulator issues and the Authorization header.

Kept apart from ``base`` so that ``limits`` (which meters per credential) and ``entra`` depend on
it without depending on the app wiring that uses them.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import unquote_plus

from starlette.requests import Request

from simulators.clock import SimClock


@dataclass(frozen=True)
class IssuedToken:
    value: str
    kind: str  # "access" or "refresh"
    subject: str  # client id or user name the token acts for
    issued_at: datetime
    expires_at: datetime
    claims: Mapping[str, str] = field(default_factory=dict)


class TokenStore:
    """Issued bearer/refresh tokens with expiry judged by the simulator's clock."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    def issue(
        self,
        *,
        subject: str,
        lifetime_seconds: float,
        kind: str = "access",
        claims: Mapping[str, str] | None = None,
        render: Callable[[datetime, datetime], str] | None = None,
    ) -> IssuedToken:
        """``render`` lets a simulator shape the token (BC hands out JWTs, ServiceNow opaque)."""
        issued = self._clock.now()
        expires = issued + timedelta(seconds=lifetime_seconds)
        value = render(issued, expires) if render else secrets.token_urlsafe(64)
        token = IssuedToken(value, kind, subject, issued, expires, dict(claims or {}))
        with self._lock:
            self._tokens[value] = token
        return token

    def validate(self, value: str, kind: str = "access") -> IssuedToken | None:
        """The token if known, of ``kind`` and unexpired; None otherwise (caller answers 401)."""
        with self._lock:
            token = self._tokens.get(value)
        if token is None or token.kind != kind or self._clock.now() >= token.expires_at:
            return None
        return token

    def revoke(self, value: str) -> None:
        with self._lock:
            self._tokens.pop(value, None)

    def revoke_all(self) -> int:
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
        return count


def basic_credentials(request: Request) -> tuple[str, str] | None:
    return basic_credentials_from(request.headers.get("authorization", ""))


def basic_credentials_from(authorization: str) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization: Basic ...`` header value, or None."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
    except ValueError:
        return None
    return (user, password) if sep else None


def bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def oauth_client(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """(client_id, client_secret) of an RFC 6749 token request: from the form
    (client_secret_post) when it carries a secret, else from HTTP Basic (client_secret_basic).

    RFC 6749 section 2.3 forbids a client to use both but does not say what the server does;
    the form wins because generic HTTP clients attach a Basic header of user credentials that
    is not client authentication."""
    basic = basic_credentials(request)
    if basic is None or "client_secret" in form:
        return form.get("client_id", ""), form.get("client_secret", "")
    # RFC 6749 2.3.1: both parts are form-urlencoded before they are joined and encoded.
    user, password = (unquote_plus(part) for part in basic)
    return user, password
