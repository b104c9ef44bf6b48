"""Progress for the long commands (backfill, DLQ replay, reconcile, group replay), on stderr.

Most totals are unknown up front (each streams a source or a topic to its end), so the line
counts what is done, with the time spent; a group replay knows how many records it moved
back, so its bar fills. Stdout stays free for results.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


class Counter:
    def __init__(self, bar: Progress, what: str, total: int | None = None) -> None:
        self._bar = bar
        self._task = bar.add_task(what, total=total)

    def advance(self, n: int = 1, what: str | None = None) -> None:
        """``n`` more done; ``what`` renames the line (the entity a reconcile is on)."""
        if what is not None:
            self._bar.update(self._task, description=what)
        self._bar.advance(self._task, n)

    def done(self, n: int) -> None:
        """``n`` done in all (for work measured from outside, as a group re-reading)."""
        self._bar.update(self._task, completed=n)


@contextmanager
def counting(what: str, unit: str = "records", total: int | None = None) -> Iterator[Counter]:
    bar = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn(unit), TimeElapsedColumn(), console=Console(stderr=True),
    )  # fmt: skip
    with bar:
        yield Counter(bar, what, total)
