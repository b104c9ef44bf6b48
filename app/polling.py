"""The producers' polling: each flow's loop over the poll tasks this instance holds.

With ``--once`` (an operator's one-off round) the process polls every task itself; otherwise
it holds what the producers' group assigns it (``TaskLease``), so any number of instances
poll each stream exactly once between them. A single instance is assigned every task and
polls as one process always did: each flow's entities in order, every poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ml_connector import heartbeat
from ml_connector.config import FlowConfig
from ml_connector.flows import PollTask
from ml_connector.kafka.tasks import REVOKE_GRACE, NotHolding
from ml_connector.kafka.worker import STALL_SECONDS
from ml_connector.metrics import TASK_HELD
from producers.poller import Poller

log = logging.getLogger(__name__)


async def _pause(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    """Until ``seconds`` passed, ``stop`` is set or ``wake`` (a task newly assigned)."""
    waits = [asyncio.ensure_future(e.wait()) for e in (stop, wake)]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


class FlowPolls:
    """One flow's poll loop in this instance."""

    def __init__(
        self,
        name: str,
        flow: FlowConfig,
        pollers: dict[str, Poller],  # by entity, in the flow's order
        *,
        holds: Callable[[PollTask], bool],
        once: bool = False,
    ) -> None:
        self.name = name
        self.flow = flow
        self.pollers = pollers
        self.holds = holds
        self.once = once
        self.failed: list[str] = []  # change topics whose poll failed
        self.wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[object]] = {}
        self._stopping: set[str] = set()  # revoked, waiting for the revocation to complete
        for entity in pollers:  # exported from the start: "not held here" rather than no data
            TASK_HELD.labels(name, flow.source, entity).set(0)

    def task(self, entity: str) -> PollTask:
        return PollTask(self.name, self.flow.source, entity)

    def started(self, entity: str) -> None:
        self._stopping.discard(entity)
        TASK_HELD.labels(self.name, self.flow.source, entity).set(1)
        self.wake.set()  # its first poll now, not after the interval

    async def stop(self, entity: str, lost: bool) -> None:
        """No new poll of ``entity``; the one running may finish (its cursor saved) within the
        grace, unless the task was lost (others may run it already): then it is cancelled,
        and its cursor is not advanced."""
        self._stopping.add(entity)
        TASK_HELD.labels(self.name, self.flow.source, entity).set(0)
        running = self._running.get(entity)
        if running is None or running.done():
            return
        if not lost:
            await asyncio.wait([running], timeout=REVOKE_GRACE)
        if not running.done():
            running.cancel()
            await asyncio.wait([running])

    def _due(self, entity: str) -> bool:
        return entity not in self._stopping and self.holds(self.task(entity))

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.flow.poll_interval.total_seconds()
        # Allowed: the interval, and the polls themselves (a first one reads everything).
        within = interval + STALL_SECONDS
        loop = f"polls {self.name}"
        try:
            while not stop.is_set():
                heartbeat.beat(loop, within)
                self.wake.clear()
                for entity, poller in self.pollers.items():
                    if self._due(entity):
                        await self._poll(entity, poller)
                if self.once:
                    stop.set()
                    break
                await _pause(stop, self.wake, interval)
        finally:
            heartbeat.forget(loop)

    async def _poll(self, entity: str, poller: Poller) -> None:
        running = asyncio.ensure_future(poller.poll_once())
        self._running[entity] = running
        try:
            await asyncio.wait([running])
        finally:
            if not running.done():  # this loop itself cancelled
                running.cancel()
                with contextlib.suppress(BaseException):
                    await running
            self._running.pop(entity, None)
        if running.cancelled():
            log.info("poll of %s stopped: the task moved; its cursor did not", poller.topic)
        elif isinstance(error := running.exception(), NotHolding):
            log.info("poll of %s not saved: %s", poller.topic, error)
        elif error is not None:
            # The cursor did not move; the next round reads the same window again.
            log.error("polling %s failed; retrying next interval", poller.topic,
                      exc_info=error)  # fmt: skip
            self.failed.append(poller.topic)
