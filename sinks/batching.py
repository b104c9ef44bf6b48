"""The batch side of the sink contract: a target writes several records at once and answers
one result per record, in the order given.

A result is what a single ``write`` would have ended in: an ``Outcome`` (written, or refused
for good when its ``error`` is set: the DLQ with that reason), or the exception the write
would have raised (a ``RetryableError`` goes to the retry tier with its message, refused
credentials pause the target, anything else goes to the DLQ). So one bad record in a batch
ends where it would have ended alone, and its neighbours are written.

A target that cannot batch needs nothing of this: ``write_batch`` falls back to a loop over
its single-record ``write``, one record per call, run as many at once as the runner allows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar, runtime_checkable

from sinks.base import Outcome, SinkRecord, Target

Result = Outcome | Exception
T = TypeVar("T")
R = TypeVar("R")


@runtime_checkable
class BatchTarget(Protocol):
    """A target whose API writes many records in one request."""

    # At most this many records are handed to one ``write_batch`` (the API's own limit).
    batch_limit: int

    async def write_batch(self, records: Sequence[SinkRecord]) -> list[Result]: ...


def batch_limit(target: Target) -> int:
    """How many records the runner hands the target at once: 1 for a target that writes one
    at a time, so the runner's concurrency still writes several keys at once."""
    return max(1, target.batch_limit) if isinstance(target, BatchTarget) else 1


async def each(write: Callable[[T], Awaitable[R]], items: Sequence[T]) -> list[R | Exception]:
    """One result per item from a single-item write, in order: what it returned, or what it
    raised (an error of one is that one's result, never its neighbours')."""
    results: list[R | Exception] = []
    for item in items:
        try:
            results.append(await write(item))
        except Exception as exc:  # noqa: BLE001 - the runner sorts it by class, as for one
            results.append(exc)
    return results


async def write_batch(target: Target, records: Sequence[SinkRecord]) -> list[Result]:
    """The target's batch write, or the loop over its single writes where it has none.

    A batch write that raises as a whole (the request itself failed after its retries) gives
    every record of the batch that error: each is retried or dead-lettered as it would be
    alone. A batch write answering a different number of results is a bug, said loudly.
    """
    if not isinstance(target, BatchTarget):
        return await each(target.write, records)
    try:
        results = await target.write_batch(records)
    except Exception as exc:  # noqa: BLE001 - sorted per record by the runner
        return [exc] * len(records)
    if len(results) != len(records):
        raise RuntimeError(
            f"{type(target).__name__}.write_batch answered {len(results)} results for "
            f"{len(records)} records"
        )
    return results


class OneAtATime:
    """A target with its batch write hidden, so the runner takes the per-record path: for
    comparing the two, and for what only single writes show."""

    def __init__(self, target: Target) -> None:
        self.target = target

    async def write(self, record: SinkRecord) -> Outcome:
        return await self.target.write(record)

    async def start(self) -> None:
        await self.target.start()

    async def aclose(self) -> None:
        await self.target.aclose()


def chunked(
    items: Sequence[T], size_of: Callable[[T], int], *, most: int, most_bytes: int
) -> list[list[T]]:
    """``items`` in order, cut into runs of at most ``most`` items and ``most_bytes`` bytes
    (an item larger than ``most_bytes`` goes alone)."""
    out: list[list[T]] = []
    run: list[T] = []
    size = 0
    for item in items:
        n = size_of(item)
        if run and (len(run) >= most or size + n > most_bytes):
            out.append(run)
            run, size = [], 0
        run.append(item)
        size += n
    if run:
        out.append(run)
    return out
