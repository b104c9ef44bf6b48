"""Every command exits 0 when all is well, 1 when it found a problem, 2 for usage or config.

Brokers that do not answer are a problem found (1), named in one line; a command asked
wrongly says so (2) before it spends any time on a broker.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

import app.cli_common
import app.cli_ops
from app.cli import app as cli

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "ml-connector.example.yaml"
NOWHERE = "127.0.0.1:1"  # nothing listens on port 1


@pytest.fixture
def dead_brokers(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", NOWHERE)
    monkeypatch.setattr(app.cli_common, "REACH_SECONDS", 1.0)
    return EXAMPLE


KAFKA_COMMANDS = [
    ["status"],
    ["status", "--json"],
    ["dlq", "list", "sn"],
    ["dlq", "show", "sn", "0:0"],
    ["dlq", "replay", "sn"],
    ["audit", "bc", "vendor", "V1"],
    ["replay", "--group", "g", "--to-earliest"],
    ["replay", "--record", "bc:vendor:V1"],
    ["backfill", "bc-servicenow", "vendor", "--since", "2024-01-01"],
    ["ui"],
]


@pytest.mark.parametrize("command", KAFKA_COMMANDS, ids=" ".join)
def test_unreachable_brokers_are_a_problem_found_named_in_one_line(
    dead_brokers: Path, command: list[str]
) -> None:
    result = runner.invoke(cli, [*command, "-c", str(dead_brokers)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: kafka at 127.0.0.1:1") and "Traceback" not in lines[0]
    assert "kafka.bootstrap_servers" in lines[0]  # and where to fix it


USAGE = [
    (["backfill", "no-such-flow", "vendor", "--since", "2024-01-01"], "no flow named"),
    (["backfill", "bc-servicenow", "invoice", "--since", "2024-01-01"], "has no entity"),
    (["replay"], "give --group"),
    (["replay", "--group", "g"], "exactly one of"),
    (["replay", "--group", "g", "--to-earliest", "--to-offset", "3"], "exactly one of"),
    (["replay", "--record", "bc:vendor"], "CONNECTION:ENTITY:ID"),
    (["reconcile", "no-such-flow"], "no flow named"),
    (["dlq", "show", "sn", "first"], "PARTITION:OFFSET"),
]


@pytest.mark.parametrize(("command", "said"), USAGE, ids=[" ".join(c) for c, _ in USAGE])
def test_usage_errors_exit_2_before_any_broker_is_asked(
    dead_brokers: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], said: str
) -> None:
    def no_broker(*_: object, **__: object) -> None:
        raise AssertionError("a usage error was sent to the brokers")

    monkeypatch.setattr(app.cli_ops, "kafka_bootstrap", no_broker)
    result = runner.invoke(cli, [*command, "-c", str(dead_brokers)])
    assert result.exit_code == 2, result.output
    assert said in result.output


def test_run_refuses_an_unknown_component_before_starting_anything(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["run", "nonsense", "-c", str(EXAMPLE)])
    assert result.exit_code == 2
    assert "unknown component 'nonsense'" in result.output and "producers" in result.output


def test_a_missing_bootstrap_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "mlc.yaml"
    config.write_text("connections: {}\n")
    result = runner.invoke(cli, ["status", "-c", str(config)], env={"KAFKA_BOOTSTRAP_SERVERS": ""})
    assert result.exit_code == 2 and "kafka.bootstrap_servers" in result.output


@pytest.mark.parametrize("command", [["simulate", "servicenow"], ["ui", "-c", str(EXAMPLE)]],
                         ids=" ".join)  # fmt: skip
def test_a_port_taken_is_a_problem_found_named_before_anything_is_served(
    dead_brokers: Path, command: list[str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = runner.invoke(cli, [*command, "--port", str(port)])
    assert result.exit_code == 1, result.output
    assert (
        result.output.strip() == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


AWAY = """
connections:
  bc:
    system: business_central
    tenant: contoso.onmicrosoft.com
    environment: production
    base_url: http://127.0.0.1:1/bc
    auth:
      kind: entra_client_credentials
      token_url: http://127.0.0.1:1/token
      client_id: 11111111-2222-3333-4444-555555555555
      client_secret: {env: MLC_TEST_BC_SECRET}
  sn:
    system: servicenow
    instance_url: http://127.0.0.1:1
    auth:
      kind: servicenow
      client_id: 0123456789abcdef0123456789abcdef
      client_secret: {env: MLC_TEST_SN_SECRET}
flows:
  bc-servicenow: {source: bc, target: sn, entities: [vendor]}
"""
SECRETS = {"MLC_TEST_BC_SECRET": "bc-s3cr3t-value", "MLC_TEST_SN_SECRET": "sn-s3cr3t-value"}


def test_reconcile_with_a_system_away_names_the_connection_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "mlc.yaml"
    config.write_text(AWAY)
    result = runner.invoke(cli, ["reconcile", "bc-servicenow", "-c", str(config)], env=SECRETS)
    assert result.exit_code == 1, result.output
    [said] = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert said.startswith("error: reconcile bc-servicenow: reading vendor from sn: ")
    assert "Traceback" not in result.output
    assert not any(secret in result.output for secret in SECRETS.values())


def test_reconcile_without_its_secrets_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "mlc.yaml"
    config.write_text(AWAY)
    result = runner.invoke(cli, ["reconcile", "bc-servicenow", "-c", str(config)],
                           env=dict.fromkeys(SECRETS, ""))  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "MLC_TEST_" in result.output and "Traceback" not in result.output
