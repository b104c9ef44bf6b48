"""Kafka header names on retried and dead-lettered records, defined once.

Where Kafka Connect's dead-letter convention has a name, it is used as Connect writes it
(``__connect.errors.*``, values as UTF-8 text), so tools that read Connect DLQs read ours.
What Connect has no name for (attempts, due time, original timestamp, consumer group, replay
count) is under ``mlc.``. The record's own key, value and headers are copied unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

ORIGINAL_TOPIC = "__connect.errors.topic"
ORIGINAL_PARTITION = "__connect.errors.partition"
ORIGINAL_OFFSET = "__connect.errors.offset"
CONNECTOR = "__connect.errors.connector.name"  # the target connection
STAGE = "__connect.errors.stage"  # sink | retry | replay
EXCEPTION_CLASS = "__connect.errors.exception.class.name"
EXCEPTION_MESSAGE = "__connect.errors.exception.message"
EXCEPTION_STACKTRACE = "__connect.errors.exception.stacktrace"
ORIGINAL_TIMESTAMP = "mlc.original.timestamp"
CONSUMER_GROUP = "mlc.consumer.group"
ATTEMPT = "mlc.attempt"  # failed writes so far
DUE_MS = "mlc.due.ms"  # when a retry tier may try again (epoch ms)
TIER = "mlc.retry.tier"
REPLAYS = "mlc.replay.count"  # times a dead record has been redriven
FAILED_AT_MS = "mlc.failed.ms"

OURS = frozenset(
    {ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET, CONNECTOR, STAGE, EXCEPTION_CLASS,
     EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE, ORIGINAL_TIMESTAMP, CONSUMER_GROUP, ATTEMPT,
     DUE_MS, TIER, REPLAYS, FAILED_AT_MS}
)  # fmt: skip

Headers = list[tuple[str, str | bytes | None]]


def as_dict(headers: Iterable[tuple[str, str | bytes | None]]) -> dict[str, str]:
    """Last value per name, decoded; binary values that are not UTF-8 are shown as hex."""
    out: dict[str, str] = {}
    for name, value in headers:
        if value is None:
            continue
        if isinstance(value, bytes):
            try:
                out[name] = value.decode()
            except UnicodeDecodeError:
                out[name] = value.hex()
        else:
            out[name] = value
    return out


def original_headers(headers: Iterable[tuple[str, str | bytes | None]]) -> Headers:
    """The record's own headers, without the ones delivery added."""
    return [(n, v) for n, v in headers if n not in OURS]


def with_delivery(headers: Iterable[tuple[str, str | bytes | None]], **values: str) -> Headers:
    """Own headers plus delivery headers; ``values`` keys are this module's constant names."""
    names = {k: globals()[k] for k in values}
    return [*original_headers(headers), *((names[k], v) for k, v in values.items())]
