"""``ml-connector status`` during a real run: the sink side per flow entity, and each worker."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from app.pipeline import components

pytestmark = pytest.mark.kafka
VENDORS, POISONED, CHANGED = 20, 4, 5


def _status(p: Any) -> dict[str, Any]:
    result = p.cli("status", "--json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def _workers(shown: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for w in shown["workers"]:
        found.setdefault(w["component"], []).append(w)
    return found


def test_status_shows_what_each_flow_entity_routed_and_wrote_and_each_worker(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(vendors=VENDORS, poll_interval=1.0, run=False)
    # Vendors in a currency ServiceNow does not know: its transform map rejects them.
    poisoned = p.bc_vendors()[:POISONED]
    for v in poisoned:
        r = p.bc.patch(f"/_sim/entities/vendors/{v['id']}", json={"currencyCode": "XTS"})
        assert r.status_code == 200, r.text
    p.supervisor.start()
    p.wait("the good vendors", lambda: len(p.sn_vendor_counts()) >= VENDORS - POISONED)
    p.wait("the dead letters", lambda: p.dead_letters() >= POISONED)
    p.settle()
    needed = set(components(p.settings))

    def up() -> set[str]:
        return {c for c, ws in _workers(_status(p)).items() if ws[0]["state"] == "up"}

    p.wait("every worker announced", lambda: up() == needed)

    shown = _status(p)
    vendor = next(s for s in shown["streams"] if s["entity"] == "vendor")
    # What the audit trail says agrees with what landed in ServiceNow and in the DLQ.
    assert vendor["written"] == len(p.sn_vendor_counts()) == VENDORS - POISONED
    assert vendor["dead"] == p.dead_letters() == POISONED
    assert vendor["routed"] == vendor["written"] + vendor["dead"]
    assert vendor["last_written_at"]
    assert vendor["last_sink_error"].startswith("dead: ") and "XTS" in vendor["last_sink_error"]
    for component, ws in _workers(shown).items():
        assert [w["state"] for w in ws] == ["up"], (component, ws)
        assert ws[0]["worker"] and ws[0]["seconds_since"] < 60 and ws[0]["problems"] == []

    table = p.cli("status")
    assert table.exit_code == 0, table.output
    for heading in ("last sink error", "routed", "written", "worker", "last seen"):
        assert heading in table.output, table.output
    assert "XTS" in table.output

    # Stopped on purpose: status tells that from a crash (which would read as down).
    p.supervisor.hold("sinks")  # a clean stop: the worker says so on its way out
    p.wait("the sinks to be shown stopped",
           lambda: [w["state"] for w in _workers(_status(p))["sinks"]] == ["stopped"])  # fmt: skip
    assert all(ws[0]["state"] == "up" for c, ws in _workers(_status(p)).items() if c != "sinks")

    # Changes made while the sinks are away wait as lag, which falls to 0 once they are back.
    changed = p.bc_vendors()[POISONED : POISONED + CHANGED]
    for n, v in enumerate(changed):
        r = p.bc.patch(f"/_sim/entities/vendors/{v['id']}", json={"displayName": f"Renamed {n}"})
        assert r.status_code == 200, r.text
    group = p.topics.sink_group("sn")

    def sink_lag() -> int:
        return int(next(g for g in _status(p)["groups"] if g["group"] == group)["lag"])

    p.wait("the changes to wait for the stopped sinks", lambda: sink_lag() == CHANGED)
    p.supervisor.release("sinks")
    p.wait("the sinks to catch up", lambda: sink_lag() == 0)
    p.wait("the new sinks worker to announce itself",
           lambda: [w["state"] for w in _workers(_status(p))["sinks"]] == ["up"])  # fmt: skip
    vendor = next(s for s in _status(p)["streams"] if s["entity"] == "vendor")
    assert vendor["written"] == VENDORS - POISONED + CHANGED

    # Every kind of worker says so when stopped cleanly (Faust's processors included).
    for component in needed - {"sinks"}:
        p.supervisor.hold(component)
    p.wait("every stopped worker to be shown stopped", lambda: {
        c: ws[0]["state"] for c, ws in _workers(_status(p)).items() if c != "sinks"
    } == dict.fromkeys(needed - {"sinks"}, "stopped"))  # fmt: skip
