"""The audit index in PostgreSQL (audit.database as a postgresql:// URL), on a real server.

A throwaway cluster is made with the server binaries of the machine's PostgreSQL package and
started on a free loopback port; when those binaries are absent the test fails, as any other
test whose real dependency is missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.audit_index import AuditIndex
from devkit.java import free_port
from tests.integration.audit_topics import fresh_audit


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    assert found[-1], f"PostgreSQL's {name} is not installed (Debian package postgresql)"
    return found[-1]


def _as_postgres(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; the package's own user runs them.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="mlc-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    subprocess.run(_as_postgres([_bin("initdb"), "-D", str(data), "-U", "mlc", "--auth=trust",
                                 "-E", "UTF8"]), check=True, capture_output=True)  # fmt: skip
    port = free_port()
    subprocess.run(_as_postgres([_bin("pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"),
                                 "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1",
                                 "start"]), check=True, capture_output=True)  # fmt: skip
    try:
        yield f"postgresql://mlc@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True, check=False)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def test_audit_trail_indexed_in_postgresql(bootstrap: str, postgres_url: str) -> None:
    topic, kafka, log = fresh_audit(bootstrap)
    for stage in ("polled", "produced", "routed", "retried", "written"):
        log.emit(stage, connection="bc", entity="vendor", record_id="v-1", attempt=1)
        time.sleep(0.002)  # distinct timestamps: the trail is ordered by time
    log.emit("polled", connection="bc", entity="vendor", record_id="v-2")
    kafka.flush(10)

    index = AuditIndex(postgres_url)
    assert index.engine.dialect.name == "postgresql"
    group = f"g-{uuid.uuid4().hex[:6]}"
    assert index.sync(bootstrap, topic, group) == 6
    trail = index.trail("bc", "vendor", "v-1")
    assert [r.stage for r in trail] == ["polled", "produced", "routed", "retried", "written"]
    assert trail[0].detail == {"attempt": 1}
    # Indexing the same stretch again (another group, or after a crash) adds no row.
    assert index.sync(bootstrap, topic, f"{group}-again") == 6
    assert len(index.trail("bc", "vendor", "v-1")) == 5


def test_status_counts_outcomes_per_target_in_postgresql(bootstrap: str, postgres_url: str) -> None:
    """``status`` reads the target out of each record's JSON detail: PostgreSQL's own way."""
    topic, kafka, log = fresh_audit(bootstrap)
    for n in range(3):
        log.emit("routed", connection="bc", entity="vendor", record_id=f"v-{n}", target="sn")
    log.emit("written", connection="bc", entity="vendor", record_id="v-0", target="sn")
    log.emit("written", connection="bc", entity="vendor", record_id="v-1", target="sn")
    log.emit("written", connection="bc", entity="vendor", record_id="v-0", target="st")
    time.sleep(0.002)  # distinct timestamps: the newest error is told by its time
    log.emit("retried", connection="bc", entity="vendor", record_id="v-2", target="sn",
             error="503 busy")  # fmt: skip
    time.sleep(0.002)
    log.emit("dead", connection="bc", entity="vendor", record_id="v-2", target="sn",
             error="no fx_currency XTS")  # fmt: skip
    kafka.flush(10)

    # A database of its own: rows are unique by their place in one audit topic.
    database = f"status_{uuid.uuid4().hex[:8]}"
    with create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"),
                       isolation_level="AUTOCOMMIT").connect() as db:  # fmt: skip
        db.execute(text(f"CREATE DATABASE {database}"))
    index = AuditIndex(postgres_url.rsplit("/", 1)[0] + f"/{database}")
    index.sync(bootstrap, topic, f"g-{uuid.uuid4().hex[:6]}")
    found = index.outcomes(("routed", "written", "dead"))
    assert {k: v.count for k, v in found.items()} == {
        ("bc", "vendor", "sn", "routed"): 3, ("bc", "vendor", "sn", "written"): 2,
        ("bc", "vendor", "st", "written"): 1, ("bc", "vendor", "sn", "dead"): 1,
    }  # fmt: skip
    newest = index.newest(("retried", "dead"))[("bc", "vendor", "sn")]
    assert (newest.stage, newest.detail["error"]) == ("dead", "no fx_currency XTS")
