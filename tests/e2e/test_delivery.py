"""Delivery guarantees on real Kafka against the simulators: retries, audit, replays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ml_connector.offsets import ReplayRefused, reset_group

pytestmark = pytest.mark.kafka

FAST_TIERS = {"attempts": 1, "retry_tiers": [1.0, 5.0, 10.0]}


def test_a_record_retried_twice_then_written_shows_its_whole_trail(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(vendors=20, poll_interval=1.0, delivery=FAST_TIERS, run=False)
    p.set_faults(error_rate=1.0, error_status=503)  # ServiceNow down from the start
    p.supervisor.start()
    # Each vendor fails, waits 1 s in the first tier, fails again and moves to the 5 s tier.
    p.wait("vendors in the second retry tier", lambda: p.retried_to("5s") >= 20)
    p.set_faults(error_rate=0.0)  # ServiceNow is back before they are due again
    p.wait("all vendors in ServiceNow", lambda: len(p.sn_vendor_counts()) >= 20)
    p.settle()

    vendor = p.bc_vendors()[0]
    stages = [r.stage for r in p.audit_trail(vendor["id"])]
    assert stages[:3] == ["polled", "produced", "routed"]
    assert stages[3:] == ["retried", "retried", "written"], stages
    trail = p.audit_trail(vendor["id"])
    assert [r.detail.get("tier") for r in trail if r.stage == "retried"] == ["1s", "5s"]
    assert "503" in trail[3].detail["error"]
    assert trail[-1].detail["attempt"] == 3
    assert trail[-1].detail["status"] == "inserted"
    assert p.dead_letters() == 0
    assert set(p.sn_vendor_counts().values()) == {1}


def test_resetting_the_sink_group_to_earliest_leaves_the_target_unchanged(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(vendors=200, poll_interval=1.0)
    p.wait("all vendors in ServiceNow", lambda: len(p.sn_vendor_counts()) >= 200)
    p.settle()
    before = p.sn_vendors()
    calls = p.import_calls()
    group = p.topics.sink_group("sn")

    with pytest.raises(ReplayRefused, match="stop its consumers first"):
        reset_group(p.box.bootstrap, group, to_earliest=True)
    p.supervisor.hold("sinks")
    p.wait("the sink group to empty", lambda: _group_empty(p, group))
    moved = reset_group(p.box.bootstrap, group, to_earliest=True)
    sink_topic = p.topics.sink("sn", "vendor")
    assert sum(m.before - m.after for m in moved if m.topic == sink_topic) == 200
    p.supervisor.release("sinks")
    p.wait("the replay to be written", lambda: p.import_calls() >= calls + 200)
    p.settle()

    assert p.sn_vendors() == before  # same rows, same content, same sys_updated_on
    assert p.import_states()["ignored"] == 200  # every replayed row matched and changed nothing
    assert p.dead_letters() == 0


def _group_empty(p: Any, group: str) -> bool:
    from confluent_kafka import ConsumerGroupState
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": p.box.bootstrap})
    state = admin.describe_consumer_groups([group])[group].result().state
    return state in (ConsumerGroupState.EMPTY, ConsumerGroupState.DEAD)
