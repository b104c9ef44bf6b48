"""The runner with a target that writes batches: one result per record, each routed alone,
and a key's records still in order across a retry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from ml_connector import headers as h
from ml_connector.api.errors import RetryableError
from ml_connector.kafka.clients import Outgoing, deliver, producer, read_to_end
from sinks.base import Outcome, SinkRecord
from sinks.batching import Result
from tests.integration.test_holding import TARGET, FlakyTarget, Sink, _running_until, sink

pytestmark = pytest.mark.kafka
__all__ = ["sink"]


class BatchingTarget(FlakyTarget):
    """Writes up to three records per call; the first write of ``fail_once`` offsets is
    retryable, ``refuse`` offsets are refused for good."""

    batch_limit = 3

    def __init__(self, fail_once: set[int], refuse: set[int]) -> None:
        super().__init__(fail_once)
        self.refuse = refuse
        self.batches: list[list[tuple[str, int]]] = []

    async def write_batch(self, records: Sequence[SinkRecord]) -> list[Result]:
        self.batches.append([(r.key, r.offset) for r in records])
        results: list[Result] = []
        for r in records:
            if r.offset in self.refuse:
                results.append(Outcome("rejected", error=f"no such vendor at {r.offset}"))
            elif r.offset in self.fail_once:
                self.fail_once.discard(r.offset)
                results.append(RetryableError("busy", status=503))
            else:
                self.written.append((r.key, r.offset))
                results.append(Outcome("inserted", target_id=f"t-{r.offset}"))
        return results


async def test_a_batch_routes_each_result_alone_and_keeps_each_key_in_order(
    sink: Sink, vendor_event: dict[str, Any]
) -> None:
    target = BatchingTarget(fail_once={0}, refuse={2})
    sink.target = target
    keys = [b"a", b"b", b"c", b"d", b"e", b"a"]  # offsets 0..5; a's second record is 5
    deliver(producer(sink.bootstrap), [
        Outgoing(sink.sink_topic, k, sink.event(k.decode(), f"v{i}", vendor_event))
        for i, k in enumerate(keys)
    ])  # fmt: skip
    await _running_until(sink.runner(), lambda: len(target.written) >= 5)

    # The first round takes one record of each key, in runs of at most three.
    assert target.batches[:2] == [[("a", 0), ("b", 1), ("c", 2)], [("d", 3), ("e", 4)]]
    # a's first record went to retry, so its second followed it there and was written after.
    assert [o for k, o in target.written if k == "a"] == [0, 5]
    assert sorted(target.written) == [("a", 0), ("a", 5), ("b", 1), ("d", 3), ("e", 4)]
    assert sink.stages("a") == [("retried", 0), ("held", 5), ("written", 0), ("written", 5)]
    [dead] = read_to_end(sink.bootstrap, sink.topics.dlq(TARGET), "dlq-reader")
    assert dead.key == b"c"
    assert h.as_dict(dead.headers)[h.EXCEPTION_MESSAGE] == "no such vendor at 2"
