"""What an operator reaches for first: the version, the config schema, log lines to collect."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from app import logs
from app.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("ml-connector ")


def test_config_schema_documents_every_section() -> None:
    result = runner.invoke(app, ["config", "schema"])
    schema = json.loads(result.output)
    assert {"kafka", "connections", "flows", "delivery", "webhooks"} <= set(schema["properties"])
    flow = schema["$defs"]["FlowConfig"]["properties"]
    assert "overlap" in flow and flow["overlap"]["description"]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level
    for name in logs.NOISY:
        logging.getLogger(name).setLevel(logging.NOTSET)


@pytest.mark.usefixtures("restore_logging")
def test_log_lines_are_json_naming_their_component(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("info", component="sinks", fmt="json")
    logging.getLogger("sinks.runner").info("wrote %d", 3, extra=logs.context(target="sn"))
    logging.getLogger("httpx").info("one line per call is noise")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 1
    assert lines[0]["component"] == "sinks" and lines[0]["level"] == "INFO"
    assert lines[0]["message"] == "wrote 3" and lines[0]["target"] == "sn"
    assert "\x1b[" not in json.dumps(lines)


@pytest.mark.usefixtures("restore_logging")
def test_every_line_names_the_connection_its_loop_acts_for(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    from ml_connector.context import acting_for

    logs.setup("info", component="producers", fmt="json")

    async def loop(connection: str) -> None:
        acting_for(connection)
        await asyncio.to_thread(logging.getLogger("producers.poller").info, "polled")

    async def both() -> None:
        await asyncio.gather(loop("bc"), loop("acu"))

    logging.getLogger("app.pipeline").info("starting")
    asyncio.run(both())
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    first, *polls = (line["connection"] for line in lines)
    assert first == "-" and sorted(polls) == ["acu", "bc"]


def test_a_bad_log_level_is_a_usage_error() -> None:
    result = runner.invoke(app, ["run", "-c", "nosuch.yaml", "--log-level", "loud"])
    assert result.exit_code == 2 and "--log-level" in result.output


def test_the_configuration_reference_is_current() -> None:
    from pathlib import Path

    from app.config_reference import render

    doc = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    assert doc.read_text() == render(), "regenerate: ml-connector config reference > " + str(doc)
    assert "`overlap`" in doc.read_text() and "## ServiceTitanConnection" in doc.read_text()
