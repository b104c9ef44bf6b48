"""deploy/kubernetes: plain manifests (kustomize lists them), checked against the Kubernetes
API schemas by kubernetes-validate, offline, and against what the workers actually serve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.health import OFFSETS
from ml_connector.config import parse_settings

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
# The oldest Kubernetes release the manifests are meant for and a recent one; both schemas
# ship inside kubernetes-validate.
VERSIONS = ("1.30.0", "1.34.0")
VALIDATOR = Path(sys.executable).parent / "kubernetes-validate"


def _files() -> list[Path]:
    listed = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["resources"]
    return [MANIFESTS / name for name in listed]


def _validate(files: list[Path], version: str) -> subprocess.CompletedProcess[str]:
    assert VALIDATOR.exists(), "kubernetes-validate is missing: `make install` brings it"
    return subprocess.run([str(VALIDATOR), "--strict", "-k", version, *map(str, files)],
                          capture_output=True, text=True, check=False)  # fmt: skip


def _resources() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in _files():
        for doc in yaml.safe_load_all(path.read_text()):
            found[doc["kind"], doc["metadata"]["name"]] = doc
    return found


def _settings_of(resources: dict[tuple[str, str], dict[str, Any]]) -> Any:
    text = resources["ConfigMap", "ml-connector-config"]["data"]["ml-connector.yaml"]
    return parse_settings(yaml.safe_load(text), origin="ConfigMap ml-connector-config")


def test_kustomize_lists_every_manifest() -> None:
    on_disk = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert {p.name for p in _files()} == on_disk


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_passes_the_schema_validator(version: str) -> None:
    result = _validate(_files(), version)
    assert result.returncode == 0, result.stdout + result.stderr
    passed = [line for line in result.stdout.splitlines() if " passed for resource " in line]
    assert len(passed) == len(_resources())


@pytest.mark.parametrize(
    ("change", "said"),
    [
        # a misspelt key, which Kubernetes would drop silently
        (
            lambda c: c.update(livenessProbes=c.pop("livenessProbe")),
            "'livenessProbes' was unexpected",
        ),
        (
            lambda c: c["ports"][0].update(containerPort="health"),
            "containerPort: 'health' is not of type 'integer'",
        ),
        (lambda c: c.pop("name"), "'name' is a required property"),
    ],
    ids=["unknown-key", "wrong-type", "missing-required"],
)
def test_the_validator_refuses_a_broken_deployment(tmp_path: Path, change: Any, said: str) -> None:
    broken = _resources()["Deployment", "ml-connector-sinks"]
    change(broken["spec"]["template"]["spec"]["containers"][0])
    path = tmp_path / "sinks.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = _validate([path], VERSIONS[0])
    assert result.returncode != 0
    assert said in result.stdout + result.stderr


def test_the_configmap_holds_a_valid_config_whose_paths_are_mounted() -> None:
    resources = _resources()
    settings = _settings_of(resources)
    assert str(settings.secrets.store) == "config/secrets.json"
    assert "secrets.json" in resources["Secret", "ml-connector-store"]["stringData"]
    assert settings.audit.database.startswith("data/")
    env = resources["ConfigMap", "ml-connector-env"]["data"]
    assert env["MLC_CONFIG"] == "config/ml-connector.yaml"
    assert env["MLC_METRICS_LISTEN_HOST"] == env["MLC_WEBHOOKS_LISTEN_HOST"] == "0.0.0.0"


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_one_deployment_per_worker_kind_probed_on_its_health_port() -> None:
    resources = _resources()
    base = _settings_of(resources).metrics.port
    deployments = {n for kind, n in resources if kind == "Deployment"}
    assert deployments == {f"ml-connector-{kind}" for kind in OFFSETS}
    for kind, offset in OFFSETS.items():
        deployment = resources["Deployment", f"ml-connector-{kind}"]
        pod = deployment["spec"]["template"]
        assert (
            deployment["spec"]["selector"]["matchLabels"].items()
            <= pod["metadata"]["labels"].items()
        )
        container = _container(deployment)
        assert container["args"] == ["run", kind]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["health"] == base + offset
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(base + offset)
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
        assert {"requests", "limits"} <= set(container["resources"])
        [key] = [e for e in container["env"] if e["name"] == "MLC_SECRET_KEY"]
        ref = key["valueFrom"]["secretKeyRef"]
        assert ref["key"] in resources["Secret", ref["name"]]["stringData"]


def test_pods_run_as_the_images_non_root_user_on_a_read_only_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER 10001:10001" in dockerfile
    for (kind, _name), resource in _resources().items():
        if kind != "Deployment":
            continue
        pod = resource["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        container = _container(resource)
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        # Faust's and the xref view's RocksDB state lives under the temp directory.
        assert "/tmp" in mounts and mounts["/app/config"]["readOnly"] is True


def test_the_audit_index_and_the_webhook_receiver_have_what_they_need() -> None:
    resources = _resources()
    settings = _settings_of(resources)
    audit = resources["Deployment", "ml-connector-audit"]["spec"]["template"]["spec"]
    [data] = [m for m in audit["containers"][0]["volumeMounts"] if m["name"] == "data"]
    assert data["mountPath"] == "/app/data"
    [volume] = [v for v in audit["volumes"] if v["name"] == "data"]
    assert ("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]) in resources

    webhooks = resources["Deployment", "ml-connector-webhooks"]
    ports = {p["name"]: p["containerPort"] for p in _container(webhooks)["ports"]}
    assert ports["webhooks"] == settings.webhooks.listen_port
    service = resources["Service", "ml-connector-webhooks"]["spec"]
    assert [p["targetPort"] for p in service["ports"]] == ["webhooks"]
    labels = webhooks["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    # producers share their poll tasks through their group: pods may overlap in an update
    producers = resources["Deployment", "ml-connector-producers"]["spec"]
    assert producers["strategy"]["type"] == "RollingUpdate"
