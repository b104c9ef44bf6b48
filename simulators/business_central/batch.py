"""``POST .../api/v2.0/$batch`` in OData's JSON batch format, optionally atomic.

Each operation is dispatched to the app's own router, so it gets exactly the answer a single
call would get; the batch itself is one call for the request log, rate limits and faults.
With ``Isolation: snapshot`` the batch is all or nothing: on the first failing operation every
change is rolled back, the failing operation keeps its own error, and every other operation
answers 424 (Failed Dependency, OData's status for requests that did not take effect).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from simulators.business_central.http import ApiContext, bc_error, odata_response

MAX_OPERATIONS = 100


def _operation_scope(request: Request, root_path: str, op: dict[str, Any]) -> dict[str, Any]:
    url = str(op.get("url", ""))
    parts = urlsplit(url)
    # An absolute URL (or path) is used as is; a relative one is relative to ".../api/v2.0/".
    absolute = bool(parts.scheme) or url.startswith("/")
    path = parts.path if absolute else f"{root_path}/{parts.path}"
    headers = {str(k).lower(): str(v) for k, v in (op.get("headers") or {}).items()}
    if "authorization" not in headers and "authorization" in request.headers:
        headers["authorization"] = request.headers["authorization"]
    if op.get("body") is not None:
        headers.setdefault("content-type", "application/json")
    scope = dict(request.scope)
    scope.update(
        method=str(op.get("method", "GET")).upper(),
        path=path,
        raw_path=path.encode(),
        query_string=parts.query.encode(),
        headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
    )
    scope.pop("route", None)
    scope.pop("endpoint", None)
    scope.pop("path_params", None)
    return scope


async def _dispatch(request: Request, scope: dict[str, Any], body: bytes) -> dict[str, Any]:
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
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start.get("headers", [])}
    headers.pop("content-length", None)
    result: dict[str, Any] = {"status": start["status"], "headers": headers}
    if raw:
        try:
            result["body"] = json.loads(raw)
        except ValueError:
            result["body"] = raw.decode("utf-8", errors="replace")
    return result


async def batch(ctx: ApiContext) -> Response:
    try:
        payload = json.loads(await ctx.request.body() or b"null")
    except ValueError as exc:
        return bc_error(400, "BadRequest", f"The batch request body is not valid JSON: {exc}")
    operations = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
        return bc_error(400, "BadRequest", 'The batch body must be {"requests": [...]}.')
    if len(operations) > MAX_OPERATIONS:
        return bc_error(
            400,
            "BadRequest",
            f"The batch request contains {len(operations)} operations; the maximum is "
            f"{MAX_OPERATIONS}.",
        )
    atomic = ctx.request.headers.get("isolation", "").strip().lower() == "snapshot"
    root_path = urlsplit(ctx.root).path
    saved = ctx.store.snapshot() if atomic else None
    responses: list[dict[str, Any]] = []
    failed: str | None = None
    for op in operations:
        scope = _operation_scope(ctx.request, root_path, op)
        body = op.get("body")
        raw = b"" if body is None else json.dumps(body).encode()
        result = {"id": str(op.get("id", "")), **await _dispatch(ctx.request, scope, raw)}
        responses.append(result)
        if atomic and result["status"] >= 400:
            failed = result["id"]
            break
    if saved is not None and failed is not None:
        ctx.store.restore(saved)
        rolled_back = {
            "status": 424,
            "headers": {"content-type": "application/json"},
            "body": {
                "error": {
                    "code": "BadRequest",
                    "message": f"Not applied: the batch was rolled back because request "
                    f"'{failed}' failed.",
                }
            },
        }
        answered = {r["id"]: r for r in responses}
        responses = [
            answered[str(op.get("id", ""))]
            if str(op.get("id", "")) == failed
            else {"id": str(op.get("id", "")), **rolled_back}
            for op in operations
        ]
    elif saved is not None:
        ctx.store.commit()
    return odata_response({"responses": responses})
