"""``ml-connector simulate``: options reach the simulators, mistakes are plain errors, TLS works."""

from __future__ import annotations

import inspect
import socket
import ssl
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from app import cli
from tests.simulators.support import BC_TOKEN_FORM, BC_TOKEN_PATH

NOTHING: dict[str, Any] = {
    name: None
    for name in (
        "seed", "vendors", "customers", "items", "purchase_orders", "invoices", "client_id",
        "client_secret", "user", "password", "access_key", "app_key", "webhook_url", "hmac_key",
        "latency_ms", "error_rate", "drop_rate",
    )
}  # fmt: skip


def options_for(system: str, **given: Any) -> Any:
    _, options = cli._simulator_options(system, {**NOTHING, **given})
    return options


def test_cli_values_map_to_each_systems_options() -> None:
    bc = options_for("business_central", seed=7, vendors=3, invoices=4, latency_ms=5.0)
    nav = options_for("nav", user="ADMIN", access_key="k" * 10, drop_rate=0.5)
    sn = options_for("servicenow", vendors=2, user="svc", password="pw", error_rate=0.1)
    assert (bc.seed, bc.vendor_count, bc.purchase_invoice_count) == (7, 3, 4)
    assert bc.faults.latency_ms == 5.0
    assert (nav.user, nav.access_key, nav.faults.drop_rate) == ("ADMIN", "k" * 10, 0.5)
    assert nav.webhooks_enabled is False
    assert (sn.supplier_count, sn.username, sn.password) == (2, "svc", "pw")
    assert sn.faults.error_rate == 0.1
    defaults = options_for("business_central")
    assert defaults.vendor_count == 50  # unset options keep the simulator's own defaults


@pytest.mark.parametrize(
    ("system", "given", "message"),
    [
        ("sap", {}, "unknown system 'sap'"),
        ("business_central", {"access_key": "x"}, "--access-key does not apply"),
        ("servicenow", {"error_rate": 2.0}, "error_rate must be between 0 and 1"),
        ("nav", {"hmac_key": "x" * 40}, "servicetitan simulator only"),
    ],
)
def test_mistakes_are_reported_plainly(
    system: str, given: dict[str, Any], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit):
        options_for(system, **given)
    assert message in capsys.readouterr().err


def test_a_missing_simulator_module_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The registry is imported afresh and one system's registration cannot be imported.
    monkeypatch.delitem(sys.modules, "simulators.registry", raising=False)
    monkeypatch.setitem(sys.modules, "simulators.acumatica.registration", None)
    with pytest.raises(typer.Exit):
        options_for("acumatica")
    err = capsys.readouterr().err
    assert "the acumatica simulator is not available" in err
    assert "simulators.acumatica.registration is missing" in err


def test_every_registered_simulator_is_served_and_listed_in_the_help() -> None:
    from simulators.registry import SIMULATORS

    result = CliRunner().invoke(cli.app, ["simulate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert " | ".join(s.name for s in SIMULATORS) in result.output
    parameters = set(inspect.signature(cli.simulate).parameters)
    for simulator in SIMULATORS:
        assert set(simulator.cli_options) <= parameters, simulator.name
        _, options = cli._simulator_options(simulator.name, NOTHING)
        assert isinstance(options, simulator.options)


def test_the_shell_imports_no_simulator_until_one_is_asked_for() -> None:
    code = (
        "import sys, app.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'simulators'))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_simulate_serves_https_and_prints_the_certificate_path() -> None:
    port = free_port()
    command = [
        sys.executable, "-c", "from app.cli import app; app()", "simulate",
        "business_central", "--port", str(port), "--vendors", "3", "--tls",
    ]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        assert process.stderr is not None
        while not any("TLS certificate" in line for line in lines):
            line = process.stderr.readline()
            assert line, f"simulate exited early: {''.join(lines)}"
            lines.append(line)
        cert_path = lines[-1].rsplit(": ", 1)[1].strip()
        trust = ssl.create_default_context(cafile=cert_path)
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.post(
                    f"https://127.0.0.1:{port}{BC_TOKEN_PATH}", data=BC_TOKEN_FORM, verify=trust
                )
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(10)
    assert f"https://127.0.0.1:{port}" in "".join(lines)
    assert response.status_code == 200


def test_the_other_systems_are_wired_too() -> None:
    fno = options_for("finance_operations", vendors=4, invoices=5)
    acumatica = options_for("acumatica", invoices=6, user="admin", password="pw")
    titan = options_for(
        "servicetitan", app_key="ak1.x", webhook_url="http://hooks.test/st", hmac_key="k" * 32
    )
    assert (fno.vendor_count, fno.invoice_count) == (4, 5)
    assert (acumatica.bill_count, acumatica.username, acumatica.password) == (6, "admin", "pw")
    assert titan.app_key == "ak1.x"
    [hook] = titan.webhook_subscriptions
    assert (hook.url, hook.hmac_key) == ("http://hooks.test/st", "k" * 32)
