"""kafka.manage_topics: false: topics are checked, never created, and each difference named."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from app.pipeline import TopicsNotReady, prepare
from ml_connector.avro import MissingRegistry
from ml_connector.config import Settings, parse_settings
from ml_connector.kafka.admin import ensure_topics, pipeline_topics

FLOW = {"source": "bc", "target": "sn", "entities": ["vendor"]}
CONNECTIONS = {
    "bc": {"system": "business_central", "environment": "p",
           "auth": {"kind": "entra_client_credentials", "token_url": "https://t/token",
                    "client_id": "c", "client_secret": {"secret": "s"}}},
    "sn": {"system": "servicenow", "instance_url": "https://sn.example.com",
           "auth": {"kind": "servicenow", "client_id": "c", "client_secret": {"secret": "s"}}},
}  # fmt: skip


def settings(prefix: str, **kafka: object) -> Settings:
    return parse_settings({
        "kafka": {"topic_prefix": prefix, "encoding": "single-object", **kafka},
        "connections": CONNECTIONS, "flows": {"f": FLOW},
    })  # fmt: skip


def test_missing_and_different_topics_are_named_and_nothing_is_created(bootstrap: str) -> None:
    prefix = f"mt{uuid.uuid4().hex[:6]}"
    s = settings(prefix, manage_topics=False)
    specs = {t.name: t for t in pipeline_topics(s)}
    topics = s.kafka.topics
    admin = AdminClient({"bootstrap.servers": bootstrap})
    # A platform team created two of them, not quite right: wrong partitions, and the
    # compacted state topic with the delete policy.
    wrong = [NewTopic(topics.change("bc", "vendor"), num_partitions=1, replication_factor=1),
             NewTopic(topics.state, num_partitions=1, replication_factor=1,
                      config={"cleanup.policy": "delete"})]  # fmt: skip
    for future in admin.create_topics(wrong).values():
        future.result()
    with pytest.raises(TopicsNotReady) as err:
        prepare(s, bootstrap)
    message = str(err.value)
    assert f"{topics.change('bc', 'vendor')}: 1 partitions, 3 needed" in message
    assert f"{topics.state}: cleanup.policy delete, compact needed" in message
    assert f"{topics.sink('sn', 'vendor')}: missing" in message
    existing = set(admin.list_topics(timeout=10).topics)
    assert topics.sink("sn", "vendor") not in existing  # checked, not created
    assert len([n for n in specs if n in existing]) == 2


def test_topics_created_as_needed_pass_the_check(bootstrap: str) -> None:
    prefix = f"mt{uuid.uuid4().hex[:6]}"
    managed = settings(prefix)
    ensure_topics(bootstrap, pipeline_topics(managed))
    prepare(settings(prefix, manage_topics=False), bootstrap)  # no error: all as needed


def test_no_registry_is_an_error_unless_single_object_is_chosen(bootstrap: str) -> None:
    prefix = f"mt{uuid.uuid4().hex[:6]}"
    with pytest.raises(MissingRegistry, match=r"kafka\.encoding: single-object"):
        prepare(settings(prefix, encoding="confluent"), bootstrap)
