"""The processors never commit past an event they could not handle: they exit, naming it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from app.pipeline import prepare
from ml_connector.config import parse_settings
from ml_connector.kafka.clients import Outgoing, deliver, producer

pytestmark = pytest.mark.kafka

WORKER = """
import sys
import faust
from app.pipeline import prepare
from ml_connector.config import parse_settings
from ml_connector.xref_view import XrefView
from processors.app import build_app

settings = parse_settings(__import__("json").loads(sys.argv[1]))
bootstrap = settings.kafka.bootstrap_servers
codec = prepare(settings, bootstrap)


class RegistryDown:
    # Decodes what it is given; cannot encode, as when the registry went away.
    def __getattr__(self, name):
        return getattr(codec, name)

    def encode(self, *args, **kwargs):
        raise RuntimeError("registry down")


xref = XrefView(bootstrap, settings.kafka.topics.xref).start()
app = build_app(settings, bootstrap, RegistryDown(), xref)
sys.argv = [sys.argv[0], "worker"]
faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()
"""


def test_an_event_that_cannot_be_routed_stops_the_processors_uncommitted(
    bootstrap: str, tmp_path: Path, vendor_event: dict[str, Any]
) -> None:
    config = {
        "kafka": {"bootstrap_servers": bootstrap, "encoding": "single-object",
                  "topic_prefix": f"pf{uuid.uuid4().hex[:6]}", "partitions": 1},
        "connections": {
            "bc": {"system": "business_central", "environment": "p",
                   "auth": {"kind": "entra_client_credentials", "token_url": "https://t/t",
                            "client_id": "c", "client_secret": {"secret": "s"}}},
            "sn": {"system": "servicenow", "instance_url": "https://sn.example.com",
                   "auth": {"kind": "servicenow", "client_id": "c",
                            "client_secret": {"secret": "s"}}},
        },
        "flows": {"f": {"source": "bc", "target": "sn", "entities": ["vendor"]}},
    }  # fmt: skip
    settings = parse_settings(config)
    topics = settings.kafka.topics
    codec = prepare(settings, bootstrap)
    change = topics.change("bc", "vendor")
    deliver(producer(bootstrap),
            [Outgoing(change, b"abc", codec.encode(change, "vendor", vendor_event))])  # fmt: skip
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, str(script), json.dumps(config)],
                            capture_output=True, text=True, timeout=240, check=False, cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)})  # fmt: skip
    assert result.returncode == 70, result.stderr[-3000:]
    assert f"{change}[0]@0 could not be handled" in result.stderr
    assert "registry down" in result.stderr
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": topics.processor_app()})
    [committed] = c.committed([TopicPartition(change, 0)], timeout=10)
    c.close()
    assert committed.offset < 1  # not past the event: the restarted worker reads it again
