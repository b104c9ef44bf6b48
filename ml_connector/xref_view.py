"""The ``mlc.xref`` topic in a local RocksDB, followed by a background consumer (see ``xref``).

On disk rather than in dicts, so the process's memory does not grow with every master any
source ever sent; read back from the topic's beginning at each start, as before.
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import threading
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from rocksdict import BlockBasedOptions, Cache, Options, Rdict

from ml_connector.kafka.clients import Consumed, consumer
from ml_connector.kafka.worker import Worker, each
from ml_connector.scratch import scratch_dir
from ml_connector.xref import XrefEntry, fold, xref_key

ENTRY = b"e\0"  # + xref key -> the entry's JSON, as on the topic
CODE = b"c\0"  # + connection, entity, folded code -> xref key


def _code_key(connection: str, entity: str, code: str) -> bytes:
    return CODE + "\0".join((connection, entity, fold(code))).encode()


def _open(path: str) -> Rdict:
    """Memory bounded: a 4 MiB block cache, two 4 MiB write buffers."""
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_write_buffer_size(4 * 2**20)
    options.set_max_write_buffer_number(2)
    table = BlockBasedOptions()
    table.set_block_cache(Cache(4 * 2**20))
    options.set_block_based_table_factory(table)
    return Rdict(path, options=options)


class XrefView:
    """The whole xref topic in a local store, followed by a background consumer.

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
        self._path = scratch_dir("xref")
        self._db = _open(self._path)
        atexit.register(self._remove)
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
        # What was read stays readable; the store goes when the process exits.

    def _remove(self) -> None:
        with self._lock:
            if self._path:
                self._db.close()
                shutil.rmtree(self._path, ignore_errors=True)
                self._path = ""

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
        entry = XrefEntry.parse(key, raw) if raw is not None else None  # raises before writing
        with self._lock:
            stored = self._db.get(ENTRY + key.encode())
            if stored is not None:
                old = XrefEntry.parse(key, stored)
                del self._db[_code_key(old.connection, old.entity, old.code)]
            if entry is None:
                del self._db[ENTRY + key.encode()]
            else:
                self._db[ENTRY + key.encode()] = raw
                self._db[_code_key(entry.connection, entry.entity, entry.code)] = key.encode()
            self.version += 1

    def holds(self, connection: str, entity: str, code: str) -> bool:
        """Whether ``connection`` is known to hold a record of ``entity`` with this code."""
        return _code_key(connection, entity, code) in self._db

    def peer_code(self, connection: str, entity: str, native_id: str, peer: str) -> str | None:
        """The code in ``peer`` of what ``connection`` holds as ``native_id``, if learned."""
        key = xref_key(connection, entity, native_id)
        stored = self._db.get(ENTRY + key.encode())
        if stored is None:
            return None
        entry = XrefEntry.parse(key, stored)
        return entry.peer_code if entry.peer_connection == peer else None
