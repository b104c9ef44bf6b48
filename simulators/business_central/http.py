"""Business Central's HTTP conventions: error bodies, OData responses, the handler context.

Shared by the API handlers, bound actions, ``$batch``, webhooks and the NAV simulator, so every
answer carries the same error shape (``{"error": {"code", "message ... CorrelationId"}}``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from simulators.business_central.store import BusinessCentralStore
from simulators.business_central.values import (
    DuplicateKey,
    InvalidValue,
    NotFound,
    ReadOnly,
)
from simulators.limits import Rejection
from simulators.odata import ListPage, ODataError


def bc_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """BC's error body; every message ends with a correlation id, as the service's do."""
    text = f"{message}  CorrelationId:  {uuid.uuid4()}"
    body = {"error": {"code": code, "message": text}}
    return JSONResponse(body, status, headers=dict(headers) if headers else None)


_FAULT_CODES = {429: "Application_TooManyRequests", 503: "Application_ServiceUnavailable"}


def fault_error(status: int, message: str, headers: Mapping[str, str]) -> JSONResponse:
    """Injected faults and limit refusals in BC's error shape."""
    return bc_error(status, _FAULT_CODES.get(status, "Internal_ServerError"), message, headers)


def limit_error(rejection: Rejection) -> Response:
    # Retry-After is not documented for BC (UNCONFIRMED in apis.md); sent, clients tolerate both.
    headers = {"Retry-After": str(rejection.retry_after)}
    if rejection.status == 503:
        message = "The request waited too long in the queue and was cancelled."
    elif rejection.window_seconds is None:
        message = "Too many concurrent requests: the request queue is full. Try again later."
    else:
        message = (
            f"The rate limit of {rejection.limit} requests per "
            f"{rejection.window_seconds:g} seconds was exceeded. Try again later."
        )
    return fault_error(rejection.status, message, headers)


def odata_response(
    body: dict[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    response = JSONResponse(body, status, headers=dict(headers) if headers else None)
    response.headers["content-type"] = "application/json; odata.metadata=minimal"
    response.headers["OData-Version"] = "4.0"
    return response


@dataclass
class ApiContext:
    request: Request
    store: BusinessCentralStore
    company_id: str
    root: str  # absolute URL of ".../api/v2.0", for @odata.context and links

    @property
    def parent_id(self) -> str | None:
        value = self.request.path_params.get("parent_id")
        return str(value).lower() if value is not None else None


Handler = Callable[[ApiContext], Awaitable[Response]]


async def run_guarded(handler: Handler, ctx: ApiContext, read_only_status: int) -> Response:
    """Run ``handler`` and turn store and query errors into BC's error answers."""
    try:
        return await handler(ctx)
    except (ODataError, InvalidValue) as exc:
        return bc_error(400, "BadRequest", str(exc))
    except NotFound as exc:
        return bc_error(404, "BadRequest_NotFound", str(exc))
    except DuplicateKey as exc:
        return bc_error(400, "Internal_EntityWithSameKeyExists", str(exc))
    except ReadOnly as exc:
        return bc_error(read_only_status if exc.entity_level else 400, exc.code, str(exc))


def next_link(request: Request, page: ListPage) -> str | None:
    """The ``@odata.nextLink`` of a server-driven page: every option but the paging ones, as
    BC's own nextLink carries them, plus the keyset ``$skiptoken``."""
    if page.skiptoken is None:
        return None
    kept = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if k not in ("$skip", "$skiptoken", "$top")
    ]
    if page.remaining_top is not None:
        kept.append(("$top", str(page.remaining_top)))
    kept.append(("$skiptoken", page.skiptoken))
    query = urlencode(kept, quote_via=quote, safe="$(),'")
    return f"{str(request.url).split('?')[0]}?{query}"
