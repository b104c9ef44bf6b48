"""Delivery guarantees on real Kafka against the simulators: retries, audit, replays."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from app.offsets import ReplayRefused, group_stopped, reset_group

STAGING = "sn_fcms_intg_imp_supplier"

pytestmark = pytest.mark.kafka

FAST_TIERS = {"attempts": 1, "retry_tiers": [1.0, 5.0, 10.0]}


def test_a_record_retried_twice_then_written_shows_its_whole_trail(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(vendors=20, poll_interval=1.0, delivery=FAST_TIERS, run=False)
    p.set_faults(error_rate=1.0, error_status=503)  # ServiceNow down from the start
    p.supervisor.start()
    # Each vendor fails, waits 1 s in the first tier, fails again and moves to the 5 s tier.
    p.wait("vendors in the second retry tier", lambda: p.retried_to("5s") >= 20)
    p.set_faults(error_rate=0.0)  # ServiceNow is back before they are due again
    p.wait("all vendors in ServiceNow", lambda: len(p.sn_vendor_counts()) >= 20)
    p.settle()

    vendor = p.bc_vendors()[0]
    stages = [r.stage for r in p.audit_trail(vendor["id"])]
    assert stages[:3] == ["polled", "produced", "routed"]
    assert stages[3:] == ["retried", "retried", "written"], stages
    trail = p.audit_trail(vendor["id"])
    assert [r.detail.get("tier") for r in trail if r.stage == "retried"] == ["1s", "5s"]
    assert "503" in trail[3].detail["error"]
    assert trail[-1].detail["attempt"] == 3
    assert trail[-1].detail["status"] == "inserted"
    assert p.dead_letters() == 0
    assert set(p.sn_vendor_counts().values()) == {1}


def test_resetting_the_sink_group_to_earliest_leaves_the_target_unchanged(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(vendors=200, poll_interval=1.0)
    p.wait("all vendors in ServiceNow", lambda: len(p.sn_vendor_counts()) >= 200)
    p.settle()
    before = p.sn_vendors()
    calls = p.imported_rows()
    group = p.topics.sink_group("sn")

    with pytest.raises(ReplayRefused, match="stop its consumers first"):
        reset_group(p.box.bootstrap, group, to_earliest=True)
    p.supervisor.hold("sinks")
    p.wait("the sink group to empty", lambda: group_stopped(p.box.bootstrap, group))
    moved = reset_group(p.box.bootstrap, group, to_earliest=True)
    sink_topic = p.topics.sink("sn", "vendor")
    assert sum(m.replayed for m in moved if m.topic == sink_topic) == 200
    p.supervisor.release("sinks")
    p.wait("the replay to be written", lambda: p.imported_rows() >= calls + 200)
    p.settle()

    assert p.sn_vendors() == before  # same rows, same content, same sys_updated_on
    assert p.import_states()["ignored"] == 200  # every replayed row matched and changed nothing
    assert p.dead_letters() == 0


def test_poison_records_go_to_the_dlq_and_are_redriven_after_the_fix(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(vendors=300, poll_interval=1.0, run=False)
    # 50 vendors in a currency ServiceNow does not know: its transform map rejects them.
    poisoned = p.bc_vendors()[:50]
    for v in poisoned:
        r = p.bc.patch(f"/_sim/entities/vendors/{v['id']}", json={"currencyCode": "XTS"})
        assert r.status_code == 200, r.text
    p.supervisor.start()
    p.wait("250 good vendors", lambda: len(p.sn_vendor_counts()) >= 250)
    p.wait("50 dead letters", lambda: p.dead_letters() >= 50)
    p.settle()
    assert len(p.sn_vendor_counts()) == 250  # nothing blocked behind the poison
    assert p.dead_letters() == 50
    shown = json.loads(p.cli("status", "--json").stdout)
    assert {t["target"]: t["dead"] for t in shown["targets"]} == {"sn": 50}
    sink_group = next(g for g in shown["groups"] if g["group"] == p.topics.sink_group("sn"))
    assert sink_group["lag"] == 0 and sink_group["members"] >= 1
    vendors = next(s for s in shown["streams"] if s["entity"] == "vendor")
    assert vendors["records_read"] >= 300 and vendors["cursor"]

    dlq = _dead_letters(p)
    dead = list(dlq.records())
    assert {r.key for r in dead} == {v["id"] for v in poisoned}
    for r in dead:
        assert r.error_class == "TargetRejected"
        assert "fx_currency" in r.error and "XTS" in r.error
        assert r.original_topic == p.topics.sink("sn", "vendor")
        assert r.info["__connect.errors.connector.name"] == "sn"
        assert r.info["mlc.consumer.group"] == p.topics.sink_group("sn")
        assert r.info["__connect.errors.offset"].isdigit()

    listed = p.cli("dlq", "list", "sn")
    assert "50 record(s)" in listed.output

    # Fix the cause in ServiceNow, then redrive: every one of them arrives, the DLQ is empty.
    assert p.sn.post("/_sim/tables/fx_currency", json={"code": "XTS"}).status_code in (200, 201)
    replayed = p.cli("dlq", "replay", "sn", "--rate", "100")
    assert replayed.exit_code == 0 and "redriven: 50" in replayed.output, replayed.output
    p.wait("the redriven vendors", lambda: len(p.sn_vendor_counts()) >= 300)
    p.settle()
    assert set(p.sn_vendor_counts().values()) == {1}
    assert list(dlq.records()) == []  # nothing left to redrive
    assert "0 record(s)" in p.cli("dlq", "list", "sn").output
    assert p.dead_letters() == 50  # the log keeps them, marked as redriven
    assert "50 record(s)" in p.cli("dlq", "list", "sn", "--all").output
    trail = p.cli("audit", "bc", "vendor", poisoned[0]["id"])
    for stage in ("dead", "replayed", "written"):
        assert stage in trail.output, trail.output


def test_a_later_update_never_overtakes_one_waiting_in_retry(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(vendors=5, poll_interval=1.0,
                         delivery={"attempts": 1, "retry_tiers": [1.0, 2.0, 4.0]})  # fmt: skip
    p.wait("the seeded vendors", lambda: len(p.sn_vendor_counts()) >= 5)
    p.settle()
    vendor = p.bc_vendors()[0]
    # Update 2 fails twice (transiently), then goes through.
    r = p.sn.post("/_sim/faults/targeted", json={"body_contains": "Update 2", "times": 2,
                                                 "path_contains": "/api/now/import/"})  # fmt: skip
    assert r.status_code == 200, r.text
    for n in range(1, 6):
        name = f"Update {n} {vendor['number']}"
        assert p.bc.patch(f"/_sim/entities/vendors/{vendor['id']}",
                          json={"displayName": name}).status_code == 200  # fmt: skip
        polls = p.polls()
        p.wait(f"update {n} to be polled", lambda polls=polls: p.polls() >= polls + 1)
    p.wait("update 5 in ServiceNow",
           lambda: p.sn_vendors()[vendor["number"]]["name"].startswith("Update 5"))  # fmt: skip
    p.settle()

    rows = p.sn.get(f"/_sim/tables/{STAGING}").json()["result"]
    mine = [r["u_name"] for r in rows if r["u_vendor_number"] == vendor["number"]]
    written = [name.split()[1] for name in mine if name.startswith("Update")]
    assert written == ["1", "2", "3", "4", "5"]  # in order, each once
    assert p.sn_vendors()[vendor["number"]]["name"].startswith("Update 5")
    trail = p.audit_trail(vendor["id"])
    retried = [r for r in trail if r.stage == "retried"]
    assert [r.detail["tier"] for r in retried] == ["1s", "2s"]
    assert p.dead_letters() == 0


def _dead_letters(p: Any) -> Any:
    from app.dlq import DeadLetters

    t = p.topics
    return DeadLetters(p.box.bootstrap, t.dlq("sn"), t.state, "sn", t.audit)


def test_replaying_one_record_by_its_id_rewrites_only_that_record(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(vendors=30, poll_interval=1.0)
    p.wait("all vendors in ServiceNow", lambda: len(p.sn_vendor_counts()) >= 30)
    p.settle()
    vendor = p.bc_vendors()[3]
    row = p.sn_vendors()[vendor["number"]]
    # Someone edits the record by hand in ServiceNow; replaying it puts Business Central's back.
    edit = p.sn.patch(f"/_sim/tables/core_company/{row['sys_id']}", json={"name": "Edited"})
    assert edit.status_code == 200, edit.text
    calls = p.imported_rows()
    result = p.cli("replay", "--record", f"bc:vendor:{vendor['id']}")
    assert result.exit_code == 0, result.output
    assert "sent again to" in result.output
    p.wait("the replayed vendor", lambda: p.sn_vendors()[vendor["number"]]["name"] != "Edited")
    p.settle()
    assert p.sn_vendors()[vendor["number"]]["name"] == vendor["displayName"]
    assert p.imported_rows() == calls + 1  # that record only
    stages = [r.stage for r in p.audit_trail(vendor["id"])]
    assert stages[-2:] == ["replayed", "written"]
