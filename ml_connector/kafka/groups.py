"""Which consumer groups each worker runs, on which input topics: what its lag is measured on
(the supervisor's stall watch and the workers' lag gauges alike)."""

from __future__ import annotations

from ml_connector.config import Settings


def consumer_groups(settings: Settings) -> dict[str, dict[str, list[str]]]:
    """component -> consumer group -> the topics it reads records from."""
    topics = settings.kafka.topics
    flows = settings.flows.values()
    change = sorted({topics.change(f.source, e) for f in flows for e in f.entities})
    sinks = {
        topics.sink_group(target): sorted({topics.sink(target, e) for f in flows
                                           if f.target == target for e in f.entities})
        for target in sorted({f.target for f in flows})
    }  # fmt: skip
    return {
        "processors": {topics.processor_app(): change},
        "sinks": sinks,
        "audit": {topics.audit_group: [topics.audit]},
    }
