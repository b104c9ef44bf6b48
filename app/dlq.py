"""The dead-letter topic as operators use it: list, show, and redrive to the original topic.

A dead record stays in the DLQ (it is a log); what changes is whether it was redriven, kept
per DLQ position in ``mlc.state``. A redrive copies the record to its original sink topic with
its own key, value and headers and a replay count; a record that has died ``max_replays``
times is not redriven again without ``force``, so nothing cycles between the two forever.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from ml_connector import headers as h
from ml_connector.audit import AuditLog
from ml_connector.avro import AvroCodec
from ml_connector.kafka.clients import Consumed, DeliveryTracker, Outgoing, producer, read_to_end
from ml_connector.state import StateStore


@dataclass(frozen=True)
class DeadRecord:
    message: Consumed
    info: dict[str, str]
    replayed: bool

    @property
    def position(self) -> str:
        return f"{self.message.partition}:{self.message.offset}"

    @property
    def original_topic(self) -> str:
        return self.info.get(h.ORIGINAL_TOPIC, "")

    @property
    def entity(self) -> str:
        return self.original_topic.rsplit(".", 1)[-1]

    @property
    def error_class(self) -> str:
        return self.info.get(h.EXCEPTION_CLASS, "")

    @property
    def error(self) -> str:
        return self.info.get(h.EXCEPTION_MESSAGE, "")

    @property
    def key(self) -> str:
        return (self.message.key or b"").decode(errors="replace")

    @property
    def replays(self) -> int:
        return int(self.info.get(h.REPLAYS, "0"))

    @property
    def failed_at(self) -> datetime:
        ms = int(self.info.get(h.FAILED_AT_MS, str(self.message.timestamp)))
        return datetime.fromtimestamp(ms / 1000).astimezone()


@dataclass(frozen=True)
class DeadFilter:
    entity: str | None = None
    error_class: str | None = None
    key: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_replayed: bool = False

    def __call__(self, r: DeadRecord) -> bool:
        return (
            (self.include_replayed or not r.replayed)
            and (self.entity is None or r.entity == self.entity)
            and (self.error_class is None or r.error_class == self.error_class)
            and (self.key is None or r.key == self.key)
            and (self.since is None or r.failed_at >= self.since)
            and (self.until is None or r.failed_at <= self.until)
        )


class DeadLetters:
    def __init__(
        self, bootstrap: str, dlq_topic: str, state_topic: str, target: str,
        audit_topic: str | None = None,
    ) -> None:  # fmt: skip
        self.bootstrap = bootstrap
        self.topic = dlq_topic
        self._producer = producer(bootstrap)
        self.state = StateStore(bootstrap, state_topic, self._producer)
        self._done_prefix = f"dlq|{target}|"
        self.audit_topic = audit_topic

    def _done_key(self, partition: int, offset: int) -> str:
        return f"{self._done_prefix}{partition}:{offset}"

    def records(self, keep: Callable[[DeadRecord], bool] = DeadFilter()) -> Iterator[DeadRecord]:
        done = set(self.state.load_prefix(self._done_prefix))
        for m in read_to_end(self.bootstrap, self.topic, "mlc-dlq-reader"):
            record = DeadRecord(m, h.as_dict(m.headers),
                                self._done_key(m.partition, m.offset) in done)  # fmt: skip
            if keep(record):
                yield record

    def get(self, position: str) -> DeadRecord | None:
        partition, _, offset = position.partition(":")
        for r in self.records(DeadFilter(include_replayed=True)):
            if r.message.partition == int(partition) and r.message.offset == int(offset):
                return r
        return None

    def replay(
        self, keep: DeadFilter, *, rate: float, max_replays: int, force: bool = False,
        codec: AvroCodec | None = None, on_record: Callable[[], None] | None = None,
    ) -> tuple[list[DeadRecord], list[DeadRecord]]:  # fmt: skip
        """Redrive matching records at most ``rate`` per second; return (replayed, refused).
        ``on_record()`` after each one redriven, for progress."""
        kafka = self._producer
        audit = AuditLog(kafka, self.audit_topic, "dlq") if self.audit_topic else None
        tracker = DeliveryTracker()
        replayed: list[DeadRecord] = []
        refused: list[DeadRecord] = []
        interval = 1.0 / rate if rate > 0 else 0.0
        next_at = time.monotonic()
        for r in self.records(keep):
            if r.replays >= max_replays and not force:
                refused.append(r)
                continue
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at, time.monotonic()) + interval
            own = h.original_headers(r.message.headers)
            tracker.send(kafka, Outgoing(r.original_topic, r.message.key, r.message.value,
                                         [*own, (h.REPLAYS, str(r.replays + 1))]))  # fmt: skip
            self.state.send(self._done_key(r.message.partition, r.message.offset),
                            {"replayed_at": int(time.time() * 1000)}, tracker)  # fmt: skip
            if audit is not None:
                source = _source(codec, r)
                audit.emit("replayed", connection=source.get("connection", "?"),
                           entity=source.get("entity", r.entity),
                           record_id=source.get("native_id", r.key), topic=r.original_topic,
                           dlq_position=r.position, replay=r.replays + 1)  # fmt: skip
            replayed.append(r)
            kafka.poll(0)
            if on_record is not None:
                on_record()
        tracker.wait(kafka)
        return replayed, refused


def _source(codec: AvroCodec | None, r: DeadRecord) -> dict[str, str]:
    """The envelope's source block, so the replay joins the record's audit trail."""
    if codec is None or r.message.value is None:
        return {}
    try:
        source = codec.decode(r.entity, r.message.value)["source"]
    except Exception:  # noqa: BLE001 - an undecodable record is audited by its key
        return {}
    return {k: str(v) for k, v in source.items() if v is not None}
