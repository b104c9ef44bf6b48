"""Business Central vendors into ServiceNow, end to end on a real broker."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import pytest

from app.demo import topic_size

pytestmark = pytest.mark.kafka

VENDORS = 1000


def _numbers(vendors: list[dict[str, Any]]) -> set[str]:
    return {v["number"].lower() for v in vendors}


def test_vendors_arrive_once_then_only_changes_move(pipeline_factory: Callable[..., Any]) -> None:
    p = pipeline_factory(vendors=VENDORS, poll_interval=1.0)
    bc_vendors = p.bc_vendors()
    assert len(bc_vendors) == VENDORS

    # 1. Every seeded vendor arrives exactly once (counted by the coalesce key).
    p.wait("all vendors in ServiceNow", lambda: len(p.sn_vendor_counts()) >= VENDORS)
    p.settle()
    counts = p.sn_vendor_counts()
    assert set(counts) == _numbers(bc_vendors)
    assert set(counts.values()) == {1}
    assert p.import_states()["inserted"] == VENDORS
    assert p.dead_letters() == 0

    # 2. Polls with no change in BC make no Import Set call at all.
    calls_before = p.imported_rows()
    p.settle(polls=3)
    assert p.imported_rows() == calls_before

    # 3. Changing 10 vendors in BC updates exactly those 10.
    changed = {v["id"]: f"Renamed {i} {v['displayName']}" for i, v in enumerate(bc_vendors[:10])}
    for vendor_id, name in changed.items():
        r = p.bc.patch(f"/_sim/entities/vendors/{vendor_id}", json={"displayName": name})
        assert r.status_code == 200, r.text
    before = p.sn_vendors()

    def renamed_in_sn() -> int:
        return sum(r["name"].startswith("Renamed") for r in p.sn_vendors().values())

    p.wait("10 renamed vendors in ServiceNow", lambda: renamed_in_sn() == 10)
    p.settle()
    assert p.imported_rows() == calls_before + 10
    after = p.sn_vendors()
    renamed = {v["number"]: changed[v["id"]] for v in bc_vendors[:10]}
    assert {n: after[n]["name"] for n in renamed} == renamed
    untouched = set(after) - set(renamed)
    assert all(after[n]["name"] == before[n]["name"] for n in untouched)
    assert p.import_states()["updated"] == 10
    assert len(p.sn_vendor_counts()) == VENDORS


def test_killing_workers_mid_run_loses_and_duplicates_nothing(
    pipeline_factory: Callable[..., Any],
) -> None:
    # Small pages make the first poll take many requests, so a kill lands mid-read.
    p = pipeline_factory(vendors=VENDORS, poll_interval=1.0, bc_page_size=25)
    change_topic = p.topics.change("bc", "vendor")

    def kill(*components: str) -> None:
        # A worker killed before may still be restarting (the sinks can outrun its restart).
        p.wait(f"{', '.join(components)} running",
               lambda: set(components) <= set(p.supervisor.pids()))  # fmt: skip
        pids = p.supervisor.pids()
        for c in components:
            os.kill(pids[c], signal.SIGKILL)

    p.wait("the first events", lambda: topic_size(p.box.bootstrap, change_topic) >= 100)
    kill("producers")
    p.wait("100 vendors in ServiceNow", lambda: len(p.sn_vendor_counts()) >= 100)
    kill("sinks")
    p.wait("300 vendors in ServiceNow", lambda: len(p.sn_vendor_counts()) >= 300)
    kill("processors")
    p.wait("600 vendors in ServiceNow", lambda: len(p.sn_vendor_counts()) >= 600)
    kill("processors", "sinks", "producers")
    p.wait("all vendors in ServiceNow", lambda: len(p.sn_vendor_counts()) >= VENDORS)
    p.settle()

    # Every kill was followed by a restart. A worker that came back but stalled (a Faust
    # worker rejoining after its predecessor's session timed out, on a busy machine) is
    # restarted by the watchdog as well: that is recovery too, counted apart.
    restarts = {c.component: c.restarts - c.stalls for c in p.supervisor.children}
    assert restarts == {"producers": 2, "processors": 2, "sinks": 2, "audit": 0}
    counts = p.sn_vendor_counts()
    assert set(counts) == _numbers(p.bc_vendors())
    assert set(counts.values()) == {1}
    # Each vendor was inserted once; re-deliveries after a kill can only be no-op updates.
    states = p.import_states()
    assert states["inserted"] == VENDORS
    assert states["error"] == 0
    sn = p.sn_vendors()
    assert all(sn[v["number"]]["name"] == v["displayName"] for v in p.bc_vendors())
    assert p.dead_letters() == 0
