"""Progress for the long commands (backfill, DLQ replay, reconcile), on stderr.

Their totals are unknown up front (each streams a source or a topic to its end), so the line
counts what is done, with a rate and the time spent, and stdout stays free for results.
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
    def __init__(self, bar: Progress, what: str) -> None:
        self._bar = bar
        self._task = bar.add_task(what, total=None)

    def advance(self, n: int = 1, what: str | None = None) -> None:
        """``n`` more done; ``what`` renames the line (the entity a reconcile is on)."""
        if what is not None:
            self._bar.update(self._task, description=what)
        self._bar.advance(self._task, n)


@contextmanager
def counting(what: str, unit: str = "records") -> Iterator[Counter]:
    bar = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn(unit), TimeElapsedColumn(), console=Console(stderr=True),
    )  # fmt: skip
    with bar:
        yield Counter(bar, what)
