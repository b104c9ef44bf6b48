"""``backfill``: a change the cursor cannot see reaches the target when an operator re-reads
the entity from a date, through the normal path, and nothing else is written again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.kafka

FLOW = "bc-servicenow"


def test_a_backfill_carries_a_change_the_polls_missed_and_only_that_one(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(vendors=30, poll_interval=1.0)
    p.wait("the vendors", lambda: len(p.sn_vendor_counts()) >= 30)
    p.settle()
    # Changed behind the ERP's back: its modified time says 2020, far behind the cursor.
    vendor = p.bc_vendors()[3]
    r = p.bc.patch(f"/_sim/entities/vendors/{vendor['id']}",
                   json={"displayName": "Changed quietly",
                         "lastModifiedDateTime": "2020-01-01T00:00:00Z"})  # fmt: skip
    assert r.status_code == 200, r.text
    p.settle(polls=3)
    assert p.sn_vendors()[vendor["number"]]["name"] != "Changed quietly"  # no poll saw it
    imports = p.imported_rows()

    done = p.cli("backfill", FLOW, "vendor", "--since", "2019-12-31")
    assert done.exit_code == 0, done.output
    assert "backfill: 30 record(s)" in done.output, done.output
    p.wait("the backfilled change",
           lambda: p.sn_vendors()[vendor["number"]]["name"] == "Changed quietly")  # fmt: skip
    p.settle()
    assert set(p.sn_vendor_counts().values()) == {1}
    assert p.imported_rows() == imports + 1  # the 29 unchanged ones were dropped as such
    stages = [row.stage for row in p.audit_trail(vendor["id"])]
    assert "backfill" in stages and stages[-1] == "written"

    wrong = p.cli("backfill", FLOW, "invoice", "--since", "2019-12-31")
    assert wrong.exit_code == 2 and "has no entity 'invoice'" in wrong.output
