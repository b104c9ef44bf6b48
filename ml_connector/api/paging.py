"""Paging styles, each written once and shared by every system that uses it.

One loop (``pages``) sends requests; a paginator per style says where the records are in an
answer and what the next request is. Styles: OData ``@odata.nextLink`` (BC, NAV, F&O),
``Link: rel="next"`` headers (ServiceNow Table API), page number with ``hasMore``
(ServiceTitan), ``continueFrom`` tokens (ServiceTitan export feeds) and ``$top``/``$skip``
(Acumatica). Keyset delta reads, which must survive rows changing mid-read, live in ``delta``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from ml_connector.api.client import ApiClient
from ml_connector.records import Record


@dataclass(frozen=True)
class PageRequest:
    url: str
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One answer's records, plus the server's resume token where the style has one."""

    records: list[Record]
    cursor: str | None = None
    total: int | None = None
    body: Any = None  # the parsed answer, so ``next`` need not parse it again


class Paginator(Protocol):
    def page(self, response: httpx.Response) -> Page: ...

    def next(self, sent: PageRequest, response: httpx.Response, page: Page) -> PageRequest | None:
        """The request for the following page, or None after the last one."""
        ...


async def pages(client: ApiClient, paginator: Paginator, first: PageRequest) -> AsyncIterator[Page]:
    request: PageRequest | None = first
    while request is not None:
        response = await client.request(
            "GET", request.url, params=request.params, headers=request.headers
        )
        page = paginator.page(response)
        yield page
        request = paginator.next(request, response, page)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ODataNextLink:
    """``{"value": [...], "@odata.nextLink": url}``; the link already carries the query."""

    def page(self, response: httpx.Response) -> Page:
        body = response.json()
        return Page(list(body.get("value", [])), total=_int(body.get("@odata.count")), body=body)

    def next(self, sent: PageRequest, response: httpx.Response, page: Page) -> PageRequest | None:
        link = page.body.get("@odata.nextLink")
        return PageRequest(link, None, sent.headers) if link else None


class LinkHeader:
    """``{"result": [...]}`` with ``Link: <...>;rel="next"`` and ``X-Total-Count`` (ServiceNow)."""

    def page(self, response: httpx.Response) -> Page:
        total = _int(response.headers.get("X-Total-Count"))
        return Page(list(response.json().get("result", [])), total=total)

    def next(self, sent: PageRequest, response: httpx.Response, page: Page) -> PageRequest | None:
        link = response.links.get("next", {}).get("url")
        # An empty page ends the read even if a stale Link still points further.
        return PageRequest(link, None, sent.headers) if link and page.records else None


class PageNumber:
    """``?page=N&pageSize=M`` -> ``{page, pageSize, hasMore, totalCount, data}`` (ServiceTitan)."""

    def page(self, response: httpx.Response) -> Page:
        body = response.json()
        return Page(list(body.get("data", [])), total=_int(body.get("totalCount")), body=body)

    def next(self, sent: PageRequest, response: httpx.Response, page: Page) -> PageRequest | None:
        if not page.body.get("hasMore") or not page.records:
            return None
        params = dict(sent.params or {})
        params["page"] = str(int(params.get("page", "1")) + 1)
        return PageRequest(sent.url, params, sent.headers)


class ContinuationToken:
    """``?from=token`` -> ``{hasMore, continueFrom, data}`` (ServiceTitan export feeds).

    Each page carries its ``continueFrom`` as ``Page.cursor``: a caller stores it once the
    page's records are safe, and resumes from it after a restart.
    """

    def page(self, response: httpx.Response) -> Page:
        body = response.json()
        return Page(list(body.get("data", [])), cursor=body.get("continueFrom"), body=body)

    def next(self, sent: PageRequest, response: httpx.Response, page: Page) -> PageRequest | None:
        if not page.body.get("hasMore") or page.cursor is None:
            return None
        return PageRequest(sent.url, {**(sent.params or {}), "from": page.cursor}, sent.headers)


class TopSkip:
    """A bare JSON array per answer, ``$top``/``$skip`` until a short page (Acumatica)."""

    def __init__(self, page_size: int) -> None:
        self.page_size = page_size

    def page(self, response: httpx.Response) -> Page:
        return Page(list(response.json()))

    def next(self, sent: PageRequest, response: httpx.Response, page: Page) -> PageRequest | None:
        if len(page.records) < self.page_size:
            return None
        params = dict(sent.params or {})
        params["$skip"] = str(int(params.get("$skip", "0")) + len(page.records))
        return PageRequest(sent.url, params, sent.headers)


class EncodedQueryKeyset:
    """ServiceNow delta reads paged by keyset on (modified field, sys_id), never by offset.

    Offsets shift when a row changes mid-read (it moves to the end of the ordering), so the
    row after it would be skipped. Here each page asks again from the last row seen:
    ``field>=X^ORDERBYfield^ORDERBYsys_id``, dropping rows at or before (X, sys_id) on arrival.
    A full page of rows sharing X would repeat forever, so such a tie is read on its own,
    ``field=X^sys_id>Y^ORDERBYsys_id``, and the read resumes with ``field>X``.
    One instance per read: it keeps the position.
    """

    def __init__(self, field: str, since: str, *, query: str = "", limit: int) -> None:
        self.field = field
        self.extra = f"^{query}" if query else ""
        self.limit = limit
        self.last: tuple[str, str] | None = None
        self._since = since
        self._mode = "from"  # from (>=X) | tie (=X, sys_id>Y) | after (>X)

    def _query(self) -> str:
        f = self.field
        if self._mode == "tie" and self.last is not None:
            x, y = self.last
            return f"{f}={x}^sys_id>{y}{self.extra}^ORDERBYsys_id"
        x = self.last[0] if self.last else self._since
        op = ">" if self._mode == "after" else ">="
        return f"{f}{op}{x}{self.extra}^ORDERBY{f}^ORDERBYsys_id"

    def request(self, url: str, params: dict[str, str] | None = None) -> PageRequest:
        return PageRequest(
            url,
            {**(params or {}), "sysparm_query": self._query(), "sysparm_limit": str(self.limit),
             "sysparm_no_count": "true", "sysparm_suppress_pagination_header": "true"},
        )  # fmt: skip

    def page(self, response: httpx.Response) -> Page:
        rows = list(response.json().get("result", []))
        fresh = [r for r in rows if self.last is None or self._key(r) > self.last]
        return Page(fresh, body=len(rows))

    def _key(self, row: Record) -> tuple[str, str]:
        return (str(row.get(self.field, "")), str(row.get("sys_id", "")))

    def next(self, sent: PageRequest, response: httpx.Response, page: Page) -> PageRequest | None:
        full = page.body >= self.limit
        if page.records:
            self.last = max(self._key(r) for r in page.records)
        if self._mode == "tie":
            self._mode = "tie" if full else "after"
        elif full and not page.records:
            self._mode = "tie"  # a whole page at one timestamp, all seen already
        elif not full:
            return None
        else:
            self._mode = "from"
        return self.request(sent.url, {k: v for k, v in (sent.params or {}).items()})


async def odata_pages(
    client: ApiClient,
    url: str,
    params: dict[str, str] | None = None,
    *,
    page_size: int | None = None,
) -> AsyncIterator[list[Record]]:
    """Record lists following ``@odata.nextLink`` (BC, NAV, F&O)."""
    headers = {"Prefer": f"odata.maxpagesize={page_size}"} if page_size else {}
    async for page in pages(client, ODataNextLink(), PageRequest(url, params, headers)):
        yield page.records
