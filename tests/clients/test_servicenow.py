"""ServiceNow client contract: Table API CRUD, Import Sets (single and multiple), roles."""

from __future__ import annotations

import pytest

from ml_connector.api.errors import NotFound
from ml_connector.clients.servicenow import ServiceNowClient
from ml_connector.secrets import SecretStore
from simulators import servicenow
from tests.clients.conftest import Serve
from tests.clients.connections import sn_connection

SUPPLIER = "sn_fcms_intg_imp_supplier"


@pytest.fixture
async def client(serve: Serve, secrets: SecretStore) -> ServiceNowClient:
    url = serve(servicenow.create_app())
    return ServiceNowClient(sn_connection(url), secrets)


async def test_table_api_crud(client: ServiceNowClient) -> None:
    created = await client.create("core_company", {"name": "Direct Co", "vendor": "true"})
    sys_id = created["sys_id"]
    assert (await client.get("core_company", sys_id))["name"] == "Direct Co"
    updated = await client.update("core_company", sys_id, {"city": "Atlanta"})
    assert updated["city"] == "Atlanta" and updated["sys_mod_count"] == "1"
    found = await client.table("core_company", query="name=Direct Co")
    assert [r["sys_id"] for r in found] == [sys_id]
    await client.delete("core_company", sys_id)
    with pytest.raises(NotFound):
        await client.get("core_company", sys_id)
    await client.aclose()


async def test_import_row_coalesces(client: ServiceNowClient) -> None:
    row = {"u_vendor_number": "V1", "u_name": "Acme"}
    first = await client.import_row(SUPPLIER, row)
    again = await client.import_row(SUPPLIER, row)
    changed = await client.import_row(SUPPLIER, {**row, "u_name": "Acme 2"})
    assert [r.status for r in first + again + changed] == ["inserted", "ignored", "updated"]
    vendors = await client.table("core_company", query="u_vendor_number=V1")
    assert [v["name"] for v in vendors] == ["Acme 2"]
    await client.aclose()


async def test_import_multiple_polls_results_in_row_order(client: ServiceNowClient) -> None:
    rows = [{"u_vendor_number": f"M{i}", "u_name": f"Multi {i}"} for i in range(5)]
    await client.import_row(SUPPLIER, rows[0])
    results = await client.import_multiple(SUPPLIER, [*rows, {"u_name": "no number"}])
    assert [r.status for r in results[:5]] == ["ignored"] + ["inserted"] * 4
    assert all(r.table == "core_company" and r.sys_id for r in results[:5])
    assert not results[5].ok
    again = await client.import_multiple(SUPPLIER, rows)
    assert {r.status for r in again} == {"ignored"}
    await client.aclose()


async def test_roles_check(client: ServiceNowClient) -> None:
    roles = await client.roles_of("mlc.integration")
    assert "sn_ap_apm.accounts_payable_specialist" in roles
    missing = await client.missing_roles(
        "mlc.integration", ["sn_ap_apm.accounts_payable_specialist", "sn_ap_apm.admin"]
    )
    assert missing == ["sn_ap_apm.admin"]
    await client.aclose()
