"""Authenticators as httpx.Auth classes: each fetches, caches and renews its own credentials.

Tokens are renewed a margin before ``expires_in`` runs out, and once more when a call answers
401 (a token revoked or expired early). Where the grant hands out a refresh token it is used
for renewal; when the refresh is refused (expired chain, revoked) the authenticator logs in
again from scratch. Secrets stay in ``SecretStr`` until the moment they are put on the wire.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from ml_connector.api.errors import (
    RETRYABLE_STATUS,
    SHOWN_BODY,
    CredentialsRejected,
    FatalError,
    UnreadableAnswer,
    peer_text,
    raise_for_status,
    redact,
)
from ml_connector.context import CONNECTION
from ml_connector.metrics import TOKENS

log = logging.getLogger(__name__)

RENEW_MARGIN = 60.0  # seconds before expiry; ServiceTitan's 15 min tokens still get 14 min
# Requests an authenticator makes itself do not inherit the client's timeout: without one,
# a token endpoint that accepts and never answers would freeze every call of the connection.
AUTH_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def bounded(request: httpx.Request) -> httpx.Request:
    request.extensions["timeout"] = AUTH_TIMEOUT.as_dict()
    return request


FormValue = str | SecretStr


def _reveal(form: Mapping[str, FormValue]) -> dict[str, str]:
    return {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in form.items()}


def _token_answer(response: httpx.Response) -> dict[str, Any]:
    """A token answer's JSON, or UnreadableAnswer (retried) when it is junk: a proxy's HTML
    page, an empty or truncated body, an object without an access token."""
    try:
        payload = json.loads(response.content)
    except ValueError:
        payload = None
    token = payload.get("access_token") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or not isinstance(token, str) or not token:
        kind = response.headers.get("Content-Type", "no content type")
        raise UnreadableAnswer(
            f"token endpoint {response.request.url.copy_with(query=None)} answered "
            f"{response.status_code} without an access token ({kind})"
        )
    try:
        float(payload.get("expires_in", 3600))
    except (TypeError, ValueError):
        raise UnreadableAnswer("token answer with an expires_in that is not a number") from None
    return payload


class BasicAuth(httpx.Auth):
    """HTTP Basic with the password kept secret until the header is built (NAV, ServiceNow)."""

    def __init__(self, username: str, password: SecretStr) -> None:
        self.username = username
        self._password = password

    def header(self) -> str:
        raw = f"{self.username}:{self._password.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = self.header()
        yield request


class TokenAuth(httpx.Auth):
    """A bearer token from a token endpoint, cached until shortly before it expires.

    Subclasses declare the login form (and, for grants with refresh tokens, nothing more: a
    ``refresh_token`` in the answer is kept and used for the next renewal).
    """

    def __init__(
        self,
        token_url: str,
        form: Mapping[str, FormValue],
        *,
        extra_headers: Mapping[str, FormValue] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.clock = clock
        self._form = dict(form)
        self._extra_headers = dict(extra_headers or {})
        self._token: SecretStr | None = None
        self._refresh: SecretStr | None = None
        self._expires_at = 0.0
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self.tokens_issued = 0
        self.refreshes = 0
        self.logins = 0

    def _valid(self) -> bool:
        return self._token is not None and self.clock() < self._renew_at

    def _renewable(self) -> bool:
        """Whether a 401 may be cured by a new token (basic auth cannot be)."""
        return True

    def refresh_form(self, refresh_token: SecretStr) -> dict[str, FormValue]:
        form: dict[str, FormValue] = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        for key in ("client_id", "client_secret"):
            if key in self._form:
                form[key] = self._form[key]
        return form

    def token_request(self) -> httpx.Request:
        form = self.refresh_form(self._refresh) if self._refresh is not None else self._form
        return bounded(httpx.Request(
            "POST",
            self.token_url,
            data=_reveal(form),
            headers={"Accept": "application/json"},
        ))  # fmt: skip

    def accept_token(self, response: httpx.Response) -> None:
        """Keep the token from a token answer; raise FatalError when no retry can help.

        A refused refresh drops the refresh token and returns without a token, so the caller
        asks again with the login form.
        """
        if response.status_code in RETRYABLE_STATUS:
            # Throttled or down: the caller's retry loop waits.
            raise_for_status(response, secrets=self._secrets())
        if response.status_code >= 400 and self._refresh is not None:
            log.info("refresh token refused by %s; logging in again", self.token_url)
            self._refresh = None
            return
        if response.status_code >= 400:
            # Token endpoints echo no secrets; the body names the reason (invalid_client ...).
            refused = CredentialsRejected if response.status_code in (400, 401, 403) else FatalError
            raise refused(
                f"token request to {self.token_url} failed: "
                f"{response.status_code} {self.shown(response)}",
                status=response.status_code,
            )
        payload = _token_answer(response)
        grant = "refresh" if self._refresh is not None else "login"
        if self._refresh is not None:
            self.refreshes += 1
        else:
            self.logins += 1
        TOKENS.labels(CONNECTION.get(), grant).inc()
        self._token = SecretStr(str(payload["access_token"]))
        if payload.get("refresh_token"):
            self._refresh = SecretStr(str(payload["refresh_token"]))
        lifetime = float(payload.get("expires_in", 3600))
        now = self.clock()
        self._expires_at = now + lifetime
        # Short-lived tokens (tests, odd servers) still get most of their life.
        self._renew_at = self._expires_at - min(RENEW_MARGIN, lifetime / 4)
        self.tokens_issued += 1

    def _secrets(self) -> list[str]:
        secrets = [v.get_secret_value() for v in self._form.values() if isinstance(v, SecretStr)]
        if self._refresh is not None:
            secrets.append(self._refresh.get_secret_value())
        return secrets

    def shown(self, response: httpx.Response) -> str:
        """What a token answer may show of itself: a peer echoing the form shows no secret."""
        return redact(peer_text(response), self._secrets())[:SHOWN_BODY]

    def expire_now(self) -> None:
        """Forget the access token (the refresh token, if any, is kept for the renewal)."""
        self._token = None

    def _authorize(self, request: httpx.Request) -> None:
        assert self._token is not None
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        request.headers.update(_reveal(self._extra_headers))

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        # Overriding async_auth_flow means reading bodies ourselves (httpx's default flow
        # does it only for auth_flow); token answers are small.
        used: SecretStr | None = None
        for attempt in range(2):
            async with self._lock:
                # Several calls may hit the same revoked token; only the first renews it.
                if attempt and self._token is used:
                    self.expire_now()
                for _ in range(2):  # a refused refresh is followed by one full login
                    if self._valid():
                        break
                    token_response = yield self.token_request()
                    await token_response.aread()
                    self.accept_token(token_response)
                if not self._valid():
                    raise FatalError(f"no usable token from {self.token_url}")
                used = self._token
            self._authorize(request)
            response = yield request
            if response.status_code != 401 or not self._renewable():
                return
            if not attempt:
                log.info("401 from %s; renewing the token once", request.url.host)


class EntraClientCredentials(TokenAuth):
    """Microsoft Entra ID client credentials (Business Central, NAV, F&O)."""

    def __init__(
        self, token_url: str, client_id: str, client_secret: SecretStr, scope: str
    ) -> None:
        super().__init__(
            token_url,
            {"grant_type": "client_credentials", "client_id": client_id,
             "client_secret": client_secret, "scope": scope},
        )  # fmt: skip


class ServiceNowAuth(TokenAuth):
    """OAuth at ``oauth_token.do`` (client credentials or password grant); basic as fallback.

    The client credentials grant works only where an admin enabled it, and the instance then
    answers 401 at the token endpoint: with a user and password configured we fall back to
    basic auth for good rather than failing every call. The password grant returns a refresh
    token, which renews the access token without sending the password again.
    """

    def __init__(
        self,
        instance_url: str,
        *,
        client_id: str | None,
        client_secret: SecretStr | None,
        username: str | None,
        password: SecretStr | None,
        grant: str = "client_credentials",
    ) -> None:
        form: dict[str, FormValue] = {
            "grant_type": grant,
            "client_id": client_id or "",
            "client_secret": client_secret or SecretStr(""),
        }
        if grant == "password":
            if not (username and password):
                raise ValueError("the ServiceNow password grant needs a user and password")
            form |= {"username": username, "password": password}
        super().__init__(instance_url.rstrip("/") + "/oauth_token.do", form)
        self._basic = BasicAuth(username, password) if username and password else None
        self.use_basic = grant == "basic" or client_id is None or client_secret is None
        if self.use_basic and self._basic is None:
            raise ValueError("ServiceNow auth needs client credentials or a user and password")

    def accept_token(self, response: httpx.Response) -> None:
        refused = response.status_code in (400, 401)
        if refused and self._refresh is None and self._basic is not None:
            log.warning("ServiceNow OAuth grant refused; using basic auth")
            self.use_basic = True
            return
        super().accept_token(response)

    def _authorize(self, request: httpx.Request) -> None:
        if self.use_basic:
            assert self._basic is not None
            request.headers["Authorization"] = self._basic.header()
        else:
            super()._authorize(request)

    def _valid(self) -> bool:
        return self.use_basic or super()._valid()

    def _renewable(self) -> bool:
        return not self.use_basic


class ServiceTitanAuth(TokenAuth):
    """Client credentials at auth.servicetitan.io, plus the app key ServiceTitan wants on
    every call (a call without ``ST-App-Key`` is refused even with a valid token)."""

    def __init__(
        self, token_url: str, client_id: str, client_secret: SecretStr, app_key: SecretStr
    ) -> None:
        super().__init__(
            token_url,
            {"grant_type": "client_credentials", "client_id": client_id,
             "client_secret": client_secret},
            extra_headers={"ST-App-Key": app_key},
        )  # fmt: skip


class AcumaticaOAuth(TokenAuth):
    """Acumatica's OAuth password grant; ``offline_access`` brings the refresh token that
    keeps a 30-day chain going without the password (a broken chain logs in again)."""

    def __init__(
        self,
        instance_url: str,
        *,
        client_id: str,
        client_secret: SecretStr,
        username: str,
        password: SecretStr,
        scope: str = "api offline_access",
    ) -> None:
        super().__init__(
            instance_url.rstrip("/") + "/identity/connect/token",
            {"grant_type": "password", "client_id": client_id, "client_secret": client_secret,
             "username": username, "password": password, "scope": scope},
        )  # fmt: skip


__all__ = [
    "AcumaticaOAuth",
    "BasicAuth",
    "EntraClientCredentials",
    "ServiceNowAuth",
    "ServiceTitanAuth",
    "TokenAuth",
    "raise_for_status",
]
