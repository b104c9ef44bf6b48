"""Every committed version of every schema must stay readable by the current one (BACKWARD).

Records are generated from each earlier version (as committed in git), written with it, and
read with the current schema through Avro schema resolution. A change that breaks old
records, such as a new field without a default, fails here before anyone publishes it.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.utils import generate_many

import schemas

ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def committed_versions() -> list[tuple[str, dict[str, dict[str, Any]]]]:
    """(commit, {schema name: json}) for every commit that touched schemas/."""
    versions = []
    for commit in _git("log", "--format=%H", "--", "schemas/").split():
        files = _git("ls-tree", "--name-only", commit, "schemas/").split()
        found = {}
        for f in files:
            if f.endswith(".avsc"):
                found[Path(f).stem] = json.loads(_git("show", f"{commit}:{f}"))
        versions.append((commit[:10], found))
    return versions


def assert_backward(old: dict[str, Any], new: dict[str, Any], count: int = 50) -> None:
    """Write records with ``old`` and read them with ``new``; raise if any cannot be read."""
    writer = fastavro.parse_schema(old)
    reader = fastavro.parse_schema(new)
    for record in generate_many(writer, count):
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, writer, record)
        buf.seek(0)
        fastavro.schemaless_reader(buf, writer, reader)


def test_history_is_available() -> None:
    assert committed_versions(), "schemas/ has no committed history to check against"


@pytest.mark.parametrize("entity", schemas.entity_names())
def test_every_committed_version_reads_with_the_current_schema(entity: str) -> None:
    current = schemas.value_schema(entity)
    checked = 0
    for commit, files in committed_versions():
        if entity not in files or schemas.ENVELOPE not in files:
            continue
        old = schemas.compose_envelope(files[schemas.ENVELOPE], files[entity], entity)
        try:
            assert_backward(old, current)
        except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
            pytest.fail(f"{entity} as committed in {commit} cannot be read any more: {exc}")
        checked += 1
    # A new entity has no history yet; one that has been committed must have been checked.
    assert checked or entity not in {e for _, f in committed_versions() for e in f}


def test_an_incompatible_change_is_caught() -> None:
    """The check above is only worth something if it fails on a breaking change."""
    old = schemas.value_schema("vendor")
    broken = json.loads(json.dumps(old))
    vendor = broken["fields"][0]["type"][1]
    vendor["fields"].append({"name": "rating", "type": "int"})  # no default: breaks old data
    with pytest.raises(Exception, match="rating"):
        assert_backward(old, broken)


def test_a_compatible_change_passes() -> None:
    old = schemas.value_schema("vendor")
    grown = json.loads(json.dumps(old))
    grown["fields"][0]["type"][1]["fields"].append(
        {"name": "rating", "type": ["null", "int"], "default": None}
    )
    assert_backward(old, grown)
