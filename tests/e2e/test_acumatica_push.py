"""Acumatica push notifications on a real broker: an accelerator beside polling. A push with
the right secret brings an edit long before the next poll; one with a wrong secret is refused,
and the edit still arrives by polling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.kafka

ENTITIES = ["vendor", "gl_account", "cost_center", "purchase_invoice"]
SMALL = {"vendor_count": 6, "purchase_order_count": 0, "bill_count": 4, "check_count": 0}


def _acu(p: Any) -> httpx.Client:
    return httpx.Client(base_url=p.box.acu_url, timeout=30)


def _edit_bill(p: Any, number: str, vendor_ref: str) -> str:
    with _acu(p) as acu:
        bill = next(b for b in acu.get("/_sim/entities/Bill").json()["value"]
                    if b["ReferenceNbr"] == number)  # fmt: skip
        r = acu.patch(f"/_sim/entities/Bill/{bill['id']}", json={"VendorRef": vendor_ref})
        assert r.status_code == 200, r.text
    return str(bill["id"])


def _invoice_numbers(p: Any) -> set[str]:
    return {i["invoice_number"] for i in p.sn_rows("sn_shop_invoice")}


def _landed(p: Any) -> bool:
    return {i["u_erp_number"] for i in p.sn_rows("sn_shop_invoice")} >= {
        "000001", "000002", "000003", "000004"}  # fmt: skip


def _deliveries(p: Any) -> list[dict[str, Any]]:
    with _acu(p) as acu:
        return list(acu.get("/_sim/deliveries", params={"event": "Bill"}).json()["deliveries"])


def test_a_push_brings_an_edit_before_the_next_poll(pipeline_factory: Callable[..., Any]) -> None:
    # Polled once at start, then not for an hour: only the push can bring the edit.
    p = pipeline_factory(bc_flow=False, poll_interval=3600.0, acumatica_entities=ENTITIES,
                         acu_options=SMALL, acu_push=True, sn_purchase_orders=0,
                         sn_invoices=0)  # fmt: skip
    p.wait("the first poll in ServiceNow", lambda: _landed(p))
    bill_id = _edit_bill(p, "000003", "INV-PUSHED")
    p.wait("the pushed edit in ServiceNow", lambda: "INV-PUSHED" in _invoice_numbers(p))
    stages = [r.stage for r in p.audit_trail(bill_id, "purchase_invoice", source="acu")]
    assert "received" in stages  # seen through the receiver, not a poll
    assert all(a["status"] == 202 for d in _deliveries(p) for a in d["attempts"])
    assert p.dlq_size("sn") == 0


def test_a_wrong_secret_is_refused_and_polling_still_brings_everything(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(bc_flow=False, poll_interval=1.0, acumatica_entities=ENTITIES,
                         acu_options=SMALL, acu_push=True,
                         acu_push_sends="not-the-configured-secret", sn_purchase_orders=0,
                         sn_invoices=0)  # fmt: skip
    p.wait("everything polled into ServiceNow", lambda: _landed(p))
    bill_id = _edit_bill(p, "000003", "INV-POLLED")
    p.wait("the push refused", lambda: any(
        a["status"] == 401 for d in _deliveries(p) for a in d["attempts"]))  # fmt: skip
    p.wait("the edit in ServiceNow by polling", lambda: "INV-POLLED" in _invoice_numbers(p))
    stages = [r.stage for r in p.audit_trail(bill_id, "purchase_invoice", source="acu")]
    assert "received" not in stages and "polled" in stages
    assert all(a["status"] == 401 for d in _deliveries(p) for a in d["attempts"])
    assert p.dlq_size("sn") == 0
