"""ServiceNow Source-to-Pay: tables, aliases, role ACLs, transform maps and the push rule.

Calls are the documented Table API and Import Set API requests (Basic auth, ``sysparm_query``
encoded queries, one JSON object per staging row).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from simulators.servicenow import ServiceNowOptions, create_app
from simulators.servicenow.catalog import S2P_TABLES
from simulators.servicenow.push import PushRule
from tests.simulators.receivers import Receiver
from tests.simulators.support import SN_AUTH, client_for

STAMP = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"


def make_app(**overrides: Any) -> Any:
    return create_app(ServiceNowOptions(**overrides))


async def rows(client: httpx.AsyncClient, table: str, **params: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/now/table/{table}", params=params)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["result"]
    return result


async def stage(client: httpx.AsyncClient, staging: str, row: dict[str, str]) -> dict[str, Any]:
    response = await client.post(f"/api/now/import/{staging}", json=row)
    assert response.status_code == 201, response.text
    [result] = response.json()["result"]
    return dict(result)


@pytest.mark.parametrize("table", [t.name for t in S2P_TABLES])
async def test_every_source_to_pay_table_is_seeded(table: str) -> None:
    async with client_for(make_app(), auth=SN_AUTH) as client:
        result = await rows(client, table, sysparm_exclude_reference_link="true")
    assert result
    for record in result:
        assert len(record["sys_id"]) == 32
        assert all(isinstance(v, str) for v in record.values())


async def test_seeded_documents_reference_seeded_keys_and_carry_approval() -> None:
    async with client_for(make_app(), auth=SN_AUTH) as client:
        q = {"sysparm_exclude_reference_link": "true"}
        suppliers = {r["sys_id"]: r for r in await rows(client, "sn_fin_supplier", **q)}
        centers = {r["sys_id"]: r["code"] for r in await rows(client, "cmn_cost_center", **q)}
        accounts = {r["sys_id"] for r in await rows(client, "sn_fin_gl_account", **q)}
        invoices = await rows(client, "sn_shop_invoice", **q)
        lines = await rows(
            client,
            "sn_shop_invoice_line",
            sysparm_query=f"invoice={invoices[0]['sys_id']}^ORDERBYline_number",
            **q,
        )
        orders = await rows(client, "sn_shop_purchase_order", sysparm_query="approval=approved")
    assert suppliers[invoices[0]["supplier"]]["u_erp_vendor_number"].startswith("V")
    assert set(centers.values()) == {"CC100", "CC200", "CC300", "CC400"}
    assert {i["approval"] for i in invoices} <= {"requested", "approved", "rejected"}
    assert all(i["cost_center"] in centers for i in invoices)
    assert [line["line_number"] for line in lines] == [str(n + 1) for n in range(len(lines))]
    assert all(line["gl_account"] in accounts for line in lines)
    assert all(o["approval"] == "approved" for o in orders)
    assert all(o["sys_updated_on"][:4] == "2024" for o in orders)


async def test_alias_table_name_serves_the_same_records() -> None:
    async with client_for(make_app(), auth=SN_AUTH) as client:
        canonical = await rows(client, "sn_shop_invoice")
        alias = await rows(client, "sn_apo_invoice")
        one = await client.get(f"/api/now/table/sn_apo_invoice/{canonical[0]['sys_id']}")
    assert [r["sys_id"] for r in alias] == [r["sys_id"] for r in canonical]
    assert one.json()["result"]["number"] == canonical[0]["number"]


async def test_a_user_without_an_ap_role_gets_403_until_granted_one() -> None:
    app = make_app(user_roles=("rest_service",))
    async with client_for(app, auth=SN_AUTH) as client:
        denied = await client.get("/api/now/table/sn_shop_invoice")
        denied_write = await client.post("/api/now/table/sn_shop_invoice", json={"number": "X"})
        allowed = await client.get("/api/now/table/core_company")
        roles = await rows(
            client,
            "sys_user_has_role",
            sysparm_query="user.user_name=mlc.integration",
            sysparm_fields="role.name",
        )
        user = (await rows(client, "sys_user", sysparm_query="user_name=mlc.integration"))[0]
        role = (await client.post("/_sim/tables/sys_user_role", json={"name": "apo_user"})).json()
        await client.post(
            "/_sim/tables/sys_user_has_role",
            json={"user": user["sys_id"], "role": role["result"]["sys_id"]},
        )
        granted = await client.get("/api/now/table/sn_apo_invoice")
    assert denied.status_code == denied_write.status_code == 403
    assert denied.json()["status"] == "failure"
    assert denied.json()["error"]["message"] == "User Not Authorized"
    assert allowed.status_code == 200
    assert [r["role.name"] for r in roles] == ["rest_service"]
    assert granted.status_code == 200


async def test_reader_role_reads_but_cannot_write() -> None:
    app = make_app(user_roles=("sn_ap_apm.reader",))
    async with client_for(app, auth=SN_AUTH) as client:
        read = await client.get("/api/now/table/sn_shop_invoice")
        write = await client.post("/api/now/table/sn_shop_invoice", json={"number": "X"})
    assert read.status_code == 200
    assert write.status_code == 403


async def test_gl_account_and_cost_center_imports_coalesce_on_erp_keys() -> None:
    async with client_for(make_app(), auth=SN_AUTH) as client:
        first = await stage(
            client,
            "sn_fcms_intg_gl_account_stage",
            {"u_account_number": "70100", "u_name": "Freight", "u_account_type": "Expense"},
        )
        again = await stage(
            client,
            "sn_fcms_intg_gl_account_stage",
            {"u_account_number": "70100", "u_name": "Freight In"},
        )
        child = await stage(
            client,
            "sn_fcms_intg_imp_cost_center",
            {"u_code": "CC210", "u_name": "Atlanta Line 1", "u_parent_code": "cc200"},
        )
        orphan = await stage(
            client,
            "sn_fcms_intg_imp_cost_center",
            {"u_code": "CC999", "u_name": "Orphan", "u_parent_code": "NOPE"},
        )
        accounts = await rows(client, "sn_fin_gl_account", sysparm_query="account_number=70100")
        parent = await rows(client, "cmn_cost_center", sysparm_query="code=CC200")
        created = await rows(
            client, "cmn_cost_center", sysparm_query="code=CC210", sysparm_fields="parent.code"
        )
    assert (first["status"], again["status"]) == ("inserted", "updated")
    assert first["sys_id"] == again["sys_id"]
    assert [a["name"] for a in accounts] == ["Freight In"]
    assert child["status"] == "inserted"
    assert created == [{"parent.code": parent[0]["code"]}]
    assert orphan["status"] == "error"
    assert "NOPE" in orphan["error_message"]


async def test_item_imports_coalesce_on_the_erp_item_number_into_the_product_catalog() -> None:
    async with client_for(make_app(), auth=SN_AUTH) as client:
        row = {"u_item_number": "1000", "u_name": "Air filter", "u_unit_price": "12.50",
               "u_unit_of_measure": "PCS", "u_active": "true"}  # fmt: skip
        first = await stage(client, "u_mlc_imp_item", row)
        again = await stage(client, "u_mlc_imp_item", {**row, "u_name": "Air filter, HEPA"})
        items = await rows(client, "pc_product_cat", sysparm_query="u_erp_item_number=1000")
    assert (first["status"], again["status"]) == ("inserted", "updated")
    assert first["sys_id"] == again["sys_id"]
    assert [(i["name"], i["price"], i["u_unit_of_measure"]) for i in items] == [
        ("Air filter, HEPA", "12.50", "PCS")
    ]


async def test_orders_and_lines_resolve_references_by_erp_keys() -> None:
    async with client_for(make_app(), auth=SN_AUTH) as client:
        header = {"u_po_number": "PO99990", "u_vendor_number": "v00020", "u_total": "150.00",
                  "u_cost_center": "CC300", "u_order_date": "2024-05-01"}  # fmt: skip
        order = await stage(client, "sn_fcms_intg_imp_order", header)
        line = {"u_po_number": "PO99990", "u_line_number": "1", "u_quantity": "3",
                "u_unit_price": "50.00", "u_gl_account": "60200",
                "u_cost_center": "CC300"}  # fmt: skip
        first = await stage(client, "sn_fcms_intg_imp_order_line", line)
        resent = await stage(client, "sn_fcms_intg_imp_order_line", line)
        unknown_vendor = await stage(
            client,
            "sn_fcms_intg_imp_order",
            {**header, "u_po_number": "PO1", "u_vendor_number": "V0"},
        )
        stored = await rows(
            client,
            "sn_shop_purchase_order_line",
            sysparm_query="purchase_order.u_erp_number=PO99990",
            sysparm_fields="line_number,gl_account.account_number,purchase_order.supplier.u_erp_vendor_number",
        )
    assert order["status"] == "inserted"
    assert (first["status"], resent["status"]) == ("inserted", "ignored")
    assert unknown_vendor["status"] == "error"
    assert stored == [
        {
            "line_number": "1",
            "gl_account.account_number": "60200",
            "purchase_order.supplier.u_erp_vendor_number": "V00020",
        }
    ]


async def test_invoice_lines_and_payment_details() -> None:
    async with client_for(make_app(), auth=SN_AUTH) as client:
        invoice = {"u_erp_number": "PI77770", "u_invoice_number": "INV-1",
                   "u_vendor_number": "V00010", "u_total": "99.00",
                   "u_invoice_date": "2024-05-02"}  # fmt: skip
        created = await stage(client, "sn_spend_intg_imp_invoice", invoice)
        line = await stage(
            client,
            "sn_spend_intg_imp_invoice_line",
            {"u_erp_number": "PI77770", "u_line_number": "1", "u_quantity": "1", "u_total": "99.00",
             "u_gl_account": "61000"},
        )  # fmt: skip
        [held] = await rows(client, "sn_apo_invoice", sysparm_query="u_erp_number=PI77770")
        assert held["number"].startswith("APINV")  # numbered on insert, as the platform does
        paid = await stage(
            client,
            "sn_spend_intg_imp_invoice_payment_detail",
            {"u_number": held["number"], "u_erp_status": "Paid", "u_payment_status": "paid",
             "u_paid_amount": "99.00", "u_payment_reference": "PAY-1"},
        )  # fmt: skip
        stray = await stage(
            client,
            "sn_spend_intg_imp_invoice_payment_detail",
            {"u_number": "APINV0000000", "u_payment_status": "paid"},
        )
        [stored] = await rows(client, "sn_apo_invoice", sysparm_query="u_erp_number=PI77770")
    assert created["status"] == line["status"] == "inserted"
    assert paid["status"] == "updated" and paid["sys_id"] == created["sys_id"]
    assert stored["payment_status"] == "paid" and stored["u_erp_status"] == "Paid"
    assert stored["payment_reference"] == "PAY-1"
    assert stored["state"] == "draft"  # set on insert by the map
    assert stray["status"] == "error"


async def until(condition: Any, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_business_rule_push_with_secret_header_and_retries_on_5xx() -> None:
    receiver = Receiver(503)
    rule = PushRule(
        url="http://connector.test/push/servicenow",
        tables=("sn_shop_invoice",),
        secret_header="X-Push-Secret",
        secret="s3cret",
        retry_delays=(30,),
    )
    app = make_app(push=rule, delivery_transport=receiver.transport())
    async with client_for(app, auth=SN_AUTH) as client:
        invoice = (await rows(client, "sn_shop_invoice"))[0]
        await client.patch(
            f"/api/now/table/sn_shop_invoice/{invoice['sys_id']}", json={"approval": "approved"}
        )
        await client.patch(
            f"/api/now/table/core_company/{(await rows(client, 'core_company'))[0]['sys_id']}",
            json={"city": "X"},
        )
        await until(lambda: len(receiver.calls) == 1)
        await client.post("/_sim/clock", json={"advance_seconds": 30})
        await until(lambda: len(receiver.calls) == 2)
        deliveries = (await client.get("/_sim/push/deliveries")).json()["deliveries"]
    first, retried = receiver.calls
    assert first.body == retried.body
    assert first.headers["x-push-secret"] == "s3cret"
    payload = first.json()
    assert payload["table"] == "sn_shop_invoice"
    assert payload["operation"] == "update"
    assert payload["sys_id"] == invoice["sys_id"]
    assert payload["record"]["approval"] == "approved"
    assert [a["status"] for a in deliveries[0]["attempts"]] == [503, 200]
    assert len(deliveries) == 1  # core_company is not a pushed table
