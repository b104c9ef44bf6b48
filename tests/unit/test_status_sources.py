"""What ``status`` reads besides offsets: audit outcomes by flow entity, workers' announcements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.audit_index import AuditIndex
from app.status import workers
from ml_connector import presence
from ml_connector.audit import AuditRecord
from ml_connector.config import Settings
from ml_connector.kafka.clients import Consumed

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "ml-connector.example.yaml"


def _audited(records: list[AuditRecord]) -> list[Consumed]:
    return [Consumed("mlc.audit", 0, n, r.key.encode(), r.to_json(), [], r.ts_ms)
            for n, r in enumerate(records)]  # fmt: skip


def test_outcomes_are_counted_per_source_entity_and_target(tmp_path: Path) -> None:
    def rec(stage: str, rid: str, ts: int, target: str = "sn", **detail: Any) -> AuditRecord:
        return AuditRecord("bc", "vendor", rid, stage, ts, detail={"target": target, **detail})

    index = AuditIndex(str(tmp_path / "audit.db"))
    index.add(_audited([
        rec("routed", "v1", 1), rec("written", "v1", 2),
        rec("routed", "v2", 3), rec("retried", "v2", 4, error="503 busy"),
        rec("dead", "v2", 5, error="fx_currency: XTS unknown"),
        rec("routed", "v3", 6), rec("written", "v3", 9),
        rec("routed", "v1", 7, target="st"),  # the same record toward another target
        AuditRecord("bc", "item", "i1", "written", 8, detail={"target": "sn"}),
    ]))  # fmt: skip

    found = index.outcomes(("routed", "written", "retried", "dead"))
    assert found[("bc", "vendor", "sn", "routed")].count == 3
    assert found[("bc", "vendor", "sn", "written")].count == 2
    assert found[("bc", "vendor", "sn", "written")].newest_ms == 9
    assert found[("bc", "vendor", "sn", "dead")].count == 1
    assert found[("bc", "vendor", "st", "routed")].count == 1
    assert ("bc", "vendor", "st", "written") not in found
    assert found[("bc", "item", "sn", "written")].count == 1

    errors = index.newest(("retried", "dead"))
    assert set(errors) == {("bc", "vendor", "sn")}
    last = errors[("bc", "vendor", "sn")]
    assert (last.stage, last.record_id, last.detail["error"]) == (
        "dead",
        "v2",
        "fx_currency: XTS unknown",
    )


def _announced(
    component: str, pid: int, started: float, seen: float, stopped: bool = False, **more: Any
) -> tuple[str, Any]:
    key = f"{presence.PREFIX}{component}|host:{pid}"
    return key, {"started_at": started, "seen_at": seen, "every": 10.0, "stopped": stopped,
                 "stalled": [], "paused": [], **more}  # fmt: skip


def test_workers_are_up_down_or_stopped_from_their_own_announcements() -> None:
    now = 10_000.0
    state = dict([
        _announced("sinks", 1, now - 100, now - 5),
        _announced("sinks", 2, now - 100, now - 31),  # missed 3 announcements of 10 s
        _announced("processors", 3, now - 100, now - 50, stopped=True),
        _announced("producers", 4, now - 60, now - 2, stalled=["polls bc-sn has not come round"],
                   paused=["sink sn"]),
        ("cursor|bc|vendor", {"cursor": {}}),  # not an announcement
    ])  # fmt: skip
    seen = {(s.component, s.worker): s for s in presence.seen(state, now)}
    assert seen[("sinks", "host:1")].state == "up"
    assert seen[("sinks", "host:2")].state == "down"
    assert seen[("processors", "host:3")].state == "stopped"
    assert seen[("producers", "host:4")].problems == ["polls bc-sn has not come round",
                                                      "sink sn is paused"]  # fmt: skip
    assert len(seen) == 4


def test_status_hides_replaced_workers_but_not_lost_peers_or_missing_components(
    monkeypatch: Any,
) -> None:
    now = 10_000.0
    monkeypatch.setattr("app.status.time.time", lambda: now)
    settings = Settings.model_validate({"kafka": {"bootstrap_servers": "x:9092"}})
    state = dict([
        _announced("sinks", 1, now - 1000, now - 600),  # died; pid 2 replaced it
        _announced("sinks", 2, now - 500, now - 3),
        _announced("sinks", 3, now - 400, now - 100),  # a peer lost after pid 2 started
        _announced("processors", 4, now - 900, now - 800),
        _announced("processors", 5, now - 700, now - 650, stopped=True),
    ])  # fmt: skip
    shown = [(w.component, w.worker, w.state) for w in workers(settings, state)]
    assert shown == [
        ("audit", None, "never seen"),
        ("processors", "host:5", "stopped"),  # none up: the newest says what happened
        ("producers", None, "never seen"),
        ("sinks", "host:2", "up"),
        ("sinks", "host:3", "down"),
    ]
