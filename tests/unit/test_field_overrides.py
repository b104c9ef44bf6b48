"""Field overrides: how YAML rules reshape a rendered row, and how wrong ones are named."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from app.cli import app
from ml_connector.config import ConfigError, Settings, parse_settings
from sinks.base import SinkRecord
from sinks.overrides import Overrides, Refused
from sinks.servicenow import _string, columns, vendor_row

CONNECTIONS = """
connections:
  bc:
    system: business_central
    tenant: contoso.onmicrosoft.com
    environment: production
    auth:
      kind: entra_client_credentials
      token_url: https://login.example/token
      client_id: mlc-client
      client_secret: {secret: bc-secret}
  sn:
    system: servicenow
    instance_url: https://contoso.service-now.com
    auth: {kind: servicenow, username: mlc, password: {secret: sn-password}}
"""


def _config(fields: str, entities: str = "[vendor, gl_account]") -> str:
    return (CONNECTIONS + "flows:\n  bc-servicenow:\n    source: bc\n    target: sn\n"
            f"    entities: {entities}\n    fields:\n" + fields)  # fmt: skip


def _settings(fields: str) -> Settings:
    return parse_settings(yaml.safe_load(_config(fields)))


VENDOR = {"number": "V10000", "name": "Fabrikam", "country": "US", "currency": None,
          "tax_id": "12-345", "balance": Decimal("10.5000"), "blocked": False}  # fmt: skip


def _record(entity: dict[str, Any], connection: str = "bc") -> SinkRecord:
    event = {"after": entity, "before": None, "op": "r", "source": {"connection": connection}}
    return SinkRecord("mlc.sink.sn.vendor", 0, 0, "k", "vendor", event)


def _applied(
    fields: str, entity: dict[str, Any] = VENDOR, connection: str = "bc"
) -> dict[str, str]:
    overrides = Overrides.of(_settings(fields), "sn", _string)
    return overrides.apply(_record(entity, connection), vendor_row(entity, False), entity)


def test_each_kind_of_rule_reshapes_the_rendered_row() -> None:
    row = _applied("""\
      vendor:
        u_code: {from: number}
        u_source: {value: BC}
        u_blank: {value: null}
        u_balance: {from: balance}
        u_country: {lookup: {US: USA}}
        u_currency: {from: currency, lookup: {"": USD}}
        u_name: {rename: u_company_name}
        u_tax_id: {drop: true}
""")
    plain = vendor_row(VENDOR, False)
    assert row["u_code"] == "V10000" and row["u_vendor_number"] == "V10000"
    assert (row["u_source"], row["u_blank"], row["u_balance"]) == ("BC", "", "10.5")
    assert (row["u_country"], row["u_currency"]) == ("USA", "USD")  # an empty value is ''
    assert row["u_company_name"] == "Fabrikam" and "u_name" not in row
    assert "u_tax_id" not in row
    untouched = set(plain) - {"u_country", "u_currency", "u_name", "u_tax_id"}
    assert {c: row[c] for c in untouched} == {c: plain[c] for c in untouched}


def test_rules_read_the_row_as_rendered_so_their_order_does_not_matter() -> None:
    row = _applied("""\
      vendor:
        u_name: {rename: u_label}
        u_email: {drop: true}
        u_label_copy: {lookup: {Fabrikam: F}}
        u_city: {rename: u_email}
