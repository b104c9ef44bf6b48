"""ServiceNow's Attachment API: files on records, described by ``sys_attachment`` rows.

Served as documented ("Attachment API", ServiceNow REST API reference), under both the versioned
(``/api/now/v1/attachment``) and the default (``/api/now/attachment``) root:

- ``POST .../file?table_name=&table_sys_id=&file_name=`` with the raw file as the body and its
  type in ``Content-Type`` (mandatory) -> 201, ``Location`` of the new attachment, and
  ``{"result": {metadata}}``. 400 when a parameter or the header is missing, 404 when the
  record does not exist or the caller cannot read it.
- ``GET ...`` lists metadata: ``sysparm_query`` on ``sys_attachment``, ``sysparm_limit``,
  ``sysparm_offset``, ``sysparm_suppress_pagination_header``; Link and X-Total-Count headers.
- ``GET .../{sys_id}`` metadata; ``GET .../{sys_id}/file`` the bytes, with the stored content
  type and ``X-Attachment-Metadata``; ``DELETE .../{sys_id}`` -> 204. Unknown or unreadable
  attachments are 404.

Metadata values are strings, as every ServiceNow field is, plus ``download_link``. Access follows
the record the file is on (its table's read roles to see it, write roles to add or delete).
Where the documentation is silent the simulator refuses rather than guesses: an empty file, a
file over ``attachment_max_bytes``, an over-long or control-character file name and an
``encryption_context`` (encryption is not simulated) are 400. The multipart ``/upload`` form is
not served.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from simulators.base import read_bounded
from simulators.servicenow.access import acl_denial, allowed
from simulators.servicenow.answers import page_of, record_not_found, sn_error
from simulators.servicenow.selection import select
from simulators.servicenow.store import ServiceNowStore
from simulators.servicenow.tables import RenderOptions, render

ATTACHMENT_ROOTS = ("/api/now/attachment", "/api/now/v1/attachment")
MAX_FILE_NAME = 255  # not documented; long enough for any real file name
CHUNK_SIZE_BYTES = "700000"  # what the platform reports for the chunks it stores files in

Endpoint = Callable[[Request], Awaitable[Response]]
AuthedHandler = Callable[[Request, str], Awaitable[Response]]
Guard = Callable[[AuthedHandler], Endpoint]


def _bad_request(detail: str) -> JSONResponse:
    return sn_error(400, "Failed to create the attachment", detail)


def _file_name_problem(name: str) -> str | None:
    if len(name) > MAX_FILE_NAME:
        return f"file_name is longer than {MAX_FILE_NAME} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "file_name contains control characters"
    return None


class AttachmentApi:
    def __init__(self, store: ServiceNowStore) -> None:
        self.store = store
        self.table = store.tables["sys_attachment"]

    def _metadata(self, request: Request, record: dict[str, str]) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        body = render(self.table, record, RenderOptions(base, exclude_reference_link=True))
        body["download_link"] = f"{base}/api/now/attachment/{record['sys_id']}/file"
        return body

    def _readable(self, sys_id: str, user: str) -> dict[str, str] | None:
        """The attachment's row if it exists and the caller may read the record it is on."""
        record = self.table.records.get(sys_id)
        if record is None or not allowed(self.store, record["table_name"], user, write=False):
            return None
        return record

    async def upload(self, request: Request, user: str) -> Response:
        params = request.query_params
        names = ("table_name", "table_sys_id", "file_name")
        missing = [name for name in names if not params.get(name)]
        if missing:
            return _bad_request(f"Missing required parameter(s): {', '.join(missing)}")
        table_name, table_sys_id, file_name = (params[name] for name in names)
        content_type = request.headers.get("content-type", "")
        if not content_type:
            return _bad_request("The Content-Type header (the file's type) is required")
        if "encryption_context" in params:
            return _bad_request("encryption_context is not supported by this instance")
        problem = _file_name_problem(file_name)
        if problem:
            return _bad_request(problem)
        target = self.store.table(table_name)
        if (
            target is None
            or table_sys_id not in target.records
            or not allowed(self.store, table_name, user, write=False)
        ):
            return record_not_found()
        denied = acl_denial(self.store, table_name, user, write=True)
        if denied is not None:
            return denied
        limit = self.store.options.attachment_max_bytes
        content = await read_bounded(request, limit)
        if content is None:
            return _bad_request(f"The file is larger than the instance allows ({limit} bytes)")
        if not content:
            return _bad_request("The file is empty")
        values = {
            "file_name": file_name,
            "content_type": content_type,
            "table_name": target.definition.name,
            "table_sys_id": table_sys_id,
            "size_bytes": str(len(content)),
            "size_compressed": str(len(gzip.compress(content, mtime=0))),
            "compressed": "true",
            "chunk_size_bytes": CHUNK_SIZE_BYTES,
            "hash": hashlib.sha256(content).hexdigest(),
            "state": "available",
        }
        with self.store.lock:
            record = self.store.insert("sys_attachment", values, user)
            self.store.attachment_files[record["sys_id"]] = content
        metadata = self._metadata(request, record)
        location = metadata["download_link"].removesuffix("/file")
        return JSONResponse({"result": metadata}, 201, {"Location": location})

    async def listing(self, request: Request, user: str) -> Response:
        records = select(self.store, self.table, request.query_params.get("sysparm_query", ""))
        if isinstance(records, JSONResponse):
            return records
        visible = [r for r in records if self._readable(r["sys_id"], user) is not None]
        page = page_of(request, visible, self.store.options.default_limit)
        body = {"result": [self._metadata(request, r) for r in page.rows]}
        return JSONResponse(body, headers=page.headers)

    async def metadata(self, request: Request, user: str) -> Response:
        record = self._readable(request.path_params["sys_id"], user)
        if record is None:
            return record_not_found()
        return JSONResponse({"result": self._metadata(request, record)})

    async def download(self, request: Request, user: str) -> Response:
        record = self._readable(request.path_params["sys_id"], user)
        if record is None:
            return record_not_found()
        described = json.dumps(self._metadata(request, record), separators=(",", ":"))
        return Response(
            self.store.attachment_files.get(record["sys_id"], b""),
            headers={"Content-Type": record["content_type"], "X-Attachment-Metadata": described},
        )

    async def delete(self, request: Request, user: str) -> Response:
        record = self._readable(request.path_params["sys_id"], user)
        if record is None:
            return record_not_found()
        denied = acl_denial(self.store, record["table_name"], user, write=True)
        if denied is not None:
            return denied
        with self.store.lock:
            self.store.delete("sys_attachment", record["sys_id"])
            self.store.attachment_files.pop(record["sys_id"], None)
        return Response(status_code=204)

    def routes(self, authed: Guard) -> list[BaseRoute]:
        routes: list[BaseRoute] = []
        for root in ATTACHMENT_ROOTS:
            one = f"{root}/{{sys_id}}"
            routes += [
                Route(root, authed(self.listing), methods=["GET"]),
                Route(f"{root}/file", authed(self.upload), methods=["POST"]),
                Route(one, authed(self.metadata), methods=["GET"]),
                Route(one, authed(self.delete), methods=["DELETE"]),
                Route(f"{one}/file", authed(self.download), methods=["GET"]),
            ]
        return routes
