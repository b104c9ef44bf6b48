"""Compacted state, cursors and Avro single-object encoding on a real broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ml_connector.avro import AvroCodec, SingleObjectCatalog
from ml_connector.kafka.admin import COMPACTED, TopicSpec, ensure_topics
from ml_connector.state import CompactedTopic, StateStore


def _topic(bootstrap: str, compacted: bool = True) -> str:
    name = f"test.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(name, 1, COMPACTED if compacted else {})])
    return name


def test_state_store_keeps_latest_value_per_key(bootstrap: str) -> None:
    store = StateStore(bootstrap, _topic(bootstrap))
    assert store.load("cursor|bc|vendor") is None
    store.save("cursor|bc|vendor", {"n": 1})
    store.save("cursor|bc|item", {"n": 7})
    store.save("cursor|bc|vendor", {"n": 2})
    assert store.load("cursor|bc|vendor") == {"n": 2}
    assert store.load_all() == {"cursor|bc|vendor": {"n": 2}, "cursor|bc|item": {"n": 7}}


def test_single_object_encoding_is_readable_by_another_process(
    bootstrap: str, vendor_event: dict[str, Any]
) -> None:
    schemas_topic = _topic(bootstrap)
    writer = AvroCodec(SingleObjectCatalog(CompactedTopic(bootstrap, schemas_topic)))
    data = writer.encode("mlc.bc.vendor", "vendor", vendor_event)
    assert data[:2] == b"\xc3\x01"
    # A fresh codec has no cache: it must find the writer's schema in the topic.
    reader = AvroCodec(SingleObjectCatalog(CompactedTopic(bootstrap, schemas_topic)))
    decoded = reader.decode("vendor", data)
    assert decoded["after"]["name"] == "Acme"
    assert decoded["after"]["balance"] == Decimal("12.5000")
    assert decoded["source"]["modified_at"] == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
