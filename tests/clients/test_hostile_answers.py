"""Junk from a peer is sorted like any other answer: retried, or refused with a reason.

Every answer here once escaped as a parse error (sending a record to the dead-letter topic on
its first attempt) or hung the connection. None of them may show a credential.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.api import auth as auth_module
from ml_connector.api.auth import EntraClientCredentials
from ml_connector.api.budget import MAX_SERVER_PAUSE, Rate, RateBudget
from ml_connector.api.client import ApiClient, RetryPolicy
from ml_connector.api.errors import (
    ApiError,
    BackpressureError,
    CredentialsRejected,
    FatalError,
    NotFound,
    RetryableError,
    UnreadableAnswer,
)
from tests.clients.conftest import Serve

CLIENT_SECRET = "s3cr3t-client-value"
GOOD_TOKEN = '{"access_token": "tok-abc123-bearer", "expires_in": 3600}'
JSON = "application/json"


@dataclass
class Answer:
    status: int = 200
    body: bytes | str = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)
    echo: bool = False  # put the request's headers and form into the body, as a bad proxy does


@dataclass
class Peer:
    """A token endpoint and an API that answer whatever the test sets."""

    token: Answer = field(default_factory=lambda: Answer(body=GOOD_TOKEN))
    api: Answer = field(default_factory=lambda: Answer(body="[]"))

    def app(self) -> Starlette:
        async def answer(request: Request, a: Answer) -> Response:
            body = a.body.encode() if isinstance(a.body, str) else a.body
            if a.echo:
                body += (str(dict(request.headers)) + (await request.body()).decode()).encode()
            return Response(body, a.status, headers={"Content-Type": a.content_type, **a.headers})

        async def token(request: Request) -> Response:
            return await answer(request, self.token)

        async def api(request: Request) -> Response:
            return await answer(request, self.api)

        routes = [Route("/token", token, methods=["POST"]),
                  Route("/api/{rest:path}", api, methods=["GET", "POST"])]  # fmt: skip
        return Starlette(routes=routes)


def client(url: str) -> ApiClient:
    auth = EntraClientCredentials(f"{url}/token", "client", SecretStr(CLIENT_SECRET), "scope")
    return ApiClient(url, auth, retry=RetryPolicy(attempts=1, max_total=5))


def outcome(url: str, method: str = "GET") -> BaseException | None:
    async def call() -> None:
        c = client(url)
        try:
            await asyncio.wait_for(c.request(method, "/api/things", json={} if method == "POST"
                                             else None), 60)  # fmt: skip
        finally:
            await c.aclose()

    try:
        asyncio.run(call())
    except BaseException as exc:  # noqa: BLE001 - the test sorts what came out
        return exc
    return None


def assert_no_secret(exc: BaseException) -> None:
    shown = f"{exc} {getattr(exc, 'body', '')}"
    assert CLIENT_SECRET not in shown and "tok-abc123-bearer" not in shown, shown


API_ANSWERS = [
    ("html page", Answer(body="<html>Gateway</html>", content_type="text/html"), UnreadableAnswer),
    ("empty body", Answer(body=""), UnreadableAnswer),
    ("null", Answer(body="null"), UnreadableAnswer),
    ("truncated", Answer(body='{"value": [{"id": 1'), UnreadableAnswer),
    ("bad utf-8", Answer(body=b'{"value": "\xff\xfe"}'), UnreadableAnswer),
    ("a number", Answer(body="42"), UnreadableAnswer),
    ("a string", Answer(body='"ok"'), UnreadableAnswer),
    ("true", Answer(body="true"), UnreadableAnswer),
    ("html as json", Answer(body="<!DOCTYPE html><html></html>"), UnreadableAnswer),
    ("bad gzip", Answer(body=b"not gzip", headers={"Content-Encoding": "gzip"}), RetryableError),
    ("502 html", Answer(502, "<html>bad gateway</html>", "text/html"), RetryableError),
    ("503 day", Answer(503, "", headers={"Retry-After": "86400"}), BackpressureError),
    ("429 junk", Answer(429, "", headers={"Retry-After": "soon"}), RetryableError),
    ("429 negative", Answer(429, "", headers={"Retry-After": "-5"}), BackpressureError),
    ("401 echo", Answer(401, "denied ", echo=True), CredentialsRejected),
    ("403", Answer(403, '{"error": "insufficient rights"}'), CredentialsRejected),
    ("500 echo", Answer(500, "boom ", echo=True), RetryableError),
    ("404 html", Answer(404, "<html>nope</html>", "text/html"), NotFound),
    ("400 odd json", Answer(400, '{"weird": {"nested": [1, 2]}}'), FatalError),
    ("418", Answer(418, "teapot", "text/plain"), FatalError),
]


@pytest.mark.parametrize(
    ("case", "answer", "expected"), API_ANSWERS, ids=[a[0] for a in API_ANSWERS]
)
def test_junk_api_answers_are_sorted(
    serve: Serve, case: str, answer: Answer, expected: type[ApiError]
) -> None:
    peer = Peer(api=answer)
    exc = outcome(serve(peer.app()))
    assert isinstance(exc, expected), f"{case}: {type(exc).__name__}: {exc}"
    assert_no_secret(exc)


def test_a_write_answered_with_junk_is_not_repeated_in_place(serve: Serve) -> None:
    """After a POST it is unknown whether the write landed: the whole write is retried later
    (it looks up before it creates), never the bare POST."""
    peer = Peer(api=Answer(body="<html>", content_type="text/html"))
    url = serve(peer.app())
    calls: list[str] = []

    async def run() -> BaseException | None:
        c = ApiClient(url, None, retry=RetryPolicy(attempts=3, max_wait=0.01, base=0.01))
        c.http.event_hooks["request"].append(lambda r: _count(calls, r))
        try:
            await c.request("POST", "/api/things", json={})
        except ApiError as exc:
            return exc
        finally:
            await c.aclose()
        return None

    assert isinstance(asyncio.run(run()), UnreadableAnswer)
    assert calls == ["POST"]


async def _count(calls: list[str], request: httpx.Request) -> None:
    calls.append(request.method)


TOKEN_ANSWERS = [
    ("html", Answer(body="<html>login</html>", content_type="text/html"), UnreadableAnswer),
    ("empty", Answer(body=""), UnreadableAnswer),
    ("null", Answer(body="null"), UnreadableAnswer),
    ("no token", Answer(body="{}"), UnreadableAnswer),
    ("numeric token", Answer(body='{"access_token": 5}'), UnreadableAnswer),
    ("empty token", Answer(body='{"access_token": ""}'), UnreadableAnswer),
    ("odd expiry", Answer(body='{"access_token": "x", "expires_in": "soon"}'), UnreadableAnswer),
    ("bad utf-8", Answer(body=b'{"access_token": "\xff"}'), UnreadableAnswer),
    ("truncated", Answer(body='{"access_token": "x'), UnreadableAnswer),
    ("redirect", Answer(302, "", headers={"Location": "/elsewhere"}), UnreadableAnswer),
    ("invalid_client echo", Answer(400, '{"error": "invalid_client"} ', echo=True),
     CredentialsRejected),
    ("401", Answer(401, '{"error": "unauthorized_client"}'), CredentialsRejected),
    ("403 echo", Answer(403, "forbidden ", echo=True), CredentialsRejected),
    ("503", Answer(503, "<html>down</html>", "text/html"), RetryableError),
    ("500 echo", Answer(500, "boom ", echo=True), RetryableError),
    ("429 day", Answer(429, "", headers={"Retry-After": "86400"}), BackpressureError),
    ("404", Answer(404, "no such tenant", "text/plain"), FatalError),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "answer", "expected"), TOKEN_ANSWERS, ids=[a[0] for a in TOKEN_ANSWERS]
)
def test_junk_token_answers_are_sorted(
    serve: Serve, case: str, answer: Answer, expected: type[ApiError]
) -> None:
    peer = Peer(token=answer)
    exc = outcome(serve(peer.app()))
    assert isinstance(exc, expected), f"{case}: {type(exc).__name__}: {exc}"
    assert_no_secret(exc)


@pytest.fixture
def silent_peer() -> Iterator[str]:
    """Accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for s in held:
        s.close()
    server.close()


