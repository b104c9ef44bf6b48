"""The status page in a real browser (Debian's headless ``chromium``) during a real run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.pipeline import components
from app.ui import History, ui_app
from simulators.server import serve_in_thread

pytestmark = pytest.mark.kafka

VENDORS, POISONED = 400, 5
DOCS = Path(__file__).resolve().parents[2] / "docs"


def chromium(*args: str) -> str:
    binary = shutil.which("chromium")
    assert binary, "chromium is missing: install Debian's chromium package (make browser)"
    result = subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--hide-scrollbars", "--virtual-time-budget=8000", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_status_page_shows_flows_and_charts_with_data(
    pipeline_factory: Callable[..., Any], tmp_path: Path
) -> None:
    p = pipeline_factory(vendors=VENDORS, poll_interval=1.0, bc_page_size=50, run=False)
    for v in p.bc_vendors()[:POISONED]:
        r = p.bc.patch(f"/_sim/entities/vendors/{v['id']}", json={"currencyCode": "XTS"})
        assert r.status_code == 200, r.text
    history = History(p.settings, p.box.bootstrap, every=1.0).start()
    url, stop = serve_in_thread(ui_app(history))
    try:
        p.supervisor.start()
        p.wait("the vendors", lambda: len(p.sn_vendor_counts()) >= VENDORS - POISONED)
        p.wait("the dead letters", lambda: p.dead_letters() >= POISONED)
        p.settle()
        p.wait("samples after the run settled", lambda: len(history.samples) >= 5)
        needed = set(components(p.settings))
        p.wait("a sample with every worker up", lambda: history.latest is not None and {
            w.component for w in history.latest.workers if w.state == "up"} == needed)  # fmt: skip

        dom = chromium("--dump-dom", f"{url}/")
        assert '<div id="error"></div>' in dom, dom[:3000]  # Kafka and the page's API answered
        rows = re.findall(r"<tr><td>(.*?)</td></tr>", dom)
        cells = [re.split(r"</td><td[^>]*>", r) for r in rows]
        stream = next(c for c in cells if c[:3] == ["bc-servicenow", "bc", "vendor"])
        assert int(stream[5]) >= VENDORS  # records read
        target = next(c for c in cells if c[0] == "sn")
        assert target[2] == str(POISONED)  # dead letters
        delivered = next(c for c in cells if c[:3] == ["bc-servicenow", "vendor", "sn"])
        assert delivered[4] == str(VENDORS - POISONED) and delivered[6] == str(POISONED)
        assert "XTS" in delivered[8]  # the last sink error, in ServiceNow's words
        states = {c[0]: c[2] for c in cells if c[0] in components(p.settings)}
        assert states == dict.fromkeys(components(p.settings), "up")
        for chart in ("lag", "throughput", "dead"):
            svg = re.search(rf'<svg class="chart" id="{chart}"[^>]*>(.*?)</svg>', dom, re.S)
            assert svg, f"no {chart} chart"
            lines = re.findall(r'<polyline points="([^"]+)"', svg.group(1))
            assert lines and all(len(pts.split()) >= 2 for pts in lines), f"{chart} has no data"
        # the dead letters chart ends at the DLQ's size: its top label says it
        assert re.search(r'<svg class="chart" id="dead".*?<text[^>]*>5</text>', dom, re.S)

        listed = p.cli("dlq", "list", "sn", "--json")
        dead = json.loads(listed.stdout)
        assert listed.exit_code == 0 and len(dead) == POISONED
        assert {d["error_class"] for d in dead} == {"TargetRejected"}

        shot = tmp_path / "status-page.png"
        chromium(f"--screenshot={shot}", "--window-size=1280,1400", f"{url}/")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
        if os.environ.get("MLC_UPDATE_SCREENSHOT"):  # how docs/status-page.png is made
            shutil.copy(shot, DOCS / "status-page.png")
    finally:
        history.stop()
        stop()
