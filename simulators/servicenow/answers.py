"""Answers every ServiceNow REST API shares: the error body, the pages of a list and its links.

Kept apart from ``app`` so that the Table API and the Attachment API answer a list and an error
the same way without one importing the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse

T = TypeVar("T")


def sn_error(status: int, message: str, detail: str | None = None, **headers: str) -> JSONResponse:
    body = {"error": {"message": message, "detail": detail}, "status": "failure"}
    return JSONResponse(body, status, headers=headers or None)


def record_not_found() -> JSONResponse:
    return sn_error(
        404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
    )


def flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() == "true"


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    headers: dict[str, str]  # X-Total-Count and Link, unless the caller suppressed them


def page_of(request: Request, rows: Sequence[T], default_limit: int) -> Page[T]:
    """``sysparm_offset`` / ``sysparm_limit`` applied to ``rows``, with the list headers."""
    params = request.query_params
    raw_limit = params.get("sysparm_limit", "")
    limit = int(raw_limit) if raw_limit.isdigit() and int(raw_limit) > 0 else default_limit
    offset = int(params["sysparm_offset"]) if params.get("sysparm_offset", "").isdigit() else 0
    headers: dict[str, str] = {}
    if not flag(request, "sysparm_no_count"):
        headers["X-Total-Count"] = str(len(rows))
    if not flag(request, "sysparm_suppress_pagination_header"):
        headers["Link"] = link_header(request, offset, limit, len(rows))
    return Page(list(rows[offset : offset + limit]), headers)


def link_header(request: Request, offset: int, limit: int, total: int) -> str:
    """first/prev/next/last links carrying the caller's other parameters, as the instance does."""
    kept = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if k not in ("sysparm_offset", "sysparm_limit")
    ]
    base = str(request.url).split("?")[0]

    def link(at: int, rel: str) -> str:
        query = urlencode(
            [*kept, ("sysparm_limit", str(limit)), ("sysparm_offset", str(at))], quote_via=quote
        )
        return f'<{base}?{query}>;rel="{rel}"'

    links = [link(0, "first")]
    if offset > 0:
        links.append(link(max(0, offset - limit), "prev"))
    if offset + limit < total:
        links.append(link(offset + limit, "next"))
    links.append(link(max(0, (total - 1) // limit * limit), "last"))
    return ",".join(links)
