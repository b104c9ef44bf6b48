"""The ``mlc.xref`` topic in memory, followed by a background consumer (see ``xref``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from ml_connector.kafka.clients import Consumed, consumer
from ml_connector.kafka.worker import Worker, each
from ml_connector.xref import XrefEntry, fold, xref_key


class XrefView:
    """The whole xref topic in memory, followed by a background consumer.

    ``version`` grows with every change, so a caller can tell cheaply whether anything arrived
    since it last looked. If following fails (say, a record that does not parse), the view
    stops, keeps the error in ``failure`` and calls ``on_failure`` with it, so the process can
    end rather than resolve against a view that no longer moves.
    """

    def __init__(self, bootstrap: str, topic: str,
                 on_failure: Callable[[BaseException], None] | None = None) -> None:  # fmt: skip
        self.topic = topic
        self._consumer = consumer(
            bootstrap,
            "mlc-xref-reader",  # never commits: every reader starts at the beginning
            **{"enable.partition.eof": False, "log_level": 0},
        )  # fmt: skip
        self._entries: dict[str, XrefEntry] = {}
        self._codes: dict[tuple[str, str, str], str] = {}  # (conn, entity, folded code) -> key
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_failure = on_failure
        self.failure: BaseException | None = None
        self.version = 0

    def start(self) -> XrefView:
        meta = self._consumer.list_topics(self.topic, timeout=10).topics[self.topic]
        worker = Worker(
            self._consumer, each(self._applied), name=f"xref view {self.topic}",
            partitions=[TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in meta.partitions],
            batch_size=500, commit=False,
        )  # fmt: skip
        self._thread = threading.Thread(target=self._follow, args=(worker,), name="xref-view",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is None:
            self._consumer.close()  # never started: the worker did not take it over
        else:
            self._thread.join(5)  # the worker closes the consumer as it ends

    def _follow(self, worker: Worker) -> None:
        try:
            asyncio.run(worker.run(self._stop.is_set))
        except Exception as exc:  # noqa: BLE001 - handed over, not swallowed: see on_failure
            self.failure = exc
            if self._on_failure is not None:
                self._on_failure(exc)

    async def _applied(self, m: Consumed) -> None:
        self.apply((m.key or b"").decode(), m.value)

    def apply(self, key: str, raw: bytes | None) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._codes.pop((old.connection, old.entity, fold(old.code)), None)
            if raw is not None:
                entry = XrefEntry.parse(key, raw)
                self._entries[key] = entry
                self._codes[(entry.connection, entry.entity, fold(entry.code))] = key
            self.version += 1

    def holds(self, connection: str, entity: str, code: str) -> bool:
        """Whether ``connection`` is known to hold a record of ``entity`` with this code."""
        return (connection, entity, fold(code)) in self._codes

    def peer_code(self, connection: str, entity: str, native_id: str, peer: str) -> str | None:
        """The code in ``peer`` of what ``connection`` holds as ``native_id``, if learned."""
        entry = self._entries.get(xref_key(connection, entity, native_id))
        if entry is None or entry.peer_connection != peer:
            return None
        return entry.peer_code
