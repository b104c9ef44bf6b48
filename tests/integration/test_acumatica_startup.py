"""A pinned Acumatica endpoint version the instance does not serve stops the producers and
the sinks at start-up, naming the configured version and the ones the instance serves."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from ml_connector.clients.acumatica import AcumaticaClient, EndpointVersionNotFound
from ml_connector.secrets import SecretStore, generate_key
from producers.acumatica import source
from simulators import acumatica
from simulators.server import serve_in_thread
from tests.clients.connections import acumatica_connection, sn_connection

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def acu_url() -> Any:
    url, stop = serve_in_thread(acumatica.create_app(acumatica.AcumaticaOptions()))
    yield url
    stop()


def _store(tmp_path: Path) -> tuple[SecretStore, str]:
    key = generate_key()
    store = SecretStore(tmp_path / "store.json", key)
    store.set("secret", "mlc-secret")
    store.set("password", "mlc-password")
    return store, key


async def test_the_source_and_the_client_name_both_versions(acu_url: str, tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    conn = acumatica_connection(acu_url, version="99.999.001")
    src = source(conn, None, store)  # type: ignore[arg-type]
    with pytest.raises(EndpointVersionNotFound) as raised:
        await src.start()
    assert "Default/99.999.001" in str(raised.value)
    assert "Default/24.200.001" in str(raised.value) and "Default/23.200.001" in str(raised.value)
    await src.aclose()
    served = AcumaticaClient(acumatica_connection(acu_url), store)
    await served.check_version()  # the served version passes
    await served.aclose()


@pytest.mark.parametrize(
    ("component", "flow"),
    [("producers", {"source": "acu", "target": "sn", "entities": ["vendor"]}),
     ("sinks", {"source": "sn", "target": "acu", "entities": ["purchase_order"]})],
)  # fmt: skip
def test_a_version_the_instance_does_not_serve_stops_the_component_at_start_up(
    bootstrap: str, acu_url: str, tmp_path: Path, component: str, flow: dict[str, Any]
) -> None:
    _, key = _store(tmp_path)
    acu = acumatica_connection(acu_url, version="99.999.001")
    config = tmp_path / "mlc.yaml"
    config.write_text(yaml.safe_dump({
        "kafka": {"bootstrap_servers": bootstrap, "encoding": "single-object",
                  "topic_prefix": f"ver{uuid.uuid4().hex[:6]}"},
        "secrets": {"store": str(tmp_path / "store.json")},
        "metrics": {"port": None},
        "connections": {"acu": acu.model_dump(mode="json", exclude_none=True),
                        "sn": sn_connection("http://127.0.0.1:9").model_dump(
                            mode="json", exclude_none=True)},
        "flows": {"f": flow},
    }))  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "app", "run", component, "-c", str(config)],
        capture_output=True, text=True, timeout=240, check=False, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "MLC_SECRET_KEY": key},
    )  # fmt: skip
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).split())  # the console wraps lines
    assert "does not serve endpoint Default/99.999.001" in output, output[-3000:]
    assert "Default/24.200.001" in output
