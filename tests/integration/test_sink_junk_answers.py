"""Malformed and hostile target answers through a real sink: every record ends in exactly one
place (written, a retry tier, or the DLQ with the reason), no secret is in any header, and
the sink keeps going."""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector import headers as h
from ml_connector.api.client import RetryPolicy
from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.kafka.clients import Outgoing, deliver, producer, read_to_end
from ml_connector.secrets import SecretStore, generate_key
from simulators.server import serve_in_thread
from sinks.batching import OneAtATime
from sinks.runner import Tier
from sinks.servicenow import ServiceNowTarget
from tests.clients.connections import sn_connection
from tests.integration.test_holding import TARGET, Sink, _running_until, sink

pytestmark = pytest.mark.kafka
__all__ = ["sink"]

PASSWORD = "sn-password-value-xyz"
GOOD = json.dumps({"import_set": "ISET1", "staging_table": "t", "result": [
    {"status": "inserted", "sys_id": "a" * 32, "table": "core_company"}]})  # fmt: skip

# (status, content type, body, extra headers, where the record must end)
ANSWERS: list[tuple[int, str, bytes | str, dict[str, str], str]] = [
    (201, "application/json", GOOD, {}, "written"),
    (201, "text/html", "<html>proxy</html>", {}, "retry"),
    (201, "application/json", "", {}, "retry"),  # empty: did the import run? try again
    (201, "application/json", "null", {}, "retry"),
    (201, "application/json", '{"result": [{"status": "ins', {}, "retry"),
    (201, "application/json", b"\xff\xfe{}", {}, "retry"),
    (201, "application/json", "[]", {}, "retry"),
    (201, "application/json", '{"result": "ok"}', {}, "retry"),
    (201, "application/json", '{"result": [1, 2]}', {}, "retry"),
    (201, "application/json", '{"result": []}', {}, "dlq"),  # the transform said nothing
    (201, "application/json", '{"result": [{"status": "error", "error_message": "bad"}]}', {},
     "dlq"),
    (201, "application/json", '{"result": {"status": "inserted", "sys_id": "b"}}', {},
     "written"),
    (200, "application/json", "42", {}, "retry"),
    (500, "text/html", "<html>boom</html>", {}, "retry"),
    (502, "text/plain", "bad gateway", {}, "retry"),
    (503, "application/json", "{}", {"Retry-After": "86400"}, "retry"),
    (429, "application/json", "{}", {"Retry-After": "nonsense"}, "retry"),
    (400, "application/json", '{"error": {"message": "Invalid"}}', {}, "dlq"),
    (400, "text/html", "<html>400</html>", {}, "dlq"),
    (404, "application/json", '{"error": {"message": "No such table"}}', {}, "dlq"),
    (409, "application/json", "{}", {}, "dlq"),
    (413, "text/plain", "too large", {}, "dlq"),
    (415, "text/plain", "unsupported", {}, "dlq"),
    (422, "application/json", '{"errors": {"name": ["required"]}}', {}, "dlq"),
    (500, "application/json", '{"error": "duplicate key value"}', {}, "dlq"),
    (418, "text/plain", "teapot", {}, "dlq"),
    (201, "application/json", '{"result": [{"status": "ignored"}]}', {}, "written"),
    (201, "application/json", GOOD, {"Content-Encoding": "gzip"}, "retry"),
    (201, "application/json", '{"deep": ' * 50 + "1" + "}" * 50, {}, "dlq"),  # no result
    (500, "text/plain", "echo: Authorization=", {"X-Echo": "1"}, "retry"),
]  # fmt: skip


def junk_target() -> Starlette:
    async def imports(request: Request) -> Response:
        row = json.loads(await request.body())
        status, kind, body, headers, _ = ANSWERS[int(row["u_vendor_number"][1:])]
        if headers.pop("X-Echo", None):  # a proxy echoing the request's credentials
            body = f"{body}{request.headers.get('authorization')}"
            headers = dict(headers)
        return Response(body, status, headers={"Content-Type": kind, **headers})

    return Starlette(routes=[Route("/api/now/import/{table}", imports, methods=["POST"])])


async def test_thirty_junk_answers_each_end_in_one_place(
    sink: Sink, vendor_event: dict[str, Any], tmp_path: Any
) -> None:
    assert len(ANSWERS) >= 30
    url, stop = serve_in_thread(junk_target())
    store = SecretStore(tmp_path / "s.json", generate_key())
    store.set("password", PASSWORD)
    client = ServiceNowClient(sn_connection(url, oauth=False, grant="basic"), store,
                              retry=RetryPolicy(attempts=1, max_total=5))  # fmt: skip
    # The single-row import's answers: each record in its own request (insertMultiple's
    # answers are read back from staging rows, see test_servicenow_batch.py).
    sink.target = OneAtATime(ServiceNowTarget(client))  # type: ignore[assignment]
    records = []
    for i in range(len(ANSWERS)):
        event = copy.deepcopy(vendor_event)
        event["after"]["number"] = f"J{i}"
        event["source"]["native_id"] = f"j{i}"
        records.append(Outgoing(sink.sink_topic, f"j{i}".encode(),
                                sink.codec.encode(sink.sink_topic, "vendor", event)))  # fmt: skip
    deliver(producer(sink.bootstrap), records)
    runner = sink.runner()
    # One long tier: what goes to retry stays there for this test.
    runner.tiers = [Tier("1h", sink.tier.topic, timedelta(hours=1))]
    runner._tier_by_topic = {sink.tier.topic: 0}
    runner._tier_by_name = {"1h": 0}

    def placed() -> dict[str, str]:
        out = {}
        for topic, where in ((sink.tier.topic, "retry"), (sink.topics.dlq(TARGET), "dlq")):
            for r in read_to_end(sink.bootstrap, topic, f"count-{where}"):
                out[(r.key or b"").decode()] = where
                assert PASSWORD not in json.dumps(h.as_dict(r.headers))
                assert h.as_dict(r.headers)[h.EXCEPTION_MESSAGE]  # a reason, always
        return out

    try:
        await _running_until(runner, lambda: runner.stats.written + len(placed()) >= len(ANSWERS))
    finally:
        stop()
        await client.aclose()
    where = placed()
    assert len(where) + runner.stats.written == len(ANSWERS)  # each record once, no more
    expected = {f"j{i}": a[4] for i, a in enumerate(ANSWERS)}
    got = {k: where.get(k, "written") for k in expected}
    assert got == expected, {k: (expected[k], got[k]) for k in expected if got[k] != expected[k]}
    print(f"\n{len(ANSWERS)} junk answers: {dict(Counter(got.values()))}")
