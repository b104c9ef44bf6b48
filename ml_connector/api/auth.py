"""Authenticators as httpx.Auth classes: each fetches, caches and renews its own token.

Tokens are renewed a margin before ``expires_in`` runs out, and once more when a call answers
401 (a token revoked or expired early). Secrets stay in ``SecretStr`` until the moment they
are put on the wire.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from typing import Any

import httpx
from pydantic import SecretStr

from ml_connector.api.errors import FatalError, raise_for_status

log = logging.getLogger(__name__)

RENEW_MARGIN = 60.0  # seconds before expiry; ServiceTitan's 15 min tokens still get 14 min


class TokenAuth(httpx.Auth):
    """A bearer token from a token endpoint, cached until shortly before it expires."""

    def __init__(self, token_url: str, form: dict[str, str | SecretStr]) -> None:
        self.token_url = token_url
        self._form = form
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.tokens_issued = 0

    def _valid(self) -> bool:
        return self._token is not None and time.monotonic() < self._expires_at - RENEW_MARGIN

    def token_request(self) -> httpx.Request:
        data = {
            k: v.get_secret_value() if isinstance(v, SecretStr) else v
            for k, v in self._form.items()
        }
        return httpx.Request(
            "POST", self.token_url, data=data, headers={"Accept": "application/json"}
        )

    def accept_token(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            # Token endpoints echo no secrets; the body names the reason (invalid_client ...).
            raise FatalError(
                f"token request to {self.token_url} failed: "
                f"{response.status_code} {response.text[:300]}",
                status=response.status_code,
            )
        payload: dict[str, Any] = response.json()
        self._token = str(payload["access_token"])
        self._expires_at = time.monotonic() + float(payload.get("expires_in", 3600))
        self.tokens_issued += 1

    def expire_now(self) -> None:
        self._token = None

    def _authorize(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self._token}"

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        # Overriding async_auth_flow means reading bodies ourselves (httpx's default flow
        # does it only for auth_flow); token answers are small.
        async with self._lock:
            if not self._valid():
                token_response = yield self.token_request()
                await token_response.aread()
                self.accept_token(token_response)
        self._authorize(request)
        response = yield request
        if response.status_code == 401:
            log.info("401 from %s; renewing the token once", request.url.host)
            async with self._lock:
                self.expire_now()
                token_response = yield self.token_request()
                await token_response.aread()
                self.accept_token(token_response)
            self._authorize(request)
            yield request


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
    """OAuth client credentials at ``oauth_token.do``; basic auth where that grant is off.

    The client credentials grant works only where an admin enabled it, and the instance then
    answers 401 at the token endpoint: with a user and password configured we fall back to
    basic auth for good rather than failing every call.
    """

    def __init__(
        self,
        instance_url: str,
        *,
        client_id: str | None,
        client_secret: SecretStr | None,
        username: str | None,
        password: SecretStr | None,
    ) -> None:
        super().__init__(
            instance_url.rstrip("/") + "/oauth_token.do",
            {"grant_type": "client_credentials", "client_id": client_id or "",
             "client_secret": client_secret or ""},
        )  # fmt: skip
        self._basic = (
            httpx.BasicAuth(username, password.get_secret_value())
            if username and password
            else None
        )
        self.use_basic = client_id is None or client_secret is None
        if self.use_basic and self._basic is None:
            raise ValueError("ServiceNow auth needs client credentials or a user and password")

    def accept_token(self, response: httpx.Response) -> None:
        if response.status_code in (400, 401) and self._basic is not None:
            log.warning("ServiceNow client credentials grant refused; using basic auth")
            self.use_basic = True
            return
        super().accept_token(response)

    def _authorize(self, request: httpx.Request) -> None:
        if self.use_basic:
            assert self._basic is not None
            request.headers["Authorization"] = self._basic._auth_header
        else:
            super()._authorize(request)

    def _valid(self) -> bool:
        return self.use_basic or super()._valid()


__all__ = ["EntraClientCredentials", "ServiceNowAuth", "TokenAuth", "raise_for_status"]
