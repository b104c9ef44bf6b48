"""ServiceNow's Batch API: ``POST /api/now/v1/batch`` (and the unversioned ``/api/now/batch``).

Request, as documented (Batch API, "POST /now/batch")::

    {"batch_request_id": "1", "enforce_order": false,
     "rest_requests": [{"id": "11", "method": "GET", "url": "/api/now/table/incident?...",
                        "headers": [{"name": "Accept", "value": "application/json"}],
                        "body": "<base64>", "exclude_response_headers": false}]}

Answer: ``{"batch_request_id", "serviced_requests": [{"id", "status_code", "status_text",
"headers": [{"name", "value"}], "body": "<base64>", "execution_time"}], "unserviced_requests":
[ids]}``. Each request runs with the batch's own credentials (the inner requests carry none)
and gets the answer it would get alone; requests run in the order given. A request that is
not a REST API call of this instance (or is itself a batch) is not serviced.
"""

from __future__ import annotations

import base64
import binascii
import http
import json
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from simulators.dispatch import dispatch, inner_scope

BATCH_PATHS = ("/api/now/v1/batch", "/api/now/batch")


def _bad(detail: str) -> JSONResponse:
    body = {"error": {"message": "Exception while reading request", "detail": detail}}
    return JSONResponse({**body, "status": "failure"}, 400)


def _headers(raw: Any) -> dict[str, str] | None:
    if raw is None:
        return {}
    if not isinstance(raw, list) or not all(
        isinstance(h, dict) and isinstance(h.get("name"), str) for h in raw
    ):
        return None
    return {h["name"].lower(): str(h.get("value", "")) for h in raw}


def _canonical(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _serviceable(url: str) -> bool:
    path = urlsplit(url).path
    return path.startswith("/api/") and path.rstrip("/") not in BATCH_PATHS


async def _serve(request: Request, op: dict[str, Any]) -> dict[str, Any] | None:
    """The serviced answer, or None when the request cannot be serviced."""
    url, headers = str(op.get("url", "")), _headers(op.get("headers"))
    if headers is None or not _serviceable(url) or not isinstance(op.get("method"), str):
        return None
    try:
        body = base64.b64decode(op.get("body") or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        return None
    # The batch's credentials apply to every request in it.
    headers.pop("authorization", None)
    if "authorization" in request.headers:
        headers["authorization"] = request.headers["authorization"]
    headers.setdefault("accept", "application/json")
    parts = urlsplit(url)
    scope = inner_scope(request, op["method"], parts.path, parts.query, headers)
    started = time.monotonic()
    answer = await dispatch(request, scope, body)
    served: dict[str, Any] = {
        "id": str(op.get("id", "")),
        "status_code": answer.status,
        "status_text": http.HTTPStatus(answer.status).phrase,
        "headers": [],
        "body": base64.b64encode(answer.body).decode(),
        "execution_time": int((time.monotonic() - started) * 1000),
    }
    if not op.get("exclude_response_headers"):
        # HTTP/1.1 servers write header names capitalised (X-Total-Count); ASGI lowers them.
        served["headers"] = [{"name": _canonical(k), "value": v} for k, v in answer.headers]
    return served


async def batch(request: Request, user: str) -> Response:
    try:
        payload = json.loads(await request.body() or b"null")
    except ValueError as exc:
        return _bad(f"Cannot decode: {exc}")
    requests = payload.get("rest_requests") if isinstance(payload, dict) else None
    if not isinstance(requests, list) or not all(isinstance(r, dict) for r in requests):
        return _bad('The body must be {"batch_request_id": ..., "rest_requests": [...]}')
    serviced: list[dict[str, Any]] = []
    unserviced: list[str] = []
    for op in requests:
        answer = await _serve(request, op)
        if answer is None:
            unserviced.append(str(op.get("id", "")))
        else:
            serviced.append(answer)
    return JSONResponse(
        {
            "batch_request_id": str(payload.get("batch_request_id", "")),
            "serviced_requests": serviced,
            "unserviced_requests": unserviced,
        }
    )
