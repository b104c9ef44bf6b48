"""A flow's field overrides, read from YAML, change what lands in ServiceNow (the simulator
over real HTTP); the same write without them lands as it always did."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ml_connector.config import load_settings
from ml_connector.secrets import SecretStore
from simulators import servicenow
from simulators.servicenow.maps import DEFAULT_TRANSFORM_MAPS, SUPPLIER_MAP
from sinks.base import SinkRecord
from sinks.registry import build_target
from sinks.servicenow import ServiceNowTarget
from tests.clients.conftest import Serve

CONFIG = """
connections:
  bc:
    system: business_central
    tenant: sim-tenant
    environment: production
    auth:
      kind: entra_client_credentials
      token_url: https://login.example/token
      client_id: mlc-client
      client_secret: {{secret: secret}}
  sn:
    system: servicenow
    instance_url: {url}
    auth:
      kind: servicenow
      client_id: mlc-client
      client_secret: {{secret: secret}}
      username: mlc.integration
      password: {{secret: password}}
flows:
  bc-servicenow:
    source: bc
    target: sn
    entities: [vendor]
{fields}"""

# The customer's instance: its supplier staging table names the vendor number u_supplier_id,
# it wants every supplier's mail to go to one mailbox, and ISO-3 country codes.
OVERRIDES = """\
    fields:
      vendor:
        u_vendor_number: {rename: u_supplier_id}
        u_email: {value: ap@contoso.example}
        u_country: {from: country, lookup: {US: USA, CA: CAN}, otherwise: reject}
"""

CUSTOMER_SUPPLIER_MAP = dataclasses.replace(
    SUPPLIER_MAP,
    field_map={
        ("u_supplier_id" if staging == "u_vendor_number" else staging): column
        for staging, column in SUPPLIER_MAP.field_map.items()
    },
)
CUSTOMER_MAPS = tuple(
    CUSTOMER_SUPPLIER_MAP if m is SUPPLIER_MAP else m for m in DEFAULT_TRANSFORM_MAPS
)


def _vendor(number: str, country: str) -> SinkRecord:
    vendor = {"number": number, "name": f"Vendor {number}", "city": "Seattle", "country": country,
              "email": f"{number.lower()}@vendor.example", "blocked": False}  # fmt: skip
    event = {"after": vendor, "before": None, "op": "r",
             "source": {"system": "business_central", "connection": "bc"}}  # fmt: skip
    return SinkRecord("mlc.sink.sn.vendor", 0, 0, f"id-{number}", "vendor", event)


def _target(
    tmp_path: Path, serve: Serve, secrets: SecretStore, fields: str, **options: Any
) -> ServiceNowTarget:
    url = serve(servicenow.create_app(servicenow.ServiceNowOptions(**options)))
    path = tmp_path / "mlc.yaml"
    path.write_text(CONFIG.format(url=url, fields=fields))
    built = build_target(load_settings(path), "sn", secrets)
    assert isinstance(built, ServiceNowTarget)
    return built


async def _supplier(target: ServiceNowTarget, name: str) -> dict[str, Any]:
    [row] = await target.client.table("core_company", query=f"name={name}")
    return row


async def test_without_overrides_a_vendor_lands_as_rendered(
    tmp_path: Path, serve: Serve, secrets: SecretStore
) -> None:
    target = _target(tmp_path, serve, secrets, "")
    assert (await target.write(_vendor("V90001", "US"))).status == "inserted"
    row = await _supplier(target, "Vendor V90001")
    assert (row["u_vendor_number"], row["u_email"], row["country"]) == (
        "V90001", "v90001@vendor.example", "US")  # fmt: skip
    await target.aclose()


async def test_overrides_rename_set_and_translate_what_lands(
    tmp_path: Path, serve: Serve, secrets: SecretStore
) -> None:
    # Without the override, the customer's instance never sees the vendor number it
    # coalesces on, and refuses the row.
    plain = _target(tmp_path, serve, secrets, "", transform_maps=CUSTOMER_MAPS)
    unmapped = await plain.write(_vendor("V90001", "US"))
    assert unmapped.status == "rejected" and "coalesce values not present" in str(unmapped.error)
    await plain.aclose()

    target = _target(tmp_path, serve, secrets, OVERRIDES, transform_maps=CUSTOMER_MAPS)
    written = await target.write(_vendor("V90002", "CA"))
    assert written.status == "inserted", written
    row = await _supplier(target, "Vendor V90002")
    assert (row["u_vendor_number"], row["u_email"], row["country"]) == (
        "V90002", "ap@contoso.example", "CAN")  # fmt: skip
    assert row["city"] == "Seattle"  # columns without an override are sent as rendered
    # The renamed column coalesces: the same vendor again updates the row, not a second one.
    assert (await target.write(_vendor("V90002", "CA"))).status in ("updated", "ignored")
    assert len(await target.client.table("core_company", query="u_vendor_number=V90002")) == 1

    # A country the lookup does not list refuses the record, naming the rule; nothing lands.
    refused = await target.write(_vendor("V90003", "MX"))
    assert refused.status == "rejected"
    assert refused.error == (
        "flows.bc-servicenow.fields.vendor.u_country: 'MX' is not in its lookup (otherwise: reject)"
    )
    assert await target.client.table("core_company", query="name=Vendor V90003") == []
    await target.aclose()
