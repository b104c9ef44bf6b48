"""The batch side of the sink contract: one result per record, a single-record target looped."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ml_connector.api.errors import RetryableError
from sinks.base import Outcome, SinkRecord
from sinks.batching import BatchTarget, Result, batch_limit, chunked, write_batch


def record(key: str) -> SinkRecord:
    return SinkRecord("t", 0, 0, key, "vendor", {"op": "c", "before": None, "after": {}})


class OneAtATime:
    def __init__(self) -> None:
        self.written: list[str] = []

    async def write(self, r: SinkRecord) -> Outcome:
        if r.key == "retry":
            raise RetryableError("busy")
        if r.key == "bad":
            return Outcome("rejected", error="no such vendor")
        self.written.append(r.key)
        return Outcome("inserted", target_id=r.key)

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class Batching(OneAtATime):
    batch_limit = 3

    def __init__(self, results: list[Result] | Exception) -> None:
        super().__init__()
        self.results = results

    async def write_batch(self, records: Sequence[SinkRecord]) -> list[Result]:
        if isinstance(self.results, Exception):
            raise self.results
        return self.results


async def test_a_target_without_batches_is_looped_one_result_per_record() -> None:
    target = OneAtATime()
    results = await write_batch(target, [record("a"), record("retry"), record("bad"), record("b")])
    assert isinstance(results[0], Outcome) and results[0].status == "inserted"
    assert isinstance(results[1], RetryableError)
    assert isinstance(results[2], Outcome) and results[2].error == "no such vendor"
    assert target.written == ["a", "b"]  # its neighbours' failures did not stop them
    assert batch_limit(target) == 1 and not isinstance(target, BatchTarget)


async def test_a_batch_failing_as_a_whole_gives_each_record_that_error() -> None:
    busy = RetryableError("503 from the instance")
    results = await write_batch(Batching(busy), [record("a"), record("b")])
    assert results == [busy, busy]
    assert batch_limit(Batching(busy)) == 3


async def test_a_batch_answering_the_wrong_number_of_results_is_loud() -> None:
    with pytest.raises(RuntimeError, match="1 results for 2 records"):
        await write_batch(Batching([Outcome("inserted")]), [record("a"), record("b")])


def test_runs_are_bounded_by_count_and_by_bytes_in_order() -> None:
    sizes = [5, 5, 5, 5, 30, 1, 1]
    runs = chunked(list(range(len(sizes))), lambda i: sizes[i], most=3, most_bytes=12)
    assert runs == [[0, 1], [2, 3], [4], [5, 6]]
    assert chunked(list(range(7)), lambda i: 1, most=3, most_bytes=100) == [
        [0, 1, 2],
        [3, 4, 5],
        [6],
    ]
