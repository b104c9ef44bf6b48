"""Paging styles, each written once and shared by every system that uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ml_connector.api.client import ApiClient


async def odata_pages(
    client: ApiClient,
    url: str,
    params: dict[str, str] | None = None,
    *,
    page_size: int | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Follow ``@odata.nextLink`` until the server stops sending one (BC, NAV, F&O).

    The next link is absolute and already carries the query, so later pages send no params.
    """
    headers = {"Prefer": f"odata.maxpagesize={page_size}"} if page_size else {}
    next_url: str | None = url
    query: dict[str, str] | None = params
    while next_url:
        body = await client.get_json(next_url, params=query, headers=headers)
        yield list(body.get("value", []))
        next_url = body.get("@odata.nextLink")
        query = None
