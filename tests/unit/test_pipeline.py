"""How a worker process runs its parts: one failing part ends the process with its error."""

from __future__ import annotations

import asyncio

import pytest

from app.pipeline import _together


async def test_a_failing_part_stops_the_others_and_its_error_is_raised() -> None:
    stop = asyncio.Event()
    ended: list[str] = []

    async def polling() -> None:
        await stop.wait()
        ended.append("polling")

    async def following() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("the hint follower failed")

    with pytest.raises(RuntimeError, match="hint follower failed"):
        await _together(stop, polling(), following())
    assert stop.is_set()
    assert ended == ["polling"]  # ended cleanly before the error was raised


async def test_parts_that_end_on_stop_end_quietly() -> None:
    stop = asyncio.Event()
    ended: list[str] = []

    async def part(name: str) -> None:
        await stop.wait()
        ended.append(name)

    async def stopping() -> None:
        stop.set()

    await _together(stop, part("a"), part("b"), stopping())
    assert sorted(ended) == ["a", "b"]
