"""Runs the worker processes as children and restarts any that dies, with backoff.

Each component is its own OS process (``ml-connector run <component>``) so one crashing, or
being killed, never takes the others down, and so the same units scale out on their own.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.watchdog import ProgressWatch
from ml_connector.children import die_with_parent
from ml_connector.config import Settings, load_settings
from ml_connector.kafka.groups import consumer_groups

log = logging.getLogger(__name__)


def watches_for(settings: Settings, stall_after: float) -> dict[str, list[ProgressWatch]]:
    """Which consumer groups show each worker's progress, on which input topics."""
    bootstrap = settings.kafka.bootstrap_servers
    if not bootstrap:
        return {}
    return {
        component: [ProgressWatch(bootstrap, group, topics, stall_after)
                    for group, topics in groups.items()]
        for component, groups in consumer_groups(settings).items()
    }  # fmt: skip


@dataclass
class Child:
    component: str
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    backoff: float = 1.0
    next_start: float = 0.0
    started_at: float = 0.0
    held: bool = False  # stopped on purpose (an operator replaying): not restarted
    stalls: int = 0  # times it was alive but stuck, and was restarted


@dataclass
class Supervisor:
    config: Path
    components: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    max_backoff: float = 30.0
    stall_after: float = 120.0
    watch_every: float = 5.0
    children: list[Child] = field(default_factory=list)
    _stopping: bool = False
    _watches: dict[str, list[ProgressWatch]] = field(default_factory=dict)
    _watched_at: float = 0.0

    def __post_init__(self) -> None:
        exe = [sys.executable, "-m", "app"]
        self.children = [
            Child(c, [*exe, "run", c, "--config", str(self.config)]) for c in self.components
        ]
        self._watches = watches_for(load_settings(self.config), self.stall_after)

    def _spawn(self, child: Child) -> None:
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = (self.log_dir / f"{child.component}.log").open("ab")
        child.process = subprocess.Popen(
            child.args, env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )  # fmt: skip
        child.started_at = time.monotonic()
        for watch in self._watches.get(child.component, []):
            watch.reset()
        log.info("started %s (pid %d)", child.component, child.process.pid)

    def start(self) -> None:
        """Every component not held (one held before the start waits for ``release``)."""
        for child in self.children:
            if not child.held:
                self._spawn(child)

    def check(self) -> None:
        """Restart children that exited or stalled; one that ran a while gets its backoff reset."""
        now = time.monotonic()
        if now - self._watched_at >= self.watch_every:
            self._watched_at = now
            self._kill_stalled()
        for child in self.children:
            p = child.process
            if p is not None and p.poll() is None:
                if now - child.started_at > 60:
                    child.backoff = 1.0
                continue
            if p is not None:
                child.restarts += 1
                child.next_start = now + child.backoff
                log.warning("%s exited with %s; restart #%d in %.0fs", child.component,
                            p.returncode, child.restarts, child.backoff)  # fmt: skip
                child.backoff = min(child.backoff * 2, self.max_backoff)
                child.process = None
            due = child.process is None and now >= child.next_start
            if due and not child.held and not self._stopping:
                self._spawn(child)

    def _kill_stalled(self) -> None:
        for child in self.children:
            alive = child.process is not None and child.process.poll() is None
            stalled = [w for w in self._watches.get(child.component, []) if w.stalled()]
            if alive and stalled:
                assert child.process is not None
                log.warning("%s made no progress in %s for %.0fs with records waiting; "
                            "restarting it", child.component, stalled[0].group,
                            self.stall_after)  # fmt: skip
                child.stalls += 1
                child.process.kill()

    def hold(self, component: str, timeout: float = 20.0) -> None:
        """Stop one component and keep it stopped (e.g. to reset its consumer group)."""
        child = self._child(component)
        child.held = True
        if child.process is not None and child.process.poll() is None:
            child.process.terminate()
            try:
                child.process.wait(timeout)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        child.process = None

    def release(self, component: str) -> None:
        child = self._child(component)
        child.held = False
        child.next_start = 0.0
        self.check()

    def _child(self, component: str) -> Child:
        for child in self.children:
            if child.component == component:
                return child
        raise KeyError(f"no component {component!r}")

    def pids(self) -> dict[str, int]:
        return {
            c.component: c.process.pid
            for c in self.children
            if c.process and c.process.poll() is None
        }

    def run_forever(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stop())
        if not any(c.process for c in self.children):
            self.start()
        try:
            while not self._stopping:
                self.check()
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self, timeout: float = 20.0) -> None:
        self._stopping = True
        for child in self.children:
            if child.process and child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + timeout
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
