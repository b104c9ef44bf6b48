"""reconcile compares both systems entity by entity and names exactly what differs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from ml_connector.cli import app

pytestmark = pytest.mark.kafka


def reconcile(p: Any) -> Any:
    return CliRunner().invoke(
        app, ["reconcile", "-c", str(p.box.config_path), "bc-servicenow"], env={"COLUMNS": "200"}
    )


def test_reconcile_reports_nothing_after_a_sync_and_exactly_a_manual_edit(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(vendors=40, poll_interval=1.0,
                         entities=["vendor", "gl_account", "cost_center"])  # fmt: skip
    p.wait("all vendors in ServiceNow", lambda: len(p.sn_vendor_counts()) >= 40)
    p.settle()
    clean = reconcile(p)
    assert clean.exit_code == 0, clean.output
    assert "no differences" in clean.output

    # A hand edit in ServiceNow to one vendor, and one cost center deleted there.
    p.supervisor.hold("producers")  # so the pipeline does not mend them while we look
    vendor = p.bc_vendors()[7]
    row = p.sn_vendors()[vendor["number"]]
    assert p.sn.patch(f"/_sim/tables/core_company/{row['sys_id']}",
                      json={"city": "Springfield"}).status_code == 200  # fmt: skip
    centers = p.sn.get("/_sim/tables/cmn_cost_center").json()["result"]
    gone = next(c for c in centers if c.get("code"))
    assert p.sn.delete(f"/_sim/tables/cmn_cost_center/{gone['sys_id']}").status_code in (200, 204)

    found = reconcile(p)
    assert found.exit_code == 1
    lines = [line for line in found.output.splitlines()
             if line.startswith(("missing", "different", "extra"))]  # fmt: skip
    assert lines == [  # entity by entity, in the flow's order
        f"different vendor {vendor['number'].casefold()}: city: source {vendor['city']!r} "
        "target 'Springfield'",
        f"missing   cost_center {gone['code'].casefold()}: in the source, not in the target",
    ]
