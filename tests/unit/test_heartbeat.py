"""A loop is stalled only past its own allowance, and not once it ended on purpose."""

from __future__ import annotations

import time

from ml_connector import heartbeat


def test_a_loop_is_stalled_past_its_allowance_only() -> None:
    heartbeat.beat("polls slow-flow", within=600.0)
    heartbeat.beat("sink fast", within=30.0)
    now = time.time()
    assert heartbeat.stalled(now + 10) == []
    [late] = heartbeat.stalled(now + 60)
    assert late.startswith("sink fast has not come round for 6") and "allowed 30 s" in late
    assert len(heartbeat.stalled(now + 700)) == 2
    heartbeat.forget("sink fast")
    heartbeat.forget("polls slow-flow")
    assert heartbeat.stalled(now + 700) == []
