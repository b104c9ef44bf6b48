"""The audit index says when a sync stopped short of the topic's end, so that ``status`` can
say its counts are partial rather than show them as the truth."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from app.audit_index import AuditIndex
from tests.integration.audit_topics import fresh_audit

pytestmark = pytest.mark.kafka


def test_a_sync_cut_short_says_so_and_the_next_goes_on(bootstrap: str, tmp_path: Path) -> None:
    topic, kafka, log = fresh_audit(bootstrap, "sinks")
    for n in range(6):
        log.emit("written", connection="bc", entity="vendor", record_id=f"v-{n}", target="sn")
    kafka.flush(10)
    index = AuditIndex(str(tmp_path / "audit.db"))
    group = f"g-{uuid.uuid4().hex[:6]}"

    index.sync(bootstrap, topic, group, timeout=0)  # out of time before the first batch
    assert not index.caught_up
    assert index.outcomes(("written",)) == {}

    index.sync(bootstrap, topic, group)
    assert index.caught_up
    assert index.outcomes(("written",))[("bc", "vendor", "sn", "written")].count == 6
