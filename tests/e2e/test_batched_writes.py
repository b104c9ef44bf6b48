"""Batched writes end to end: ServiceNow through Import Set ``insertMultiple``, Business
Central through ``$batch``. One row refused inside an insertMultiple and one operation failed
inside a $batch each go to their DLQ alone, with the reason; every other record is written
once. Real Kafka, the simulators, worker processes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from app.dlq import DeadFilter, DeadLetters

pytestmark = pytest.mark.kafka

FLOWS = {"servicenow-bc": {"source": "sn", "target": "bc", "entities": ["purchase_order"]}}
STAGING = "sn_fcms_intg_imp_supplier"
VENDORS, ORDERS = 100, 30
TOO_LONG = "SPO-NUMBER-TOO-LONG-FOR-BC"  # BC's purchase order number is Code[20]
SYSTEM = ("sys_id", "sys_created_on", "sys_updated_on", "sys_mod_count", "sys_created_by",
          "sys_updated_by")  # fmt: skip


def _dead(p: Any, target: str) -> list[Any]:
    t = p.topics
    dlq = DeadLetters(p.box.bootstrap, t.dlq(target), t.state, target)
    return list(dlq.records(DeadFilter(include_replayed=True)))


def _copy(row: dict[str, str], **changes: str) -> dict[str, str]:
    return {k: v for k, v in row.items() if k not in SYSTEM} | changes


def _order_bc_refuses(p: Any) -> dict[str, str]:
    """An approved ServiceNow order, like a seeded one, whose number BC cannot hold."""
    table, lines = "sn_shop_purchase_order", "sn_shop_purchase_order_line"
    model = next(o for o in p.sn_rows(table) if o["approval"] == "approved")
    order = p.sn.post(f"/_sim/tables/{table}", json=_copy(model, number=TOO_LONG)).json()
    for line in (x for x in p.sn_rows(lines) if x["purchase_order"] == model["sys_id"]):
        r = p.sn.post(f"/_sim/tables/{lines}",
                      json=_copy(line, purchase_order=order["result"]["sys_id"]))  # fmt: skip
        assert r.status_code in (200, 201), r.text
    return dict(order["result"])


def _calls(client: Any) -> Counter[str]:
    calls = client.get("/_sim/calls").json()["calls"]
    return Counter({f"{c['method']} {c['route']}": c["count"] for c in calls})


def test_a_refused_row_and_a_failed_operation_go_to_the_dlq_alone_the_rest_written_once(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(vendors=VENDORS, poll_interval=1.0, extra_flows=FLOWS,
                         sn_purchase_orders=ORDERS, run=False)  # fmt: skip
    # A vendor in a currency ServiceNow does not know: its transform map rejects the row.
    poisoned = p.bc_vendors()[7]
    r = p.bc.patch(f"/_sim/entities/vendors/{poisoned['id']}", json={"currencyCode": "XTS"})
    assert r.status_code == 200, r.text
    refused = _order_bc_refuses(p)
    orders = p.sn_approved("sn_shop_purchase_order") - {TOO_LONG}
    p.supervisor.start()

    p.wait(
        "the vendors in ServiceNow and one dead letter",
        lambda: len(p.sn_vendor_counts()) >= VENDORS - 1 and p.dlq_size("sn") >= 1,
    )
    p.wait("the orders in BC and one dead letter",
           lambda: orders <= {o["number"] for o in p.bc_rows("purchaseOrders")}
           and p.dlq_size("bc") >= 1)  # fmt: skip
    p.settle()

    # ServiceNow: every vendor but the poisoned one, once; the refused row went alone.
    counts = p.sn_vendor_counts()
    assert len(counts) == VENDORS - 1 and set(counts.values()) == {1}
    assert poisoned["number"].casefold() not in counts
    [dead] = _dead(p, "sn")
    assert (dead.key, dead.error_class) == (poisoned["id"], "TargetRejected")
    assert "XTS" in dead.error
    staged = p.sn_rows(STAGING)
    [row] = [s for s in staged if s["u_vendor_number"] == poisoned["number"]]
    assert row["sys_import_state"] == "error"
    neighbours = [s for s in staged if s["sys_import_set"] == row["sys_import_set"]]
    assert len(neighbours) > 1  # it shared its insertMultiple with vendors that were written
    assert {s["sys_import_state"] for s in neighbours if s is not row} <= {"inserted", "updated"}
    sn_calls = _calls(p.sn)
    assert sn_calls["POST /api/now/import/{staging_table}"] == 0
    assert 0 < sn_calls["POST /api/now/import/{staging_table}/insertMultiple"] < VENDORS / 10

    # Business Central: every approved order once; the one BC refused went alone.
    bc_orders = Counter(o["number"] for o in p.bc_rows("purchaseOrders"))
    assert {n: bc_orders[n] for n in orders} == dict.fromkeys(orders, 1)
    assert bc_orders[TOO_LONG] == 0
    [dead] = _dead(p, "bc")
    assert dead.key == refused["sys_id"]
    assert "must be less than or equal to 20 characters" in dead.error
    inside = p.bc.get("/_sim/batch-operations").json()["operations"]
    created = sum(o["count"] for o in inside
                  if o["method"] == "POST" and o["route"].endswith("/purchaseOrders"))  # fmt: skip
    assert created == len(orders) + 1  # each order's deep insert once, the refused one too
    bc_calls = _calls(p.bc)
    batches = sum(n for k, n in bc_calls.items() if k.startswith("POST") and "$batch" in k)
    assert 0 < batches < len(orders)
    assert not [k for k in bc_calls if k.startswith("POST") and k.endswith("/purchaseOrders")]
