"""Reading a simulator's request log: what the server saw is the only timing evidence."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx


def requests(url: str, **params: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(
        f"{url}/_sim/requests", params=params, verify=False
    ).json()["requests"]
    return entries


def statuses(url: str) -> Counter[int]:
    return Counter(int(e["status"]) for e in requests(url))


def max_in_window(entries: list[dict[str, Any]], seconds: float = 1.0) -> int:
    """The most requests the server logged in any window of ``seconds`` (sliding)."""
    times = sorted(datetime.fromisoformat(e["time"]).timestamp() for e in entries)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def set_faults(url: str, **settings: Any) -> None:
    response = httpx.put(f"{url}/_sim/faults", json=settings, verify=False)
    response.raise_for_status()


def storm(url: str, seconds: float) -> None:
    httpx.post(
        f"{url}/_sim/faults/storm", json={"seconds": seconds}, verify=False
    ).raise_for_status()


async def read_under_faults(
    url: str, label: str, read: Callable[[], Awaitable[list[str]]], *, seed: int = 7
) -> list[str]:
    """Run ``read`` while the simulator answers 20% of calls 503, drops 2% of connections
    and starts with a 2-second 429 storm; print what the server saw."""
    set_faults(url, error_rate=0.2, error_status=503, drop_rate=0.02, seed=seed)
    storm(url, 2)
    ids = await read()
    seen = Counter(e["status"] for e in requests(url))
    print(f"\n{label}: {len(ids)} records read; server statuses {dict(sorted(seen.items()))}")
    return ids
