"""Three producer instances share the poll tasks through their group; one is killed.

Each instance is its own process, as ``docker compose up --scale producers=3`` runs them.
Records keep changing in Business Central while they run; the instance polling vendors is
killed (SIGKILL) part way. Every change must still reach ServiceNow, once per vendor, and
no poll task may have run on two instances at the same time: each instance logs when it
starts and stops a task, and each poll it makes, so the logs are the audit.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from app.status import Offsets, task_holders
from app.supervisor import Supervisor
from ml_connector.children import die_with_parent
from ml_connector.flows import poll_tasks
from tests.integration.test_poller import keys_in

pytestmark = pytest.mark.kafka

VENDORS = 200
ENTITIES = ["vendor", "gl_account", "cost_center"]


def start_instance(p: Any, name: str) -> subprocess.Popen[bytes]:
    log = (p.box.workdir / "logs" / f"{name}.log").open("ab")
    env = {**os.environ, "MLC_LOG_FORMAT": "json", "MLC_INSTANCE_ID": name}
    return subprocess.Popen(
        [sys.executable, "-m", "app", "run", "producers", "--config", str(p.box.config_path)],
        env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
    )  # fmt: skip


def lines(path: Path) -> list[dict[str, Any]]:
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def logged_at(line: dict[str, Any]) -> float:
    """The epoch seconds of a log line: its own ``at`` where it gives one, else its time."""
    if "at" in line:
        return float(line["at"])
    return datetime.strptime(line["time"], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def test_three_instances_one_killed_lose_nothing_and_never_share_a_task(
    pipeline_factory: Callable[..., Any],
) -> None:
    p = pipeline_factory(vendors=VENDORS, poll_interval=1.0, entities=ENTITIES, run=False,
                         producers={"session_timeout": 6.0})  # fmt: skip
    # Processors, sinks and audit as usual; the producers are the test's own three.
    p.supervisor = Supervisor(p.box.config_path, ("processors", "sinks", "audit"),
                              log_dir=p.box.workdir / "logs", stall_after=30.0)  # fmt: skip
    p.supervisor.start()
    names = ["producer-a", "producer-b", "producer-c"]
    procs = {n: start_instance(p, n) for n in names}
    tasks = {t.id for t in poll_tasks(p.settings)}
    topics, bootstrap = p.topics, p.box.bootstrap

    def holders() -> dict[str, str]:
        return {t: who for t, (who, _) in task_holders(bootstrap, Offsets(bootstrap),
                                                       topics).items()}  # fmt: skip

    try:
        # The group spreads the three tasks over the three instances.
        p.wait("each instance to hold a task",
               lambda: set(holders()) == tasks and len(set(holders().values())) == 3)  # fmt: skip
        p.wait("the seeded vendors in ServiceNow",
               lambda: len(p.sn_vendor_counts()) >= VENDORS)  # fmt: skip

        vendors = p.bc_vendors()
        renamed: dict[str, str] = {}

        def rename(batch: list[dict[str, Any]], tag: str) -> None:
            for v in batch:
                name = f"{tag} {v['number']}"
                r = p.bc.patch(f"/_sim/entities/vendors/{v['id']}", json={"displayName": name})
                assert r.status_code == 200, r.text
                renamed[v["number"]] = name

        def add(count: int, tag: str) -> None:
            for i in range(count):
                number = f"V-{tag}-{i}"
                r = p.bc.post("/_sim/entities/vendors",
                              json={"number": number, "displayName": number})  # fmt: skip
                assert r.status_code == 201, r.text

        rename(vendors[:40], "Before")
        add(10, "BEFORE")
        vendor_task = next(t for t in tasks if t.endswith("|vendor"))
        victim = holders()[vendor_task]
        # Changes in flight when the vendor poller dies: some read, some not yet.
        rename(vendors[40:80], "During")
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait()
        killed_at = time.time()
        rename(vendors[:20], "After")  # changed twice: the last change must win
        add(10, "AFTER")

        survivors = {n for n in names if n != victim}

        def taken_over() -> bool:
            held = holders()
            return set(held) == tasks and set(held.values()) <= survivors

        p.wait("the victim's tasks on the survivors", taken_over)

        def arrived() -> bool:
            sn = p.sn_vendors()
            last = all(sn.get(n, {}).get("name") == name for n, name in renamed.items())
            return len(sn) == VENDORS + 20 and last

        p.wait("every change in ServiceNow", arrived)
        p.settle()
        status = p.cli("status", "--json")
        assert status.exit_code == 0, status.output
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            proc.wait(30)

    # Nothing lost: every vendor BC holds is on the change topic and in ServiceNow with its
    # last name; nothing doubled: one row per vendor, and no row ever failed.
    bc = p.bc_vendors()
    assert {v["id"] for v in bc} <= set(keys_in(bootstrap, topics.change("bc", "vendor")))
    sn = p.sn_vendors()
    assert {n: r["name"] for n, r in sn.items()} == {v["number"]: v["displayName"] for v in bc}
    assert set(p.sn_vendor_counts().values()) == {1}
    assert p.import_states()["inserted"] == VENDORS + 20
    assert p.import_states()["error"] == 0
    assert p.dead_letters() == 0

    # status says which instance polls each stream: the survivors, all of them.
    streams = json.loads(status.output)["streams"]
    assert {s["entity"] for s in streams} == set(ENTITIES)
    assert {s["polled_by"] for s in streams} <= survivors

    # The audit of the logs: per task, the instances' spans of holding it never overlap,
    # the victim's ending at its kill, and every poll falls inside its instance's span.
    ends = time.time()
    spans: dict[str, list[tuple[float, float, str]]] = {t: [] for t in tasks}
    polls: list[tuple[str, str, float]] = []  # (instance, change topic, when)
    for name in names:
        opened: dict[str, float] = {}
        for line in lines(p.box.workdir / "logs" / f"{name}.log"):
            event = line.get("task_event")
            if event == "start":
                opened[line["task"]] = logged_at(line)
            elif event == "stop":
                spans[line["task"]].append((opened.pop(line["task"]), logged_at(line), name))
            elif ": read " in line.get("message", "") and ", cursor " in line["message"]:
                polls.append((name, line["message"].split(":")[0], logged_at(line)))
        for task, since in opened.items():  # still held at the end, or at the kill
            spans[task].append((since, killed_at if name == victim else ends, name))
    print(f"killed {victim} at {killed_at:.3f}")
    for task, held in sorted(spans.items()):
        print(task, [(round(a, 3), round(b, 3), who) for a, b, who in sorted(held)])
    for task, held in spans.items():
        assert held, f"{task} never ran"
        held.sort()
        for (_, end, who), (start, _, next_who) in itertools.pairwise(held):
            assert end <= start, f"{task} ran on {who} and {next_who} at once: {held}"
    assert {who for _, _, who in spans[vendor_task]} >= {victim}
    assert len({who for _, _, who in spans[vendor_task]}) >= 2  # it moved
    by_topic = {topics.change("bc", t.split("|")[2]): t for t in tasks}
    for who, topic, at in polls:
        inside = [s for s in spans[by_topic[topic]] if s[2] == who and s[0] <= at <= s[1]]
        assert inside, f"{who} polled {topic} at {at} without holding it: {spans}"
    assert {topic for _, topic, _ in polls} == set(by_topic)
