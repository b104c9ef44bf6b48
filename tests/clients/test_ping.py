"""``ml-connector ping`` against each simulator: right credentials pass every check; a wrong
secret, an unknown host, a missing ServiceNow role and a wrong Acumatica version each name the
connection, the check and the fix, with no traceback and no secret."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from app.cli import app
from ml_connector.connections.base import ConnectionBase
from ml_connector.secrets import SecretStore, generate_key
from simulators import (
    acumatica,
    business_central,
    finance_operations,
    nav,
    servicenow,
    servicetitan,
)
from tests.clients.conftest import SECRETS, Serve
from tests.clients.connections import (
    acumatica_connection,
    bc_connection,
    fo_connection,
    nav_connection,
    sn_connection,
    st_connection,
)

runner = CliRunner()
Build = Callable[..., ConnectionBase]
SIMULATED: dict[str, tuple[Callable[[], Any], Build]] = {
    "business_central": (lambda: business_central.create_app(
        business_central.BusinessCentralOptions()), bc_connection),
    "nav": (lambda: nav.create_app(nav.NavOptions()), nav_connection),
    "finance_operations": (lambda: finance_operations.create_app(
        finance_operations.FinanceOperationsOptions()), fo_connection),
    "acumatica": (lambda: acumatica.create_app(acumatica.AcumaticaOptions()),
                  acumatica_connection),
    "servicenow": (lambda: servicenow.create_app(), sn_connection),
    "servicetitan": (lambda: servicetitan.create_app(servicetitan.ServiceTitanOptions()),
                     st_connection),
}  # fmt: skip


def write_config(tmp: Path, connections: dict[str, ConnectionBase],
                 flows: dict[str, Any] | None = None) -> Path:  # fmt: skip
    key = generate_key()
    (tmp / "secret.key").write_text(key)
    store = SecretStore(tmp / "store.json", key)
    for name, value in SECRETS.items():
        store.set(name, value)
    path = tmp / "mlc.yaml"
    path.write_text(yaml.safe_dump({
        "secrets": {"store": str(tmp / "store.json"), "key_file": str(tmp / "secret.key")},
        "connections": {n: c.model_dump(mode="json", exclude_none=True)
                        for n, c in connections.items()},
        "flows": flows or {},
    }))  # fmt: skip
    return path


def ping(path: Path, *names: str) -> Any:
    result = runner.invoke(app, ["ping", "-c", str(path), *names])
    assert ("Traceback" not in result.output and result.exception in (None,)) or isinstance(
        result.exception, SystemExit
    ), result.output
    assert not any(v in result.output for v in SECRETS.values()), result.output
    return result


def lines(result: Any) -> list[str]:
    return [" ".join(line.split()) for line in result.output.splitlines()]


@pytest.mark.parametrize("system", list(SIMULATED))
def test_right_credentials_pass_every_check(serve: Serve, tmp_path: Path, system: str) -> None:
    make_app, connection = SIMULATED[system]
    url = serve(make_app())
    result = ping(write_config(tmp_path, {"conn": connection(url)}), "conn")
    assert result.exit_code == 0, result.output
    checks = [line.split()[2] for line in lines(result) if line.startswith("ok")]
    assert checks[:2] == ["dns", "connect"] and len(checks) >= 3, result.output


def test_a_wrong_secret_names_the_token_check(serve: Serve, tmp_path: Path) -> None:
    url = serve(business_central.create_app(business_central.BusinessCentralOptions()))
    result = ping(write_config(tmp_path, {"bc": bc_connection(url, secret="wrong")}), "bc")
    assert result.exit_code == 1
    failed = [line for line in lines(result) if line.startswith("FAIL")]
    assert failed and failed[0].split()[1:3] == ["bc", "token"], result.output
    assert "fix: check the client id and its secret" in " ".join(lines(result))


def test_an_unknown_host_names_the_dns_check(tmp_path: Path) -> None:
    conn = st_connection("https://no-such-host.invalid")
    result = ping(write_config(tmp_path, {"st": conn}), "st")
    assert result.exit_code == 1
    failed = [line for line in lines(result) if line.startswith("FAIL")]
    assert failed[0].split()[1:3] == ["st", "dns"], result.output
    assert "fix: check the host name" in " ".join(lines(result))


def test_a_missing_servicenow_role_is_named(serve: Serve, tmp_path: Path) -> None:
    options = servicenow.ServiceNowOptions(user_roles=("rest_service",))
    url = serve(servicenow.create_app(options))
    config = write_config(
        tmp_path, {"sn": sn_connection(url), "bc": bc_connection("http://127.0.0.1:9")},
        {"f": {"source": "bc", "target": "sn", "entities": ["vendor"]}},
    )  # fmt: skip
    result = ping(config, "sn")
    assert result.exit_code == 1
    failed = [line for line in lines(result) if line.startswith("FAIL")]
    assert failed[0].split()[1:3] == ["sn", "roles"], result.output
    assert "import_transformer" in failed[0]
    assert "fix: grant the integration user import_transformer" in " ".join(lines(result))


def test_a_wrong_acumatica_version_is_named(serve: Serve, tmp_path: Path) -> None:
    url = serve(acumatica.create_app(acumatica.AcumaticaOptions()))
    result = ping(write_config(tmp_path, {"acu": acumatica_connection(url, version="9.9")}),
                  "acu")  # fmt: skip
    assert result.exit_code == 1
    failed = [line for line in lines(result) if line.startswith("FAIL")]
    assert failed[0].split()[1:3] == ["acu", "version"], result.output
    assert "fix: pin a version the instance serves" in " ".join(lines(result))


def test_an_unknown_connection_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ping", "-c", str(write_config(tmp_path, {})), "nosuch"])
    assert result.exit_code == 2 and "no connection named nosuch" in result.output
