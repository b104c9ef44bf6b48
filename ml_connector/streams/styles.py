"""Paging styles as declarations: each builds a paginator of ``api.paging`` for one read."""

from __future__ import annotations

from dataclasses import dataclass

from ml_connector.api.paging import (
    EncodedQueryKeyset,
    LinkHeader,
    ODataNextLink,
    PageNumber,
    PageRequest,
    Paginator,
    TopSkip,
)
from ml_connector.streams.declaration import Plan

EPOCH = "1970-01-01 00:00:00"  # ServiceNow's bound for a first read: keyset needs one


class NextLink:
    """``@odata.nextLink``, page size asked for with ``Prefer: odata.maxpagesize``."""

    def start(self, plan: Plan) -> tuple[Paginator, PageRequest]:
        headers = {"Prefer": f"odata.maxpagesize={plan.page_size}"}
        return ODataNextLink(), PageRequest(plan.url, plan.params or None, headers)


class TopSkipPages:
    def start(self, plan: Plan) -> tuple[Paginator, PageRequest]:
        params = {**plan.params, "$top": str(plan.page_size)}
        return TopSkip(plan.page_size), PageRequest(plan.url, params)


class PageNumbers:
    def start(self, plan: Plan) -> tuple[Paginator, PageRequest]:
        params = {"page": "1", "pageSize": str(plan.page_size), **plan.params}
        return PageNumber(), PageRequest(plan.url, params)


class LinkPages:
    """Offset pages by ``Link: rel="next"``: for bounded reads (lines of known headers)."""

    def start(self, plan: Plan) -> tuple[Paginator, PageRequest]:
        params = {**plan.params, "sysparm_limit": str(plan.page_size)}
        return LinkHeader(), PageRequest(plan.url, params)


@dataclass(frozen=True)
class Keyset:
    """ServiceNow change reads by (cursor, sys_id) keyset: rows changing mid-read move
    behind the keyset and are read again, never skipped as offsets would."""

    first_bound: str = EPOCH

    def start(self, plan: Plan) -> tuple[Paginator, PageRequest]:
        if plan.cursor_field is None:
            raise ValueError(f"{plan.url}: keyset paging needs a cursor field")
        since = plan.since if plan.since is not None else self.first_bound
        keyset = EncodedQueryKeyset(plan.cursor_field, since, query=plan.where,
                                    limit=plan.page_size)  # fmt: skip
        params = {k: v for k, v in plan.params.items() if k != "sysparm_query"}
        return keyset, keyset.request(plan.url, params)


NEXT_LINK = NextLink()
TOP_SKIP = TopSkipPages()
PAGE_NUMBERS = PageNumbers()
LINK_PAGES = LinkPages()
KEYSET = Keyset()
