"""Cookie-session login (Acumatica's legacy ``/entity/auth/login``) as an httpx.Auth.

Each session holds one of the licence's API-user seats until it is logged out, so the owner
must call ``logout`` on close; a session the server dropped (timeout, restart) answers 401 and
is re-established once. The session cookies are kept here, not in the client's jar, so a stale
cookie from before a re-login can never ride along.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Mapping

import httpx
from pydantic import SecretStr

from ml_connector.api.auth import bounded
from ml_connector.api.errors import (
    RETRYABLE_STATUS,
    SHOWN_BODY,
    FatalError,
    peer_text,
    raise_for_status,
    redact,
)
from ml_connector.context import CONNECTION
from ml_connector.metrics import TOKENS

log = logging.getLogger(__name__)


class CookieSessionAuth(httpx.Auth):
    def __init__(
        self,
        login_url: str,
        logout_url: str,
        credentials: Mapping[str, str | SecretStr],
    ) -> None:
        self.login_url = login_url
        self.logout_url = logout_url
        self._credentials = dict(credentials)
        self._cookies: dict[str, SecretStr] = {}
        self._lock = asyncio.Lock()
        self.logins = 0

    @property
    def logged_in(self) -> bool:
        return bool(self._cookies)

    def login_request(self) -> httpx.Request:
        body = {
            k: v.get_secret_value() if isinstance(v, SecretStr) else v
            for k, v in self._credentials.items()
        }
        return bounded(httpx.Request("POST", self.login_url, json=body))

    def accept_login(self, response: httpx.Response) -> None:
        # Acumatica answers wrong credentials and a full licence ("API Login Limit") with
        # 500, so only statuses that mean "later" are retried at login.
        if response.status_code in RETRYABLE_STATUS - {500}:
            # Throttled or down: the caller's retry loop waits.
            raise_for_status(response, secrets=self._secrets())
        if response.status_code >= 400:
            raise FatalError(
                f"login at {self.login_url} failed: {response.status_code} {self._shown(response)}",
                status=response.status_code,
            )
        cookies = {c.name: SecretStr(c.value or "") for c in httpx.Cookies(response.cookies).jar}
        if not cookies:
            raise FatalError(f"login at {self.login_url} set no session cookie")
        self._cookies = cookies
        self.logins += 1
        TOKENS.labels(CONNECTION.get(), "session").inc()

    def _secrets(self) -> list[str]:
        return [v.get_secret_value() for v in self._credentials.values()
                if isinstance(v, SecretStr)]  # fmt: skip

    def _shown(self, response: httpx.Response) -> str:
        return redact(peer_text(response), self._secrets())[:SHOWN_BODY]

    def _authorize(self, request: httpx.Request) -> None:
        request.headers["Cookie"] = "; ".join(
            f"{name}={value.get_secret_value()}" for name, value in self._cookies.items()
        )

    def logout_request(self) -> httpx.Request | None:
        """The request ending this session, or None when there is none to end."""
        if not self._cookies:
            return None
        request = bounded(httpx.Request("POST", self.logout_url))
        self._authorize(request)
        self._cookies = {}
        return request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        used: dict[str, SecretStr] | None = None
        for attempt in range(2):
            async with self._lock:
                if attempt and self._cookies is used:
                    self._cookies = {}
                if not self._cookies:
                    login_response = yield self.login_request()
                    await login_response.aread()
                    self.accept_login(login_response)
                used = self._cookies
            self._authorize(request)
            response = yield request
            if response.status_code != 401:
                return
            if not attempt:
                log.info("401 from %s; logging in again once", request.url.host)
