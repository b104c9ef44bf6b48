"""Acumatica sign-in: the OAuth 2.0 server built into each instance and legacy cookie sessions.

OAuth (``POST /identity/connect/token``): the resource-owner password grant with a client id
of the form ``{guid}@{tenant}``; ``offline_access`` adds a refresh token, and refreshing
rotates it while the chain as a whole ends 30 days after the password grant.

Legacy (``POST /entity/auth/login`` / ``logout``): a session cookie that idles out, and each
open session takes one of the licence's API users, so a client that never logs out runs into
"API Login Limit".
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from simulators.acumatica.store import AcumaticaStore, acumatica_error
from simulators.base import BadJson, read_form, read_json
from simulators.credentials import bearer_token

if TYPE_CHECKING:
    from simulators.acumatica.options import AcumaticaOptions

SESSION_COOKIE = ".ASPXAUTH"


@dataclass
class Session:
    id: str
    user: str
    branch: str
    last_seen: datetime


def _oauth_error(error: str, description: str | None = None) -> JSONResponse:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return JSONResponse(body, 400)


class AcumaticaAuth:
    def __init__(self, store: AcumaticaStore, options: AcumaticaOptions) -> None:
        self.store = store
        self.options = options
        self.sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    # -- OAuth ---------------------------------------------------------------------------

    def _client_ok(self, form: dict[str, str]) -> bool:
        client, _, tenant = form.get("client_id", "").partition("@")
        return (
            client.lower() == self.options.client_id.lower()
            and tenant == self.options.tenant
            and form.get("client_secret") == self.options.client_secret
        )

    async def token(self, request: Request) -> Response:
        form = await read_form(request)
        grant = form.get("grant_type", "")
        if grant not in ("password", "refresh_token"):
            return _oauth_error("unsupported_grant_type")
        if not self._client_ok(form):
            return _oauth_error("invalid_client")
        now = self.store.clock.now()
        if grant == "password":
            scopes = form.get("scope", "").split()
            if not scopes or not set(scopes) <= {"api", "offline_access", "api:concurrent_access"}:
                return _oauth_error("invalid_scope")
            user = form.get("username", "")
            if (user, form.get("password")) != (self.options.username, self.options.password):
                return _oauth_error("invalid_grant", "invalid_username_or_password")
            chain_end = now + timedelta(seconds=self.options.refresh_chain_seconds)
            return self._issue(user, scopes, chain_end)
        presented = form.get("refresh_token", "")
        refresh = self.store.tokens.validate(presented, "refresh")
        if refresh is None:
            return _oauth_error("invalid_grant")
        self.store.tokens.revoke(presented)  # one-time use: each refresh rotates the token
        scopes = refresh.claims.get("scope", "api offline_access").split()
        return self._issue(
            refresh.subject, scopes, datetime.fromisoformat(refresh.claims["chain_end"])
        )

    def _issue(self, user: str, scopes: list[str], chain_end: datetime) -> Response:
        lifetime = self.options.token_lifetime_seconds
        access = self.store.tokens.issue(subject=user, lifetime_seconds=lifetime)
        body: dict[str, object] = {
            "access_token": access.value,
            "expires_in": lifetime,
            "token_type": "Bearer",
            "scope": " ".join(scopes),
        }
        remaining = (chain_end - self.store.clock.now()).total_seconds()
        if "offline_access" in scopes and remaining > 0:
            refresh = self.store.tokens.issue(
                subject=user,
                kind="refresh",
                lifetime_seconds=remaining,
                claims={"chain_end": chain_end.isoformat(), "scope": " ".join(scopes)},
            )
            body["refresh_token"] = refresh.value
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    # -- legacy sessions -----------------------------------------------------------------

    def _live(self) -> list[Session]:
        cutoff = self.store.clock.now() - timedelta(seconds=self.options.session_timeout_seconds)
        with self._lock:
            for sid in [s.id for s in self.sessions.values() if s.last_seen < cutoff]:
                del self.sessions[sid]
            return list(self.sessions.values())

    async def login(self, request: Request) -> Response:
        try:
            body = await read_json(request)
        except BadJson:
            body = None
        if not isinstance(body, dict):
            return acumatica_error(400, "The request body must be a JSON object.")
        tenant = body.get("tenant") or self.options.tenant
        credentials = (body.get("name"), body.get("password"), tenant)
        if credentials != (self.options.username, self.options.password, self.options.tenant):
            return acumatica_error(500, "Invalid credentials. Please try again.")
        if len(self._live()) >= self.options.max_api_sessions:
            # The licence's API users are all signed in (sessions that never logged out).
            return acumatica_error(500, "API Login Limit")
        session = Session(
            secrets.token_hex(32),
            str(body["name"]),
            str(body.get("branch") or self.options.default_branch),
            self.store.clock.now(),
        )
        with self._lock:
            self.sessions[session.id] = session
        response = Response(status_code=204)
        response.set_cookie(SESSION_COOKIE, session.id, path="/", httponly=True)
        response.set_cookie("ASP.NET_SessionId", secrets.token_hex(12), path="/", httponly=True)
        response.set_cookie("UserBranch", session.branch, path="/")
        response.set_cookie("Locale", "TimeZone=GMTE0000U&Culture=en-US", path="/")
        return response

    async def logout(self, request: Request) -> Response:
        sid = request.cookies.get(SESSION_COOKIE)
        with self._lock:
            self.sessions.pop(sid or "", None)
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- every API call ------------------------------------------------------------------

    def user_of(self, request: Request) -> str | None:
        """The caller's user name (bearer token or live session cookie), or None."""
        value = bearer_token(request)
        if value is not None:
            token = self.store.tokens.validate(value)
            return token.subject if token else None
        sid = request.cookies.get(SESSION_COOKIE)
        if not sid:
            return None
        live = {s.id: s for s in self._live()}
        if sid not in live:
            return None
        live[sid].last_seen = self.store.clock.now()  # sessions idle out, activity renews
        return live[sid].user

    def describe(self) -> dict[str, object]:
        sessions = [
            {"user": s.user, "branch": s.branch, "last_seen": s.last_seen.isoformat()}
            for s in self._live()
        ]
        return {"max_api_sessions": self.options.max_api_sessions, "sessions": sessions}
