"""Child processes that do not outlive the process that started them."""

from __future__ import annotations

import ctypes
import signal


def die_with_parent() -> None:
    """``preexec_fn`` for Linux children: SIGTERM when the parent dies, so none is orphaned
    (a killed test run or supervisor would otherwise leave workers and JVMs behind).

    The kernel ties this to the thread that started the child, so start children from a
    long-lived thread (the main thread here).
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
