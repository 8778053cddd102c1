"""The rich implementation of toolchain.progress.ProgressSink: bars on stderr."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from ..progress import NO_PROGRESS, ProgressSink, Tracker


class _RichTracker:
    def __init__(self, bar, task) -> None:
        self._bar, self._task = bar, task

    def advance(self, n: float = 1) -> None:
        self._bar.update(self._task, advance=n)

    def update(self, *, completed=None, total=None, note=None) -> None:
        kw = {}
        if completed is not None:
            kw["completed"] = completed
        if total is not None:
            kw["total"] = total
        if note is not None:
            kw["note"] = note
        self._bar.update(self._task, **kw)


class RichProgress:
    """One rich bar per tracked step, on stderr; columns follow the unit."""

    def __init__(self, transient: bool = True) -> None:
        self.transient = transient

    @contextmanager
    def track(self, label: str, total: float | None = None, unit: str = "items"
              ) -> Iterator[Tracker]:
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress,
                                   SpinnerColumn, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn, TransferSpeedColumn)

        if unit == "bytes":
            cols = [TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn()]
        else:
            cols = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TextColumn(unit), TimeElapsedColumn(),
                    TextColumn("{task.fields[note]}")]
        with Progress(*cols, console=Console(stderr=True), transient=self.transient) as bar:
            task = bar.add_task(label, total=total, note="")
            yield _RichTracker(bar, task)


def progress_for(enabled: bool = True) -> ProgressSink:
    """Bars when asked for and stderr is a terminal; otherwise nothing."""
    return RichProgress() if enabled and sys.stderr.isatty() else NO_PROGRESS
