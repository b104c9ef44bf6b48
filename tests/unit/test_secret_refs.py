"""Secrets from the encrypted store, an environment variable or a mounted file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from app.cli import app
from ml_connector.config import ConfigError, parse_settings
from ml_connector.connections.base import EnvSecret, FileSecret, StoredSecret
from ml_connector.secrets import SecretError, SecretStore

runner = CliRunner()


def st(secret: dict[str, str], app_key: dict[str, str]) -> dict[str, object]:
    return {"connections": {"st": {
        "system": "servicetitan", "tenant_id": "1",
        "auth": {"kind": "servicetitan", "client_id": "c", "client_secret": secret,
                 "app_key": app_key}}}}  # fmt: skip


def test_each_kind_of_reference_parses_to_its_model(tmp_path: Path) -> None:
    settings = parse_settings(st({"env": "ST_SECRET"}, {"file": str(tmp_path / "k")}))
    auth = settings.connections["st"].auth  # type: ignore[attr-defined]
    assert isinstance(auth.client_secret, EnvSecret) and isinstance(auth.app_key, FileSecret)
    assert isinstance(parse_settings(st({"secret": "a"}, {"secret": "b"})).connections["st"]
                      .auth.app_key, StoredSecret)  # type: ignore[attr-defined]  # fmt: skip


@pytest.mark.parametrize("bad", [{"envv": "X"}, {"env": "not a name"}, {}, {"secret": ""}])
def test_a_bad_reference_names_its_key(bad: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"connections\.st\.auth\.client_secret"):
        parse_settings(st(bad, {"secret": "b"}))


def test_an_inline_secret_is_refused_without_being_repeated() -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(st("cs1.the-real-secret", {"secret": "b"}))  # type: ignore[arg-type]
    assert "cs1.the-real-secret" not in str(err.value)
    assert "{env: VARIABLE}" in str(err.value)


def test_env_and_file_secrets_need_no_store_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLC_SECRET_KEY", raising=False)
    monkeypatch.setenv("ST_SECRET", "from-the-environment")
    (tmp_path / "k").write_text("from-a-file\n")
    store = SecretStore(tmp_path / "store.json", None)
    assert store.get(EnvSecret(env="ST_SECRET")).get_secret_value() == "from-the-environment"
    assert store.get(FileSecret(file=tmp_path / "k")).get_secret_value() == "from-a-file"
    with pytest.raises(SecretError, match="no secret key"):
        store.get(StoredSecret(secret="x"))
    monkeypatch.delenv("ST_SECRET")
    with pytest.raises(SecretError, match="ST_SECRET"):
        store.get(EnvSecret(env="ST_SECRET"))
    with pytest.raises(SecretError, match="nosuch"):
        store.get(FileSecret(file=tmp_path / "nosuch"))


def test_config_check_resolves_every_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLC_SECRET_KEY", raising=False)
    monkeypatch.delenv("ST_SECRET", raising=False)
    path = tmp_path / "mlc.yaml"
    data = st({"env": "ST_SECRET"}, {"file": str(tmp_path / "app-key")})
    data["secrets"] = {"store": str(tmp_path / "store.json")}
    path.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["config", "check", "-c", str(path)])
    assert result.exit_code == 2
    assert "connections.st.auth.client_secret: environment variable ST_SECRET" in result.output
    assert "connections.st.auth.app_key: secret file" in result.output
    monkeypatch.setenv("ST_SECRET", "value")
    (tmp_path / "app-key").write_text("key-value")
    assert runner.invoke(app, ["config", "check", "-c", str(path)]).exit_code == 0
