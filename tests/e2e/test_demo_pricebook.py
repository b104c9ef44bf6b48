"""The pricebook part of the demo, as the ServiceTitan demo calls it: HVAC and plumbing items
seeded in Business Central, the flow run on a real broker, the summary lines it returns."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from app.demo_pricebook import play

pytestmark = pytest.mark.kafka


def test_the_pricebook_demo_pushes_every_item_and_reconciles_clean(
    bootstrap: str, registry_url: str, tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    played = play(bootstrap, tmp_path / "pricebook", registry_url=registry_url, items=60,
                  poll_interval=1.0, timeout=240, topic_prefix=prefix)  # fmt: skip
    assert played.ok, played.lines
    assert played.lines == [
        "pricebook: 60 of 60 Business Central items pushed: 30 services, 30 materials "
        "(2 inactive: blocked in BC)",
        "reconcile bc-servicetitan item: clean (60 compared, 0 missing, 0 differing in price, "
        "cost, name, list or active)",
    ]
    # Every simulator stopped with the run.
    with pytest.raises(httpx.TransportError):
        config = (played.workdir / "ml-connector.yaml").read_text()
        url = next(line.split()[-1] for line in config.splitlines() if "api_url" in line)
        httpx.get(f"{url}/_sim/entities/services", timeout=2)