def test_a_token_endpoint_that_never_answers_times_out(
    silent_peer: str, monkeypatch: pytest.MonkeyPatch, serve: Serve
) -> None:
    monkeypatch.setattr(auth_module, "AUTH_TIMEOUT", httpx.Timeout(0.5, connect=0.5))
    api = serve(Peer().app())

    async def call() -> None:
        token_auth = EntraClientCredentials(f"{silent_peer}/token", "c", SecretStr("x"), "s")
        c = ApiClient(api, token_auth, retry=RetryPolicy(attempts=1), timeout=600)
        try:
            await asyncio.wait_for(c.request("GET", "/api/things"), 60)
        finally:
            await c.aclose()

    with pytest.raises(RetryableError, match="Timeout"):
        asyncio.run(call())


def test_a_server_asking_for_a_day_pauses_the_connection_at_most_the_cap() -> None:
    now = [1000.0]
    budget = RateBudget(Rate(), clock=lambda: now[0])
    request = httpx.Request("GET", "https://erp.example.com/api")
    budget.observe(httpx.Response(429, headers={"Retry-After": "86400"}, request=request))
    wait = budget._wait_needed(now[0])
    assert wait is not None and 0 < wait <= MAX_SERVER_PAUSE
    reset = httpx.Response(
        200, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9999999999"},
        request=request,
    )  # fmt: skip
    budget = RateBudget(Rate(), clock=lambda: now[0])
    budget.observe(reset)
    wait = budget._wait_needed(now[0])
    assert wait is not None and 0 < wait <= MAX_SERVER_PAUSE
