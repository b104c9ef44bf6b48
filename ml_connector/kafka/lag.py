"""Consumer lag per group and partition, sampled into ``mlc_consumer_lag``.

Measured as Kafka's own tools measure it (log end offset minus the group's committed offset),
through the admin API rather than from inside a consumer, so it is the same number for the
worker loop's consumers and the stream processors', and the same one ``status`` shows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence

from ml_connector.kafka.admin import partition_lag
from ml_connector.kafka.clients import admin as admin_client
from ml_connector.metrics import CONSUMER_LAG

log = logging.getLogger(__name__)

EVERY_SECONDS = 10.0


class LagSampler:
    def __init__(self, bootstrap: str, groups: Mapping[str, Sequence[str]],
                 every: float = EVERY_SECONDS) -> None:  # fmt: skip
        self.admin = admin_client(bootstrap, log_level=0)
        self.groups = {g: list(t) for g, t in groups.items()}
        self.every = every
        self._stop = threading.Event()

    def sample(self) -> None:
        for group, topics in self.groups.items():
            for (topic, partition), (_, lag) in partition_lag(self.admin, group, topics).items():
                CONSUMER_LAG.labels(group, topic, str(partition)).set(lag)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception as exc:  # noqa: BLE001 - the broker may be away; readiness says so
                log.debug("consumer lag not sampled: %s", exc)
            self._stop.wait(self.every)

    def start(self) -> LagSampler:
        """Samples in a daemon thread, so a slow broker never holds up the worker's loop."""
        threading.Thread(target=self._loop, name="lag", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
