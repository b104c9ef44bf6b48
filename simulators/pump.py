"""A background task in the serving event loop that runs while there is work.

Simulators do things after the fact (send webhooks, batch notifications, retry) on the
simulator clock, which tests move by hand; so instead of timers, a task polls a ``step``
every tick while ``busy()`` says there is something left. ``kick`` works from any thread:
a test poking a store from its own thread wakes the loop that serves the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

TICK_S = 0.02


class Pump:
    def __init__(self, step: Callable[[], Awaitable[object]], busy: Callable[[], bool]) -> None:
        self._step = step
        self._busy = busy
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def kick(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._start)
            return
        self._loop = loop
        self._start()

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._busy():
            await self._step()
            await asyncio.sleep(TICK_S)
