"""Every record is handled (written, in a retry tier, or dead-lettered with the reason), or the
worker stops loudly: the cases that once left a worker alive and stuck, or lost a change."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from app.audit_index import AuditIndex
from ml_connector import headers as h
from ml_connector.api.errors import CredentialsRejected, NotFound, RetryableError
from ml_connector.audit import AuditRecord
from ml_connector.kafka.admin import TopicSpec, ensure_topics
from ml_connector.kafka.clients import Outgoing, consumer, deliver, producer, read_to_end
from producers.hint import Hint
from producers.hints import HintFollower
from sinks import runner as runner_module
from sinks.base import Outcome, SinkRecord
from tests.integration.test_holding import TARGET, FlakyTarget, Sink, _running_until, sink

pytestmark = pytest.mark.kafka
__all__ = ["sink"]  # the fixture, shared with the holding tests


def _dead(s: Sink) -> list[dict[str, str]]:
    return [h.as_dict(r.headers) for r in read_to_end(s.bootstrap, s.topics.dlq(TARGET), "d")]


async def test_retry_copies_with_unusable_headers_are_dead_lettered_not_fatal(
    sink: Sink, vendor_event: dict[str, Any]
) -> None:
    good = sink.event("v1", "Fine", vendor_event)
    no_origin = [(h.DUE_MS, "0"), (h.TIER, "fast")]
    bad_offset = [*h.with_delivery([], ORIGINAL_TOPIC=sink.sink_topic, ORIGINAL_PARTITION="0",
                                   ORIGINAL_OFFSET="zero"), (h.DUE_MS, "0")]  # fmt: skip
    foreign = [*h.with_delivery([], ORIGINAL_TOPIC="elsewhere", ORIGINAL_PARTITION="0",
                                ORIGINAL_OFFSET="0"), (h.DUE_MS, "0")]  # fmt: skip
    deliver(producer(sink.bootstrap), [
        Outgoing(sink.tier.topic, b"x1", good, no_origin),
        Outgoing(sink.tier.topic, b"x2", good, bad_offset),
        Outgoing(sink.tier.topic, b"x3", good, foreign),
        Outgoing(sink.sink_topic, b"v1", good),
    ])  # fmt: skip
    await _running_until(sink.runner(), lambda: len(_dead(sink)) >= 3 and sink.target.written)
    reasons = {d[h.EXCEPTION_CLASS] for d in _dead(sink)}
    assert reasons == {"MalformedRetryRecord"}
    messages = " ".join(d[h.EXCEPTION_MESSAGE] for d in _dead(sink))
    assert "without the header" in messages and "not a number" in messages
    assert "not a sink topic" in messages
    assert sink.target.written == [("v1", 0)]  # the target went on


async def test_a_reset_to_earliest_sends_a_once_retried_key_again(
    sink: Sink, vendor_event: dict[str, Any]
) -> None:
    sink.target.fail_once = {0}
    deliver(producer(sink.bootstrap), [
        Outgoing(sink.sink_topic, b"v1", sink.event("v1", "One", vendor_event)),
        Outgoing(sink.sink_topic, b"v2", sink.event("v2", "Two", vendor_event)),
    ])  # fmt: skip
    await _running_until(sink.runner(), lambda: len(sink.target.written) >= 2)
    assert sorted(sink.target.written) == [("v1", 0), ("v2", 1)]
    c = Consumer({"bootstrap.servers": sink.bootstrap, "group.id": sink.topics.sink_group(TARGET)})
    c.commit(offsets=[TopicPartition(sink.sink_topic, 0, 0)], asynchronous=False)
    c.close()
    sink.target.written.clear()
    await _running_until(sink.runner(), lambda: len(sink.target.written) >= 2)
    assert sorted(sink.target.written) == [("v1", 0), ("v2", 1)]  # v1 was retried once: sent


class RefusingTarget(FlakyTarget):
    """Refuses the credentials a few times, then takes every record."""

    def __init__(self, refusals: int) -> None:
        super().__init__(set())
        self.refusals = refusals

    async def write(self, record: SinkRecord) -> Outcome:
        if self.refusals > 0:
            self.refusals -= 1
            raise CredentialsRejected("POST /api/now/import -> 401 invalid credentials", status=401)
        return await super().write(record)


async def test_refused_credentials_pause_the_target_and_dead_letter_nothing(
    sink: Sink, vendor_event: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    monkeypatch.setattr(runner_module, "CREDENTIAL_PAUSE", 0.2)
    sink.target = RefusingTarget(refusals=3)
    deliver(producer(sink.bootstrap), [
        Outgoing(sink.sink_topic, f"v{i}".encode(), sink.event(f"v{i}", "N", vendor_event))
        for i in range(5)
    ])  # fmt: skip
    runner = sink.runner()
    await _running_until(runner, lambda: len(sink.target.written) >= 5)
    # Each at least once: a record written beside one refused may be written again after the
    # pause, which the targets' idempotent upserts absorb.
    assert {o for _, o in sink.target.written} == {0, 1, 2, 3, 4}
    assert _dead(sink) == []
    assert runner.stats.credential_pauses >= 1 and runner.stats.retried == 0
    assert "refused the connection's credentials" in caplog.text
    assert "nothing dead-lettered" in caplog.text


class Source:
    """A hinted source whose reads fail as told."""

    def __init__(self, failures: dict[str, list[Exception]]) -> None:
        self.failures = failures
        self.read: list[str] = []

    def entity_for(self, hint: Hint) -> str | None:
        return "vendor"

    async def records_for(self, hint: Hint) -> tuple[str | None, list[dict[str, Any]]]:
        if self.failures.get(str(hint.record_id)):
            raise self.failures[str(hint.record_id)].pop(0)
        self.read.append(str(hint.record_id))
        return "vendor", [{"id": hint.record_id}]


class Emitter:
    def __init__(self) -> None:
        self.emitted: list[dict[str, Any]] = []

    async def emit(self, records: list[dict[str, Any]], *, op: str, seen_via: str) -> int:
        self.emitted += records
        return len(records)


async def test_the_hint_follower_waits_out_a_down_source_and_skips_a_refused_hint(
    bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from producers import hints as hints_module

    monkeypatch.setattr(hints_module, "HINT_PAUSE", 0.2)
    topic = f"test.hints.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(topic, 1)])
    hints = [Hint("bc", "vendors", "updated", f"r{i}", "vendors", None) for i in range(3)]
    deliver(producer(bootstrap), [Outgoing(topic, b"bc", b"not a hint")]
            + [Outgoing(topic, b"bc", x.to_json()) for x in hints])  # fmt: skip
    # r0: the source is down twice, then answers; r1: refused for good; r2: fine.
    source = Source({"r0": [RetryableError("503"), RetryableError("503")],
                     "r1": [NotFound("gone")]})  # fmt: skip
    emitter = Emitter()
    follower = HintFollower(source, {"vendor": emitter},  # type: ignore[dict-item]
                            consumer(bootstrap, f"g-{uuid.uuid4().hex[:6]}"), topic)  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(follower.run(stop))
    deadline = time.monotonic() + 60
    while len(source.read) < 2 and not task.done():
        assert time.monotonic() < deadline, "the follower did not get past the down source"
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert source.read == ["r0", "r2"] and [r["id"] for r in emitter.emitted] == ["r0", "r2"]
    assert follower.skipped == 2  # the junk value and the refused hint


def test_junk_on_the_audit_topic_is_skipped_not_crash_looped(bootstrap: str) -> None:
    topic = f"test.audit.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(topic, 1)])
    good = AuditRecord("bc", "vendor", "v1", "polled").to_json()
    junk = [b"{not json", b"[]", b'{"connection": "bc"}', b'{"stage": 5}', b"\xff\xfe",
            AuditRecord("bc", "vendor", "v2", "polled", ts_ms="soon").to_json()]  # type: ignore[arg-type]  # fmt: skip
    deliver(producer(bootstrap), [Outgoing(topic, b"k", v) for v in [*junk, good]])
    index = AuditIndex("sqlite://")
    assert index.sync(bootstrap, topic, f"g-{uuid.uuid4().hex[:6]}") == 1
    assert index.skipped == len(junk)


def test_a_failing_processor_event_ends_the_process_naming_it() -> None:
    code = ("import logging, types; logging.basicConfig(); from processors.app import stop_loudly;"
            "stop_loudly(types.SimpleNamespace(topic='mlc.bc.vendor', partition=2, offset=41),"
            " RuntimeError('registry down'))")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)  # fmt: skip
    assert result.returncode == 70
    assert "mlc.bc.vendor[2]@41" in result.stderr and "registry down" in result.stderr


def _once(bootstrap: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
          environment: str, **kafka: Any) -> tuple[Any, str]:  # fmt: skip
    """``run producers --once`` against a Business Central simulator: (result, audit topic)."""
    import yaml

    from ml_connector.secrets import SecretStore, generate_key
    from simulators import business_central
    from simulators.server import serve_in_thread
    from tests.clients.connections import bc_connection, sn_connection

    url, stop = serve_in_thread(business_central.create_app(
        business_central.BusinessCentralOptions(vendor_count=40)))  # fmt: skip
    prefix = f"once{uuid.uuid4().hex[:6]}"
    try:
        key = generate_key()
        store = SecretStore(tmp_path / "store.json", key)
        store.set("secret", "mlc-secret")
        store.set("password", "mlc-password")
        bc = bc_connection(url, environment=environment)
        config = tmp_path / "mlc.yaml"
        config.write_text(yaml.safe_dump({
            "kafka": {"bootstrap_servers": bootstrap, "encoding": "single-object",
                      "topic_prefix": prefix, **kafka},
            "secrets": {"store": str(tmp_path / "store.json")},
            "connections": {"bc": bc.model_dump(mode="json", exclude_none=True),
                            "sn": sn_connection(url).model_dump(mode="json", exclude_none=True)},
            "flows": {"f": {"source": "bc", "target": "sn", "entities": ["vendor"]}},
        }))  # fmt: skip
        # Its own process: what a process leaves unsent when it ends is lost with it.
        root = Path(__file__).resolve().parents[2]
        result = subprocess.run(
            [sys.executable, "-m", "app", "run", "producers", "--once", "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root), "MLC_SECRET_KEY": key},
        )
    finally:
        stop()
    return result, f"{prefix}.audit"


def test_run_producers_once_fails_when_every_poll_failed(
    bootstrap: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An environment the tenant does not have: every read of this source fails.
    result, _ = _once(bootstrap, tmp_path, monkeypatch, "nosuch")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "polling failed for" in result.stderr


def test_producers_leave_nothing_unsent_when_they_stop(
    bootstrap: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches wait 5 s to fill: the last audit records are still queued when polling ends,
    # and only a flush on the way out sends them.
    result, audit = _once(bootstrap, tmp_path, monkeypatch, "production",
                          producer={"linger_ms": 5000})  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    stages = Counter(AuditRecord.from_json(r.value or b"").stage
                     for r in read_to_end(bootstrap, audit, "audit-count"))  # fmt: skip
    # Audit records are sent without waiting; they must all be out before the process ends.
    assert stages["polled"] == stages["produced"] == 40


async def test_a_trickling_notification_is_answered_not_left_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    from producers import receiver as receiver_module
    from producers.receiver import receiver_app
    from producers.servicenow_push import ServiceNowPushNotifier
    from producers.shared_secret import SharedSecret
    from simulators.server import serve_in_thread

    monkeypatch.setattr(receiver_module, "BODY_SECONDS", 0.5)
    notifier = ServiceNowPushNotifier(SharedSecret("X-Secret", "a-secret-of-sixteen-chars"))
    url, stop = serve_in_thread(receiver_app({("servicenow", "sn"): notifier}, lambda _: None))
    try:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(
                b"POST /webhooks/servicenow/sn HTTP/1.1\r\nHost: x\r\n"
                b"X-Secret: a-secret-of-sixteen-chars\r\nContent-Length: 100\r\n\r\n{"
            )
            answer = b""
            while b"did not arrive" not in answer:  # sent while the rest never comes
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
    finally:
        stop()
    assert answer.startswith(b"HTTP/1.1 400") and b"did not arrive" in answer


def test_the_receiver_listens_on_loopback_unless_told() -> None:
    from ml_connector.config import WebhookConfig

    assert WebhookConfig().listen_host == "127.0.0.1"
