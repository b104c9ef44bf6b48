"""ServiceNow Business Rule pushes: an approved invoice reaches BC without waiting for a poll."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from devkit.sandbox import SN_PUSH_SECRET

pytestmark = pytest.mark.kafka

FLOWS = {"servicenow-bc": {"source": "sn", "target": "bc",
                           "entities": ["purchase_order", "purchase_invoice"]}}  # fmt: skip


def test_a_pushed_approval_is_posted_without_a_poll(pipeline_factory: Callable[..., Any]) -> None:
    # Polls every 10 minutes: after the first one, only a push can carry the approval.
    p = pipeline_factory(vendors=100, poll_interval=600.0, extra_flows=FLOWS, sn_push=True,
                         sn_purchase_orders=3, sn_invoices=12)  # fmt: skip
    invoices = p.sn.get("/_sim/tables/sn_shop_invoice").json()["result"]
    approved = {i["number"] for i in invoices if i["approval"] == "approved"}
    waiting = [i for i in invoices if i["approval"] != "approved"]
    assert approved and waiting
    p.wait(
        "the first poll's approved invoices posted", lambda: set(p.posted_invoices()) >= approved
    )

    late = waiting[0]
    r = p.sn.patch(f"/_sim/tables/sn_shop_invoice/{late['sys_id']}", json={"approval": "approved"})
    assert r.status_code == 200
    p.wait("the pushed approval posted in BC", lambda: p.posted_invoices()[late["number"]] == 1, 90)
    pushes = p.sn.get("/_sim/push/deliveries").json()
    assert "sn_shop_invoice" in str(pushes)
    assert p.posted_invoices()[late["number"]] == 1

    url = f"http://127.0.0.1:{p.box.receiver_port}/webhooks/servicenow/sn"
    body = {"table": "sn_shop_invoice", "sys_id": late["sys_id"], "operation": "update"}
    assert httpx.post(url, json=body).status_code == 401  # no shared secret
    wrong = httpx.post(url, json=body, headers={"X-MLC-Push-Secret": "guess"})
    assert wrong.status_code == 401
    bad = httpx.post(url, json={"table": "sn_shop_invoice"},
                     headers={"X-MLC-Push-Secret": SN_PUSH_SECRET})  # fmt: skip
    assert bad.status_code == 400 and "sys_id" in bad.text
