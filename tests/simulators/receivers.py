"""A scriptable HTTP receiver for the simulators' outbound deliveries (webhooks, events).

It records every request (path, headers, raw body) and answers with the next status of its
script, then 200 once the script is used up, so a test can make the first attempts fail and
watch the simulator retry.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, *statuses: int) -> None:
        self.script = list(statuses)
        self.calls: list[Received] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.calls.append(Received(request.url.path, dict(request.headers), body))
            status = self.script.pop(0) if self.script else 200
        return Response(status_code=status)

    def transport(self) -> httpx.ASGITransport:
        """For a simulator's ``delivery_transport``: deliveries reach this app in-process."""
        return httpx.ASGITransport(app=self.app)
