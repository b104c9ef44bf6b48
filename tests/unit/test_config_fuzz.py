"""Bad configuration files, as operators write them: every one is refused by ``config check``
and by ``run`` before anything starts, naming the key to fix, with no traceback and without
repeating a secret."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from app.cli import app
from ml_connector.secrets import SecretStore, generate_key

runner = CliRunner()
INLINE_SECRET = "hunter2-inline-value"
STORED = {"bc-secret": "bc-secret-value", "sn-secret": "sn-secret-value"}


def base(tmp: Path) -> dict[str, Any]:
    return {
        "kafka": {"bootstrap_servers": "127.0.0.1:9", "partitions": 3},
        "secrets": {"store": str(tmp / "store.json"), "key_file": str(tmp / "secret.key")},
        "webhooks": {"public_url": "https://mlc.example.com"},
        "connections": {
            "bc": {"system": "business_central", "environment": "production",
                   "auth": {"kind": "entra_client_credentials", "token_url": "https://t/token",
                            "client_id": "c", "client_secret": {"secret": "bc-secret"}}},
            "sn": {"system": "servicenow", "instance_url": "https://sn.example.com",
                   "auth": {"kind": "servicenow", "client_id": "c",
                            "client_secret": {"secret": "sn-secret"}}},
        },
        "flows": {"f": {"source": "bc", "target": "sn", "entities": ["vendor"]}},
    }  # fmt: skip


Mutation = Callable[[dict[str, Any]], Any]


def put(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> Any:
        *parents, last = path.split(".")
        node = data
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
        return data

    return mutate


def drop(path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> Any:
        *parents, last = path.split(".")
        node = data
        for p in parents:
            node = node[p]
        del node[last]
        return data

    return mutate


def replaced(value: Any) -> Mutation:
    return lambda data: value


CASES: list[tuple[str, Mutation, str]] = [
    ("partitions zero", put("kafka.partitions", 0), "kafka.partitions"),
    ("partitions text", put("kafka.partitions", "three"), "kafka.partitions"),
    ("prefix", put("kafka.topic_prefix", "bad prefix!"), "kafka.topic_prefix"),
    ("kafka typo", put("kafka.bootstrap", "x:1"), "kafka.bootstrap"),
    ("top typo", put("conections", {}), "conections"),
    ("top list", replaced([1, 2]), "top level"),
    ("top string", replaced("hello"), "top level"),
    ("no system", drop("connections.bc.system"), "connections.bc.system"),
    ("unknown system", put("connections.bc.system", "sap"), "connections.bc.system"),
    ("no environment", drop("connections.bc.environment"), "connections.bc.environment"),
    ("auth kind", put("connections.bc.auth.kind", "nope"), "connections.bc.auth.kind"),
    ("inline secret", put("connections.bc.auth.client_secret", INLINE_SECRET),
     "connections.bc.auth.client_secret"),
    ("inline password", put("connections.sn.auth.password", INLINE_SECRET),
     "connections.sn.auth.password"),
    ("page size 0", put("connections.bc.page_size", 0), "connections.bc.page_size"),
    ("page size huge", put("connections.bc.page_size", 10**9), "connections.bc.page_size"),
    ("timeout", put("connections.bc.timeout_seconds", -1), "connections.bc.timeout_seconds"),
    ("rate", put("connections.bc.rate_limit", {"requests": 0}), "connections.bc.rate_limit"),
    ("ca file", put("connections.bc.verify", "/nonexistent/ca.pem"), "connections.bc.verify"),
    ("missing secret", put("connections.bc.auth.client_secret", {"secret": "not-stored"}),
     "connections.bc.auth.client_secret"),
    ("empty secret name", put("connections.bc.auth.client_secret", {"secret": ""}),
     "connections.bc.auth.client_secret"),
    ("webhooks no url", lambda d: put("connections.bc.webhooks", True)(drop("webhooks")(d)),
     "webhooks.public_url"),
    ("listen port", put("webhooks.listen_port", 70000), "webhooks.listen_port"),
    ("check interval", put("webhooks.check_interval", "PT0S"), "webhooks.check_interval"),
    ("renew before", put("webhooks.renew_before", "-PT1H"), "webhooks.renew_before"),
    ("flow source", put("flows.f.source", "nosuch"), "flows.f.source"),
    ("flow target", put("flows.f.target", "nosuch"), "flows.f.target"),
    ("no entities", put("flows.f.entities", []), "flows.f.entities"),
    ("unknown entity", put("flows.f.entities", ["unicorn"]), "flows.f.entities"),
    ("source cannot read", put("flows.f.entities", ["purchase_order"]), "flows.f.entities"),
    ("poll zero", put("flows.f.poll_interval", "PT0S"), "flows.f.poll_interval"),
    ("poll text", put("flows.f.poll_interval", "soon"), "flows.f.poll_interval"),
    ("overlap negative", put("flows.f.overlap", "-PT5S"), "flows.f.overlap"),
    ("shortcut", put("flows.f.cost_center_shortcut", 3), "flows.f.cost_center_shortcut"),
    ("park timeout", put("flows.f.park_timeout", "PT0S"), "flows.f.park_timeout"),
    ("flow typo", put("flows.f.entites", ["vendor"]), "flows.f.entites"),
    ("same tiers", put("delivery.retry_tiers", ["PT30S", "PT30S"]), "delivery.retry_tiers"),
    ("negative tier", put("delivery.retry_tiers", ["-PT5S"]), "delivery.retry_tiers"),
    ("attempts", put("delivery.attempts", 0), "delivery.attempts"),
    ("batch size", put("delivery.batch_size", -3), "delivery.batch_size"),
    ("backpressure", put("delivery.max_backpressure_wait", "-PT1M"),
     "delivery.max_backpressure_wait"),
    ("connection null", put("connections.bc", None), "connections.bc"),
    ("connections list", put("connections", ["bc"]), "connections"),
    # ServiceTitan takes pricebook items only: the flow's vendors are refused by name.
    ("target cannot write", lambda d: put("flows.f.target", "st")(put("connections.st", {
        "system": "servicetitan", "tenant_id": "1", "auth": {
            "kind": "servicetitan", "client_id": "c", "client_secret": {"secret": "bc-secret"},
            "app_key": {"secret": "sn-secret"}}})(d)),
     "flows.f.entities: servicetitan cannot be a target of vendor"),
    ("source cannot read system", lambda d: put("flows.f.source", "nav")(put("connections.nav", {
        "system": "nav", "base_url": "https://nav.example:7048", "server_instance": "BC",
        "auth": {"kind": "nav_basic", "username": "MLC",
                 "access_key": {"secret": "bc-secret"}}})(d)), "connections.nav"),
]  # fmt: skip

RAW_CASES: list[tuple[str, bytes, str]] = [
    ("binary", b"\x00\xff\xfe binary", "not a text file"),
    ("bad yaml", b"kafka: [unclosed", "not valid YAML"),
    ("tabs", b"kafka:\n\tpartitions: 3\n", "not valid YAML"),
    ("huge", b"# " + b"x" * (2 << 20), "larger than"),
    ("alias bomb", b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
     + b"".join(f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n".encode()
                for p, c in zip("abcdefgh", "bcdefghi", strict=True))
     + b"kafka: {partitions: *i}\n", "more than"),
]  # fmt: skip


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    key = generate_key()
    (tmp_path / "secret.key").write_text(key)
    store = SecretStore(tmp_path / "store.json", key)
    for name, value in STORED.items():
        store.set(name, value)
    return tmp_path


def check_refused(path: Path, expected: str) -> None:
    for command in (["config", "check", "-c", str(path)], ["run", "-c", str(path), "producers"]):
        result = runner.invoke(app, command)
        shown = result.output
        assert result.exit_code == 2, f"{command}: {result.exit_code} {shown} {result.exception}"
        assert expected in shown, f"{command}: {shown}"
        assert "Traceback" not in shown
        assert INLINE_SECRET not in shown
        assert not any(v in shown for v in STORED.values())


def test_the_base_config_is_accepted(workdir: Path) -> None:
    path = workdir / "mlc.yaml"
    path.write_text(yaml.safe_dump(base(workdir)))
    result = runner.invoke(app, ["config", "check", "-c", str(path)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("case", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_config_is_refused_naming_the_key(
    workdir: Path, case: str, mutate: Mutation, expected: str
) -> None:
    path = workdir / "mlc.yaml"
    path.write_text(yaml.safe_dump(mutate(copy.deepcopy(base(workdir)))))
    check_refused(path, expected)


@pytest.mark.parametrize(("case", "raw", "expected"), RAW_CASES, ids=[c[0] for c in RAW_CASES])
def test_a_file_that_is_no_config_is_refused(
    workdir: Path, case: str, raw: bytes, expected: str
) -> None:
    path = workdir / "mlc.yaml"
    path.write_bytes(raw)
    check_refused(path, expected)


def test_a_store_written_with_another_key_is_refused(workdir: Path) -> None:
    (workdir / "secret.key").write_text(generate_key())
    path = workdir / "mlc.yaml"
    path.write_text(yaml.safe_dump(base(workdir)))
    check_refused(path, "does not open the store")


def test_a_corrupt_store_is_refused(workdir: Path) -> None:
    (workdir / "store.json").write_text("{not json")
    path = workdir / "mlc.yaml"
    path.write_text(yaml.safe_dump(base(workdir)))
    check_refused(path, "cannot be read")
