"""The Acumatica <-> ServiceNow part of ``ml-connector demo``: a building products
distributor with its vendors, chart of accounts, subaccounts, purchase orders, bills and
payments in Acumatica, and procurement requests approved in ServiceNow."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from app.demo_measure import Landed, in_servicenow
from devkit.sandbox import Sandbox
from ml_connector.config import Settings
from ml_connector.connections.servicenow import ServiceNowConnection
from producers.acumatica import KEYS, STREAMS

FLOW = "acumatica-servicenow"
RETURN = {"servicenow-acumatica": {"source": "sn", "target": "acu",
                                   "entities": ["purchase_order"]}}  # fmt: skip
ENTITIES = list(STREAMS)


def start(bootstrap: str, workdir: Path | None, *, registry_url: str | None, vendors: int,
          documents: int, poll_interval: float) -> Sandbox:  # fmt: skip
    orders = documents // 2
    options = {"vendor_count": vendors, "purchase_order_count": orders,
               "bill_count": documents - orders, "check_count": documents // 10}  # fmt: skip
    return Sandbox.start(bootstrap, workdir, registry_url=registry_url, bc_flow=False,
                         acumatica_entities=ENTITIES, acu_options=options, extra_flows=RETURN,
                         poll_interval=poll_interval, sn_purchase_orders=0,
                         sn_invoices=0)  # fmt: skip


def _key(path: str) -> str:
    return KEYS[path][-1]


def _rows(acu: httpx.Client, path: str) -> list[dict[str, Any]]:
    return list(acu.get(f"/_sim/entities/{path}").json()["value"])


def landed(box: Sandbox, settings: Settings, name: str, entity: str) -> Landed:
    with (
        httpx.Client(base_url=box.acu_url, timeout=60) as acu,
        httpx.Client(base_url=box.sn_url, timeout=60) as sn,
    ):
        if name != FLOW:  # the return path: approved requests as Acumatica orders
            requests = [r for r in sn.get("/_sim/tables/sn_shop_purchase_order").json()["result"]
                        if r.get("approval") == "approved"]  # fmt: skip
            keys = {r["number"].lower() for r in requests}
            held = Counter(str(o["VendorRef"]).lower() for o in _rows(acu, "PurchaseOrder")
                           if str(o.get("VendorRef") or "").lower() in keys)  # fmt: skip
            return Landed(keys, held, sum(held.values()))
        target = settings.connections["sn"]
        assert isinstance(target, ServiceNowConnection)
        path = STREAMS[entity].path
        rows = _rows(acu, path)
        if entity == "payment":
            rows = [r for r in rows if r.get("Details")]  # what pays no bill shows nowhere
        keys = {str(r[_key(path)]).lower() for r in rows}
        table = target.tables.get(entity) if entity in ("vendor", "gl_account", "cost_center") \
            else target.document_tables[entity]  # fmt: skip
        assert table is not None
        return in_servicenow(sn, keys, table)


def raise_requests(box: Sandbox, count: int) -> int:
    """Approved procurement requests in ServiceNow, once Acumatica's masters are there:
    each for a vendor, an expense account and a subaccount ServiceNow got from Acumatica."""
    with httpx.Client(base_url=box.sn_url, timeout=60) as sn:

        def rows(table: str) -> list[dict[str, str]]:
            return list(sn.get(f"/_sim/tables/{table}").json()["result"])

        suppliers = [s for s in rows("sn_fin_supplier") if s.get("u_erp_vendor_number")]
        accounts = [a for a in rows("sn_fin_gl_account") if a["account_number"].startswith("6")]
        centers = rows("cmn_cost_center")
        if not (suppliers and accounts and centers):
            return 0
        for i in range(count):
            order = sn.post("/_sim/tables/sn_shop_purchase_order", json={
                "number": f"SPO{i + 1:07d}", "supplier": suppliers[i % len(suppliers)]["sys_id"],
                "approval": "approved", "state": "approved", "currency": "USD",
                "total_amount": "250.00", "cost_center": centers[i % len(centers)]["sys_id"],
            }).json()["result"]  # fmt: skip
            sn.post("/_sim/tables/sn_shop_purchase_order_line", json={
                "purchase_order": order["sys_id"], "line_number": "1", "quantity": "10",
                "unit_price": "25.00", "total_amount": "250.00",
                "gl_account": accounts[i % len(accounts)]["sys_id"],
                "cost_center": centers[i % len(centers)]["sys_id"],
                "description": "Drywall and fasteners",
            })  # fmt: skip
        return count
