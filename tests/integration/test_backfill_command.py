"""``ml-connector backfill`` with its source away: one line naming the connection, exit 1."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from tests.unit.test_exit_codes import AWAY, SECRETS

pytestmark = pytest.mark.kafka


def test_a_backfill_whose_source_is_away_names_it_in_one_line(
    bootstrap: str, registry_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "mlc.yaml"
    prefix = f"bf{uuid.uuid4().hex[:8]}"
    config.write_text(f"kafka:\n  bootstrap_servers: '{bootstrap}'\n"
                      f"  schema_registry_url: '{registry_url}'\n"
                      f"  topic_prefix: {prefix}\n{AWAY}")  # fmt: skip
    result = CliRunner().invoke(
        app,
        ["backfill", "bc-servicenow", "vendor", "--since", "2024-01-01", "-c", str(config)],
        env=SECRETS,
    )
    assert result.exit_code == 1, result.output
    [said] = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert said.startswith("error: backfill bc-servicenow: reading vendor from bc: "), said
    assert "Traceback" not in result.output
    assert not any(secret in result.output for secret in SECRETS.values())
