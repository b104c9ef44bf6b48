"""The Grafana dashboard is generated, asks only for metrics the workers export, and is
provisioned by docker-compose beside the Prometheus that scrapes them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from app import dashboard
from ml_connector import metrics  # noqa: F401 - registers the metrics in the default registry

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_committed_dashboard_is_the_generated_one() -> None:
    committed = dashboard.OUTPUT.read_text()
    assert committed == dashboard.render(), "run `make dashboard` and commit the result"


def test_every_query_names_a_metric_the_workers_export() -> None:
    from prometheus_client import REGISTRY

    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
    exported = {f.name + s for f in REGISTRY.collect() for s in suffixes.get(f.type, [""])}
    exprs = dashboard.queries(json.loads(dashboard.OUTPUT.read_text()))
    assert len(exprs) >= 14
    named = {m for e in exprs for m in re.findall(r"\bmlc_[a-z_]+", e)}
    assert named - exported == set(), "queries name metrics no worker exports"
    # every metric ml_connector.metrics declares has a chart
    declared = {f.name for f in REGISTRY.collect() if f.name.startswith("mlc_")}
    shown = {re.sub(r"_(total|bucket|count|sum)$", "", m) for m in named}
    assert declared - shown == set()


def test_compose_provisions_prometheus_and_grafana_with_the_dashboard() -> None:
    services = COMPOSE["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    mounts = {v.split(":")[1]: ROOT / v.split(":")[0] for v in grafana["volumes"] if ":" in v
              and v.startswith("./")}  # fmt: skip
    provisioning = mounts["/etc/grafana/provisioning"]
    [source] = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["uid"] == dashboard.DATASOURCE_UID and source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    [provider] = yaml.safe_load((provisioning / "dashboards/ml-connector.yml").read_text())[
        "providers"
    ]
    assert mounts[provider["options"]["path"]] == dashboard.OUTPUT.parent
    scrape = next(v for v in prometheus["volumes"] if v.endswith("prometheus.yml:ro"))
    config = yaml.safe_load((ROOT / scrape.split(":")[0]).read_text())
    [job] = config["scrape_configs"]
    assert job["job_name"] == dashboard.JOB
    assert {n for sd in job["dns_sd_configs"] for n in sd["names"]} == {
        "producers", "processors", "sinks", "audit", "webhooks",
    }  # fmt: skip
    for worker in ("producers", "processors", "sinks", "audit", "webhooks"):
        assert services[worker]["environment"]["MLC_METRICS_LISTEN_HOST"] == "0.0.0.0"


def test_promtool_accepts_the_scrape_config() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: install Debian's prometheus package"
    result = subprocess.run([promtool, "check", "config", "deploy/prometheus/prometheus.yml"],
                            cwd=ROOT, capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
