"""Workers announce themselves on the state topic, on a real broker."""

from __future__ import annotations

import os
import time
import uuid

import pytest
from confluent_kafka.admin import AdminClient

from ml_connector import presence
from ml_connector.kafka.admin import TopicSpec, ensure_topics
from ml_connector.state import StateStore
from tests.integration.waiting import until

pytestmark = pytest.mark.kafka


def test_a_worker_is_up_while_it_announces_and_stopped_after_a_clean_stop(
    bootstrap: str,
) -> None:
    topic = f"presence-state-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(topic, 1, {"cleanup.policy": "compact"})])
    store = StateStore(bootstrap, topic)
    announcer = presence.Announcer(bootstrap, topic, "sinks", every=0.5).start()

    def mine() -> list[presence.Seen]:
        return [s for s in presence.seen(store.load_all()) if s.component == "sinks"]

    until("the first announcement", lambda: [s.state for s in mine()] == ["up"])
    first = mine()[0].last_seen
    until("a later announcement", lambda: mine()[0].last_seen > first)
    announcer.stop()
    [stopped] = mine()
    assert stopped.state == "stopped" and stopped.worker.endswith(f":{os.getpid()}")


def test_an_announcer_never_creates_the_state_topic(bootstrap: str) -> None:
    """Auto-created, it would not be compacted; the worker creates it as it must be."""
    topic = f"presence-absent-{uuid.uuid4().hex[:8]}"
    announcer = presence.Announcer(bootstrap, topic, "producers", every=0.3).start()
    time.sleep(1.5)  # several rounds in which it would have written
    announcer.stop()
    listed = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    assert topic not in listed
