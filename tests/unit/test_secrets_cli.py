"""The secrets commands refuse what would lose or mix secrets, and say why."""

from __future__ import annotations

import stat
from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

from app.cli import app

runner = CliRunner()


def setup(tmp_path: Path) -> tuple[Path, Path]:
    key = tmp_path / "secret.key"
    assert runner.invoke(app, ["secrets", "new-key", str(key)]).exit_code == 0
    config = tmp_path / "mlc.yaml"
    config.write_text(f"secrets:\n  store: {tmp_path / 'store.json'}\n  key_file: {key}\n")
    return key, config


def store(config: Path, name: str, value: str) -> Result:
    return runner.invoke(app, ["secrets", "set", "-c", str(config), name],
                         input=f"{value}\n{value}\n")  # fmt: skip


def test_new_key_never_overwrites_a_key_unasked(tmp_path: Path) -> None:
    key, _ = setup(tmp_path)
    first = key.read_text()
    again = runner.invoke(app, ["secrets", "new-key", str(key)])
    assert again.exit_code == 2 and "already holds a key" in again.output
    assert key.read_text() == first
    forced = runner.invoke(app, ["secrets", "new-key", "--force", str(key)])
    assert forced.exit_code == 0 and key.read_text() != first


def test_key_and_store_are_owner_only(tmp_path: Path) -> None:
    key, config = setup(tmp_path)
    store(config, "a", "value-a")
    for path in (key, tmp_path / "store.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(tmp_path.glob("*.tmp"))


def test_a_store_is_never_mixed_with_another_key(tmp_path: Path) -> None:
    key, config = setup(tmp_path)
    assert store(config, "a", "value-a").exit_code == 0
    runner.invoke(app, ["secrets", "new-key", "--force", str(key)])
    mixed = store(config, "b", "value-b")
    assert mixed.exit_code == 2 and "does not open the store" in mixed.output
    listed = runner.invoke(app, ["secrets", "list", "-c", str(config)])
    assert listed.exit_code == 2 and "does not open the store" in listed.output
    assert "Traceback" not in listed.output


def test_a_corrupt_store_or_no_key_is_reported_not_raised(tmp_path: Path) -> None:
    key, config = setup(tmp_path)
    (tmp_path / "store.json").write_text("{not json")
    listed = runner.invoke(app, ["secrets", "list", "-c", str(config)])
    assert listed.exit_code == 2 and "cannot be read" in listed.output
    key.unlink()
    missing = runner.invoke(app, ["secrets", "list", "-c", str(config)])
    assert missing.exit_code == 2 and "secret.key" in missing.output
    assert listed.exception is None or isinstance(listed.exception, SystemExit)


def test_an_empty_secret_is_refused(tmp_path: Path) -> None:
    _, config = setup(tmp_path)
    result = store(config, "push", "")
    assert result.exit_code != 0
    listed = runner.invoke(app, ["secrets", "list", "-c", str(config)])
    assert "push" not in listed.output.split()
