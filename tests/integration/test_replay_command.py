"""``ml-connector replay --group``: refused while the group runs (exit 1), and followed with a
progress bar as the group re-reads what was moved back, on a real broker."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from typer.testing import CliRunner

from app.cli import app
from app.offsets import group_stopped
from ml_connector.kafka.admin import TopicSpec, ensure_topics
from ml_connector.kafka.clients import Outgoing, consumer, deliver, producer
from tests.integration.waiting import until

pytestmark = pytest.mark.kafka
RECORDS = 40


def _consume(c: Consumer, n: int) -> int:
    """Read and commit ``n`` records (or what comes within a minute)."""
    got = 0
    deadline = time.monotonic() + 60
    while got < n and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got += 1
            c.commit(m, asynchronous=False)
    return got


def test_a_group_replay_is_refused_while_it_runs_then_followed_to_the_end(
    bootstrap: str, tmp_path: Path
) -> None:
    topic, group = f"replay-{uuid.uuid4().hex[:8]}", f"replay-g-{uuid.uuid4().hex[:6]}"
    ensure_topics(bootstrap, [TopicSpec(topic, 2)])
    deliver(producer(bootstrap), [Outgoing(topic, str(n).encode(), b"v") for n in range(RECORDS)])
    config = tmp_path / "mlc.yaml"
    config.write_text(f"kafka: {{bootstrap_servers: '{bootstrap}'}}\n")
    replay = ["replay", "-c", str(config), "--group", group, "--to-earliest"]

    running = consumer(bootstrap, group)
    running.subscribe([topic])
    assert _consume(running, RECORDS) == RECORDS
    refused = CliRunner().invoke(app, replay)
    assert refused.exit_code == 1, refused.output  # the request is sound; the group runs
    assert "stop its consumers first" in refused.output
    running.close()
    until("the group to empty", lambda: group_stopped(bootstrap, group))

    result: dict[str, Any] = {}
    follower = threading.Thread(
        target=lambda: result.update(r=CliRunner().invoke(app, [*replay, "--follow"]))
    )
    follower.start()
    # The consumers start again once the offsets moved (the operator's part of a replay).
    looking = consumer(bootstrap, group)  # never subscribes, so it never joins the group
    parts = [TopicPartition(topic, p) for p in range(2)]
    try:
        until("the offsets to move back",
               lambda: all(tp.offset == 0 for tp in looking.committed(parts, 10)))  # fmt: skip
    finally:
        looking.close()
    again = consumer(bootstrap, group)
    again.subscribe([topic])
    assert _consume(again, RECORDS) == RECORDS
    follower.join(timeout=60)
    again.close()
    done = result["r"]
    assert done.exit_code == 0, done.output
    assert f"{RECORDS} record(s) to re-read" in done.output
    assert f"re-read: {RECORDS} of {RECORDS}" in done.output
