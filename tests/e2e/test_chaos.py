"""Chaos: workers killed, the broker restarted, a flaky target; still exactly once."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devkit.embedded import EmbeddedBroker

pytestmark = pytest.mark.kafka

RECORDS = 10_000


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker of this test's own, since the test restarts it."""
    broker = EmbeddedBroker().start()
    yield broker
    broker.stop()


def test_chaos_leaves_each_record_exactly_once(
    pipeline_factory: Callable[..., Any], own_broker: EmbeddedBroker
) -> None:
    p = pipeline_factory(
        broker=own_broker.bootstrap_servers, vendors=RECORDS, poll_interval=2.0,
        bc_page_size=1000, delivery={"attempts": 3, "retry_tiers": [1.0, 3.0, 10.0]},
        run=False,
    )  # fmt: skip
    p.set_faults(error_rate=0.05, error_status=503)
    p.supervisor.start()
    events: list[str] = []

    def arrived() -> int:
        return len(p.sn_vendor_counts())

    def kill(*components: str) -> None:
        pids = p.supervisor.pids()
        for c in components:
            os.kill(pids[c], signal.SIGKILL)
        events.append(f"{arrived()}: SIGKILL {', '.join(components)}")

    def storm(seconds: int) -> None:
        assert p.sn.post("/_sim/faults/storm", json={"seconds": seconds}).status_code == 200
        events.append(f"{arrived()}: 429 storm {seconds}s")

    def restart_broker() -> None:
        own_broker.kill()
        events.append(f"{arrived()}: broker killed")
        time.sleep(3)
        own_broker.start()
        events.append(f"{arrived()}: broker back")

    plan: list[tuple[int, Callable[[], None]]] = [
        (500, lambda: kill("sinks")),
        (1500, lambda: kill("processors")),
        (2500, lambda: storm(3)),
        (3500, restart_broker),
        (5000, lambda: kill("sinks", "processors")),
        (6500, lambda: storm(3)),
        (7500, lambda: kill("processors")),
        (8500, lambda: kill("sinks")),
    ]
    for threshold, action in plan:
        p.wait(f"{threshold} vendors in ServiceNow", lambda t=threshold: arrived() >= t, 600)
        action()
    p.wait("every vendor in ServiceNow", lambda: arrived() >= RECORDS, 900)
    p.settle()

    print("\n".join(events))
    restarts = {c.component: c.restarts for c in p.supervisor.children}
    print(f"restarts: {restarts}; imported rows: {p.imported_rows()}; states: {p.import_states()}")
    assert restarts["sinks"] >= 3 and restarts["processors"] >= 3
    counts = p.sn_vendor_counts()
    assert len(counts) == RECORDS
    assert set(counts.values()) == {1}  # exactly once by the coalesce key
    assert p.import_states()["inserted"] == RECORDS
    assert p.dead_letters() == 0
