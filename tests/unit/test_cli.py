"""The command line as an operator meets it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from app.cli import app

runner = CliRunner()


def test_config_check_names_the_bad_keys(tmp_path: Path) -> None:
    path = tmp_path / "mlc.yaml"
    path.write_text(
        "kafka:\n  partitions: 0\n  bootstrap: localhost:9092\n"
        "connections:\n  bc:\n    system: business_central\n    environment: p\n"
        "    auth:\n      kind: entra_client_credentials\n      token_url: https://t\n"
        "      client_secret: {secret: s}\n"
    )
    result = runner.invoke(app, ["config", "check", "-c", str(path)])
    assert result.exit_code == 2
    assert "kafka.partitions" in result.output
    assert "kafka.bootstrap: unknown key" in result.output
    assert "connections.bc.auth.client_id: required key is missing" in result.output


def test_config_check_accepts_the_example() -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "ml-connector.example.yaml"
    result = runner.invoke(app, ["config", "check", "-c", str(example)])
    assert result.exit_code == 0, result.output


def test_secrets_are_stored_encrypted_and_never_printed(tmp_path: Path) -> None:
    key = tmp_path / "secret.key"
    assert runner.invoke(app, ["secrets", "new-key", str(key)]).exit_code == 0
    config = tmp_path / "mlc.yaml"
    config.write_text(f"secrets:\n  store: {tmp_path / 'store.json'}\n  key_file: {key}\n")
    result = runner.invoke(
        app, ["secrets", "set", "-c", str(config), "bc-secret"], input="hunter2\nhunter2\n"
    )
    assert result.exit_code == 0, result.output
    assert "hunter2" not in (tmp_path / "store.json").read_text()
    listed = runner.invoke(app, ["secrets", "list", "-c", str(config)])
    assert listed.output.split() == ["bc-secret"]
    as_json = runner.invoke(app, ["secrets", "list", "-c", str(config), "--json"])
    assert json.loads(as_json.output) == ["bc-secret"]
    assert "hunter2" not in result.output + listed.output + as_json.output


def test_systems_lists_as_json_for_tools() -> None:
    result = runner.invoke(app, ["systems", "--json"])
    assert result.exit_code == 0, result.output
    systems = {s["system"]: s for s in json.loads(result.output)}
    assert {"business_central", "servicenow", "acumatica", "servicetitan"} <= set(systems)
    assert "vendor" in systems["business_central"]["reads"]
    assert systems["servicenow"]["writes"]


def test_usage_and_config_errors_exit_2(tmp_path: Path) -> None:
    """(Found problems exit 1: ping's and reconcile's tests say so.)"""
    assert runner.invoke(app, ["status", "--no-such-option"]).exit_code == 2
    missing = runner.invoke(app, ["status", "-c", str(tmp_path / "absent.yaml")])
    assert missing.exit_code == 2 and "absent.yaml" in missing.output
    config = tmp_path / "mlc.yaml"
    config.write_text("kafka: {bootstrap_servers: '127.0.0.1:1'}\n")
    assert runner.invoke(app, ["reconcile", "-c", str(config), "nope"]).exit_code == 2
