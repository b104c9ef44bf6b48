"""The one source class: a system's client, its declared streams and its company's name.

Every system is polled the same way: the poller runs a declared stream with the generic reader
(``ml_connector.streams.read``) on the source's client. What a system adds on top (webhook or
push look-ups) it adds by subclassing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from ml_connector import streams
from producers.stream import Stream


class Client(streams.Host, Protocol):
    async def aclose(self) -> None: ...


class StreamSource:
    """Reads ``streams`` through ``client``; ``company`` names the company or instance that
    every event's source block carries."""

    def __init__(
        self,
        system: str,
        client: Client,
        streams: Mapping[str, Stream],
        company: Callable[[], Awaitable[str | None]],
        check: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.system = system
        self.client = client
        self.streams = dict(streams)
        self._company = company
        self._check = check

    async def company(self) -> str | None:
        return await self._company()

    async def start(self) -> None:
        """The system's start-up check, if it has one (Acumatica's pinned version)."""
        if self._check is not None:
            await self._check()

    async def aclose(self) -> None:
        await self.client.aclose()
