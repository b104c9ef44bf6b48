"""Run one request of a batch through the app's own router, as if it had arrived alone.

Batch endpoints (Business Central's ``$batch``, ServiceNow's Batch API) give each operation
exactly the answer a single call would get by dispatching it to the router, below the request
log, fault and limit middleware: the batch itself is the one call those layers see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.types import Message


@dataclass(frozen=True)
class InnerResponse:
    status: int
    headers: list[tuple[str, str]]  # as sent, content-length left out (the body is re-framed)
    body: bytes


def inner_scope(
    request: Request, method: str, path: str, query: str, headers: Mapping[str, str]
) -> dict[str, Any]:
    """The outer request's scope with this operation's method, target and headers."""
    scope = dict(request.scope)
    scope.update(
        method=method.upper(),
        path=path,
        raw_path=path.encode(),
        query_string=query.encode(),
        headers=[(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
    )
    for routed in ("route", "endpoint", "path_params"):
        scope.pop(routed, None)
    return scope


async def dispatch(request: Request, scope: dict[str, Any], body: bytes) -> InnerResponse:
    sent: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await request.app.router(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    raw = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = [
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, v in start.get("headers", [])
        if k.lower() != b"content-length"
    ]
    return InnerResponse(start["status"], headers, raw)
