"""Which workers run, told by the workers themselves on the state topic.

Each worker process writes ``worker|<component>|<host>:<pid>`` every few seconds: when it
started, when it last said so, how often it says so, and what its own readiness would name
(loops that stopped coming round, workers paused for a refusing peer). A clean stop writes a
last record saying so. ``ml-connector status`` reads these from any machine that reaches the
brokers, with no worker being asked: a worker whose last word is older than a few of its own
intervals is down (killed, hung, or cut off from Kafka), whatever its consumer groups say.
Producers and webhook receivers, which belong to no consumer group, are seen the same way.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from ml_connector import heartbeat
from ml_connector.kafka.clients import Outgoing, deliver, producer
from ml_connector.metrics import PAUSED

log = logging.getLogger(__name__)

PREFIX = "worker|"
EVERY = 10.0  # seconds between a worker's announcements
MISSED = 3  # announcements a worker may miss (a slow broker, a GC pause) before it is down


def _paused() -> list[str]:
    return [s.labels["worker"] for metric in PAUSED.collect() for s in metric.samples if s.value]


@dataclass(frozen=True)
class Seen:
    """What ``status`` makes of one worker's last announcement."""

    component: str
    worker: str  # host:pid
    state: str  # up | down | stopped
    last_seen: float  # epoch seconds of its last announcement
    started_at: float
    problems: list[str]

    @classmethod
    def of(cls, key: str, value: dict[str, Any], now: float) -> Seen:
        component, _, worker = key[len(PREFIX) :].partition("|")
        seen = float(value.get("seen_at", 0))
        if value.get("stopped"):
            state = "stopped"
        elif now - seen > MISSED * float(value.get("every", EVERY)):
            state = "down"
        else:
            state = "up"
        problems = [*value.get("stalled", []), *(f"{w} is paused" for w in value.get("paused", []))]
        return cls(component, worker, state, seen, float(value.get("started_at", seen)),
                   problems if state == "up" else [])  # fmt: skip


def seen(state: dict[str, dict[str, Any]], now: float | None = None) -> list[Seen]:
    """Every worker that ever announced itself on the state topic ``state`` holds."""
    at = time.time() if now is None else now
    found = [Seen.of(k, v, at) for k, v in state.items() if k.startswith(PREFIX)]
    return sorted(found, key=lambda s: (s.component, -s.last_seen))


class Announcer:
    """Announces this process as a worker of ``component`` until stopped."""

    def __init__(self, bootstrap: str, state_topic: str, component: str,
                 every: float = EVERY) -> None:  # fmt: skip
        self.topic = state_topic
        self.every = every
        self.key = f"{PREFIX}{component}|{socket.gethostname()}:{os.getpid()}"
        self.started_at = time.time()
        # Never the one to create the state topic: it must be made compacted, by the worker.
        self._producer = producer(bootstrap, log_level=0, **{"allow.auto.create.topics": False})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="presence", daemon=True)

    def start(self) -> Announcer:
        self._thread.start()
        return self

    def _value(self, stopped: bool = False) -> bytes:
        return json.dumps({
            "started_at": self.started_at, "seen_at": time.time(), "every": self.every,
            "stalled": heartbeat.stalled(), "paused": _paused(), "stopped": stopped,
        }).encode()  # fmt: skip

    def announce(self, stopped: bool = False) -> None:
        deliver(self._producer, [Outgoing(self.topic, self.key.encode(), self._value(stopped))],
                timeout=self.every)  # fmt: skip

    def _topic_ready(self) -> bool:
        return self.topic in self._producer.list_topics(timeout=self.every).topics

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._topic_ready():  # a first start creates it a moment later
                    self.announce()
            except Exception as exc:  # noqa: BLE001 - Kafka away: status will say we are down
                log.warning("could not announce %s on %s: %s", self.key, self.topic, exc)
            self._stop.wait(self.every)

    def stop(self) -> None:
        """A clean end: said once more, so that ``status`` tells it from a crash."""
        self._stop.set()
        self._thread.join(timeout=self.every)
        try:
            if self._topic_ready():
                self.announce(stopped=True)
        except Exception as exc:  # noqa: BLE001 - leaving anyway; it will read as down
            log.warning("could not announce the stop of %s: %s", self.key, exc)
