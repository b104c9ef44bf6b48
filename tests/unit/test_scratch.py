"""Local state directories: a dead process's is cleared by the next one, a live one's kept."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ml_connector.scratch import scratch_dir


def test_a_killed_process_leaves_nothing_behind_once_the_next_one_starts() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    base = Path(tempfile.gettempdir())
    left = base / f"mlc-unit-{dead.pid}-abc"
    left.mkdir()
    (left / "LOCK").write_text("")
    live = base / f"mlc-unit-{os.getppid()}-def"  # our parent: alive
    live.mkdir()
    try:
        mine = Path(scratch_dir("unit"))
        assert mine.is_dir() and mine.name.startswith(f"mlc-unit-{os.getpid()}-")
        assert not left.exists()
        assert live.exists()
    finally:
        live.rmdir()