""")
    assert row["u_label"] == "Fabrikam" and row["u_email"] == ""  # u_city was empty
    assert "u_label_copy" not in row  # a lookup alone of a column not rendered adds nothing


def test_an_unlisted_value_is_kept_replaced_or_refused() -> None:
    rule = "      vendor:\n        u_country: {{lookup: {{CA: CAN}}, otherwise: {0}}}\n"
    assert _applied(rule.format("keep"))["u_country"] == "US"
    assert _applied(rule.format("{value: ZZ}"))["u_country"] == "ZZ"
    with pytest.raises(Refused, match=r"fields\.vendor\.u_country: 'US' is not in its lookup"):
        _applied(rule.format("reject"))


def test_lookup_keys_are_matched_as_text() -> None:
    fields = "      vendor:\n        u_active: {lookup: {true: 'Y', false: 'N'}}\n"
    assert _applied(fields)["u_active"] == "Y"
    blocked = {**VENDOR, "blocked": True}
    assert _applied(fields, blocked)["u_active"] == "N"


def test_overrides_belong_to_the_flow_the_record_came_by() -> None:
    fields = "      vendor:\n        u_source: {value: BC}\n"
    assert "u_source" in _applied(fields)
    assert _applied(fields, connection="acumatica") == vendor_row(VENDOR, False)


def test_the_columns_an_override_may_rename_are_what_is_rendered_whatever_the_values() -> None:
    assert columns("vendor") == set(vendor_row(VENDOR, False))
    assert columns("vendor") == set(vendor_row({}, True))
    assert "u_account_number" in columns("gl_account") and columns("customer") == frozenset()
    assert "u_paid_amount" in columns("payment") and "u_po_number" in columns("purchase_order")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{from: number, value: X}", "u_code: give one of from, value, lookup, rename or drop"),
        ("{}", "u_code: give one of from, value, lookup, rename or drop (lookup may come with "
               "from); got none"),
        ("{drop: false}", "u_code.drop: Input should be True"),
        ("{from: number, otherwise: reject}", "u_code: otherwise is only used with a lookup"),
        ("{value: 2024-01-31}", "u_code.value: expected text, a number or true/false"),
        ("{lookup: {a: [1]}}", "u_code.lookup.a: expected text, a number or true/false"),
        ("{lookup: {a: b}, otherwise: maybe}", "u_code.otherwise"),
        ("{form: number}", "u_code.form: unknown key"),
    ],
)  # fmt: skip
def test_a_malformed_rule_is_named_when_the_file_is_read(rule: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _settings(f"      vendor:\n        u_code: {rule}\n")
    assert f"flows.bc-servicenow.fields.vendor.{message}" in str(raised.value)


runner = CliRunner()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("      vendor:\n        u_code: {from: nmber}\n",
         "flows.bc-servicenow.fields.vendor.u_code.from: vendor has no field 'nmber'"),
        ("      item:\n        u_code: {value: X}\n",
         "flows.bc-servicenow.fields.item: the flow carries no item"),
        ("      vendor:\n        u_vendor_no: {rename: u_supplier_id}\n",
         "flows.bc-servicenow.fields.vendor.u_vendor_no: the target renders no column "
         "'u_vendor_no' for vendor"),
        ("      gl_account:\n        u_type: {drop: true}\n",
         "flows.bc-servicenow.fields.gl_account.u_type: the target renders no column 'u_type'"),
        ("      vendor:\n        u_name: {rename: u_email}\n",
         "flows.bc-servicenow.fields.vendor.u_name.rename: 'u_email' is already a column"),
        ("      vendor:\n        u_name: {rename: u_x}\n        u_x: {value: 1}\n",
         "flows.bc-servicenow.fields.vendor.u_name.rename: flows.bc-servicenow.fields.vendor.u_x "
         "already sends 'u_x'"),
    ],
)  # fmt: skip
def test_config_check_names_a_wrong_override_by_its_full_key(
    tmp_path: Path, fields: str, message: str
) -> None:
    path = tmp_path / "mlc.yaml"
    path.write_text(_config(fields))
    result = runner.invoke(app, ["config", "check", "-c", str(path)])
    assert result.exit_code != 0
    assert message in " ".join(result.output.split())
    # run checks the same way and refuses to start on it.
    refused = runner.invoke(app, ["run", "-c", str(path)])
    assert refused.exit_code != 0 and message in " ".join(refused.output.split())


def test_config_check_accepts_good_overrides(tmp_path: Path) -> None:
    path = tmp_path / "mlc.yaml"
    path.write_text(_config("      vendor:\n        u_vendor_number: {rename: u_supplier_id}\n"
                            "        u_code: {from: number}\n"))  # fmt: skip
    result = runner.invoke(app, ["config", "check", "-c", str(path)])
    assert result.exit_code == 0, result.output


def test_config_check_refuses_overrides_a_target_would_not_apply(tmp_path: Path) -> None:
    """A Business Central target renders documents without override support yet; accepting
    the rule there would leave it silently unapplied."""
    flow = ("flows:\n  servicenow-bc:\n    source: sn\n    target: bc\n"
            "    entities: [purchase_invoice]\n    fields:\n"
            "      purchase_invoice:\n        vendorNumber: {value: V1}\n")  # fmt: skip
    path = tmp_path / "mlc.yaml"
    path.write_text(CONNECTIONS + flow)
    result = runner.invoke(app, ["config", "check", "-c", str(path)])
    assert result.exit_code != 0
    assert ("flows.servicenow-bc.fields.purchase_invoice: bc is a business_central target, "
            "which takes no field overrides yet (these do: servicenow, servicetitan)"
            ) in " ".join(result.output.split())  # fmt: skip
