"""Directories for state a process rebuilds at every start (local stores restored from Kafka).

Each is its own process's, named after its pid: removed as the process exits, and one that a
killed process left behind is removed by the next process that makes one of the same kind.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def scratch_dir(kind: str) -> str:
    for old in Path(tempfile.gettempdir()).glob(f"mlc-{kind}-*-*"):
        pid = old.name.split("-")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    path = tempfile.mkdtemp(prefix=f"mlc-{kind}-{os.getpid()}-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
