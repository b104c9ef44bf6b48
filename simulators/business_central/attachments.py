"""Business Central ``documentAttachments`` (API v2.0): files on invoices, orders and masters.

As documented ("documentAttachment resource type" and its GET/POST/PATCH/DELETE pages), a
client creates the attachment with JSON, then writes its content to the stream property:

- ``POST .../companies({id})/documentAttachments`` with ``fileName``, ``parentType`` and
  ``parentId`` (or ``POST .../purchaseInvoices({id})/documentAttachments`` with ``fileName``:
  the navigation supplies the parent) -> 201 with the entity, whose ``attachmentContent`` is
  given as ``@odata.mediaReadLink`` / ``@odata.mediaEditLink``;
- ``PATCH .../documentAttachments({id})/attachmentContent`` with ``If-Match`` and the raw bytes
  -> 204 with the new ETag; ``GET`` on the same URL returns the bytes (204 while empty, as OData
  answers a null stream);
- list, get, PATCH (``fileName``, document flow flags) and DELETE as any entity set, at company
  level and under ``purchaseInvoices({id})`` / ``salesInvoices({id})``.

Where the documentation is silent the simulator is strict: a ``parentType`` whose records it
does not serve, a parent that does not exist, a missing ``fileName``, inline content in the
JSON body and content over ``attachment_max_bytes`` (413) are refused. ``lineNumber`` counts by
10000 within the parent, ``byteSize`` follows the content; both are read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from simulators.base import read_bounded
from simulators.business_central.api import Endpoint, EntityHandlers
from simulators.business_central.entities import ATTACHMENT_PARENTS, DOCUMENT_ATTACHMENTS
from simulators.business_central.http import ApiContext, Handler, bc_error
from simulators.business_central.store import BusinessCentralStore, Row
from simulators.business_central.values import InvalidValue, NotFound, coerce

CONTENT = "attachmentContent"  # the stream property; its bytes are kept in the row's values
# Records whose documentAttachments navigation this simulator serves (apis.md, issue scope).
NAVIGABLE = ("purchaseInvoices", "salesInvoices")
_TYPE_OF = {entity_set: parent_type for parent_type, entity_set in ATTACHMENT_PARENTS.items()}


class DocumentAttachments:
    def __init__(self, store: BusinessCentralStore, entities: EntityHandlers) -> None:
        self.store = store
        self.entities = entities
        self.definition = DOCUMENT_ATTACHMENTS

    # -- the record an attachment is on --------------------------------------------------

    def _parent(self, body: dict[str, Any], navigation: str | None, ctx: ApiContext) -> Row:
        """The record the new attachment goes on: named by the URL or by the body."""
        if navigation is not None:
            assert ctx.parent_id is not None
            return self.store.get(ctx.company_id, navigation, ctx.parent_id)
        if "parentType" not in body or "parentId" not in body:
            raise InvalidValue("parentType and parentId must be given to attach a document.")
        parent_type = coerce(self.definition, "parentType", body["parentType"])
        parent_id = coerce(self.definition, "parentId", body["parentId"])
        entity_set = ATTACHMENT_PARENTS.get(parent_type)
        if entity_set is None:
            raise InvalidValue(
                f"Attachments to parentType '{parent_type}' are not served by this instance."
            )
        return self.store.get(ctx.company_id, entity_set, parent_id)

    def guard(self, navigation: str | None) -> Callable[[Handler], Handler]:
        """Under ``purchaseInvoices({id})``, check that invoice exists before anything else."""

        def wrap(handler: Handler) -> Handler:
            if navigation is None:
                return handler

            async def guarded(ctx: ApiContext) -> Response:
                assert ctx.parent_id is not None
                self.store.get(ctx.company_id, navigation, ctx.parent_id)
                return await handler(ctx)

            return guarded

        return wrap

    def _attachment(self, ctx: ApiContext) -> Row:
        row = self.store.get(ctx.company_id, self.definition.name, ctx.request.path_params["id"])
        parent_id = ctx.parent_id
        if parent_id is not None and row.values.get("parentId") != parent_id.lower():
            raise NotFound(
                f"The {self.definition.label} does not exist. Identification fields and "
                f"values: Id='{row.values['id']}'"
            )
        return row

    # -- handlers ------------------------------------------------------------------------

    def create_handler(self, navigation: str | None) -> Handler:
        async def handler(ctx: ApiContext) -> Response:
            body = await self.entities.json_object(ctx)
            if CONTENT in body:
                raise InvalidValue(
                    f"'{CONTENT}' is a stream: write it with PATCH "
                    f".../documentAttachments({{id}})/{CONTENT} after creating the attachment."
                )
            parent = self._parent(body, navigation, ctx)
            values, _ = self.entities.values_of(self.definition, body)
            if not str(values.get("fileName", "")).strip():
                raise InvalidValue("fileName must be given to attach a document.")
            entity_set = navigation or ATTACHMENT_PARENTS[body["parentType"]]
            values.update(parentType=_TYPE_OF[entity_set], parentId=parent.values["id"])
            row = self.store.insert(ctx.company_id, self.definition.name, values)
            return self.entities.entity_response(ctx, self.definition, row, 201)

        return handler

    async def read_content(self, ctx: ApiContext) -> Response:
        content = self._attachment(ctx).values.get(CONTENT) or b""
        if not content:
            return Response(status_code=204)
        return Response(content, media_type="application/octet-stream")

    async def write_content(self, ctx: ApiContext) -> Response:
        limit = self.store.options.attachment_max_bytes
        content = await read_bounded(ctx.request, limit)
        if content is None:
            return bc_error(413, "RequestEntityTooLarge", f"The attachment exceeds {limit} bytes.")
        with self.store.lock:
            row = self._attachment(ctx)
            refused = self.entities.precondition(ctx, row, required=True)
            if refused is not None:
                return refused
            changes = {CONTENT: content, "byteSize": len(content)}
            row = self.store.update(ctx.company_id, self.definition.name, row.values["id"], changes)
        return Response(status_code=204, headers={"ETag": self.store.etag(row)})

    def routes(self, company: str, endpoint: Endpoint) -> list[BaseRoute]:
        name = self.definition.name
        routes: list[BaseRoute] = []
        navigations: list[str | None] = [None, *NAVIGABLE]
        for navigation in navigations:
            source = company if navigation is None else f"{company}/{navigation}({{parent_id}})"
            collection, guard = f"{source}/{name}", self.guard(navigation)
            content = f"{collection}({{id}})/{CONTENT}"
            create = self.create_handler(navigation)
            routes += [
                *self.entities.routes(
                    collection, self.definition, endpoint, guard=guard, create=create
                ),
                Route(content, endpoint(guard(self.read_content)), methods=["GET"]),
                Route(content, endpoint(guard(self.write_content)), methods=["PATCH", "PUT"]),
            ]
        return routes
