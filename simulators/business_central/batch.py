"""``POST .../api/v2.0/$batch`` in OData's JSON batch format, optionally atomic.

Each operation is dispatched to the app's own router, so it gets exactly the answer a single
call would get; the batch itself is one call for the request log, rate limits and faults.
Without ``Isolation: snapshot`` each operation stands alone: one failing leaves the others'
effects in place. With it the batch is all or nothing: on the first failing operation every
change is rolled back, the failing operation keeps its own error, and every other operation
answers 424 (Failed Dependency, OData's status for requests that did not take effect).

OData's JSON batch format groups adjacent requests sharing an ``atomicityGroup`` (the JSON
form of a multipart changeset): each group is all or nothing in the same way, while the
operations outside it stand alone.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from simulators.business_central.http import ApiContext, bc_error, odata_response
from simulators.dispatch import dispatch, inner_scope

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
    return inner_scope(request, str(op.get("method", "GET")), path, parts.query, headers)


async def _dispatch(request: Request, scope: dict[str, Any], body: bytes) -> dict[str, Any]:
    answer = await dispatch(request, scope, body)
    result: dict[str, Any] = {"status": answer.status, "headers": dict(answer.headers)}
    if answer.body:
        try:
            result["body"] = json.loads(answer.body)
        except ValueError:
            result["body"] = answer.body.decode("utf-8", errors="replace")
    return result


def _units(operations: list[dict[str, Any]]) -> list[list[dict[str, Any]]] | str:
    """Operations in the order given, an atomicity group's (adjacent, as OData requires)
    together; or why the grouping is refused."""
    units: list[list[dict[str, Any]]] = []
    closed: set[str] = set()
    for op in operations:
        group = op.get("atomicityGroup")
        if group is not None and units and units[-1][0].get("atomicityGroup") == group:
            units[-1].append(op)
            continue
        if group is not None and str(group) in closed:
            return f"The requests of atomicity group '{group}' must be adjacent."
        if group is not None:
            closed.add(str(group))
        units.append([op])
    return units


def _rolled_back(failed: str) -> dict[str, Any]:
    return {
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


async def _run(
    ctx: ApiContext, root_path: str, unit: list[dict[str, Any]], grouped: bool
) -> list[dict[str, Any]]:
    """One operation, or a group that takes effect as a whole: on its first failing
    operation every change of the group is undone, the failing operation keeps its error and
    every other one of the group answers 424."""
    saved = ctx.store.snapshot() if grouped else None
    responses: list[dict[str, Any]] = []
    for op in unit:
        scope = _operation_scope(ctx.request, root_path, op)
        body = op.get("body")
        raw = b"" if body is None else json.dumps(body).encode()
        result = {"id": str(op.get("id", "")), **await _dispatch(ctx.request, scope, raw)}
        route = getattr(scope.get("route"), "path", None)
        with ctx.store.lock:
            ctx.store.batch_operations[(scope["method"], route)] += 1
        responses.append(result)
        if saved is not None and result["status"] >= 400:
            ctx.store.restore(saved)
            failed = result["id"]
            return [
                result if str(op.get("id", "")) == failed
                else {"id": str(op.get("id", "")), **_rolled_back(failed)}
                for op in unit
            ]  # fmt: skip
    if saved is not None:
        ctx.store.commit()
    return responses


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
    units = [operations] if atomic and operations else _units(operations)
    if isinstance(units, str):
        return bc_error(400, "BadRequest", units)
    root_path = urlsplit(ctx.root).path
    responses: list[dict[str, Any]] = []
    for unit in units:
        grouped = atomic or unit[0].get("atomicityGroup") is not None
        responses += await _run(ctx, root_path, unit, grouped)
    return odata_response({"responses": responses})
