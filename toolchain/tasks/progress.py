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
    """One rich bar per tracked step, on stderr; columns follow the unit.

    transient=False leaves each finished bar on screen (a build's steps, a download)."""

    def __init__(self, transient: bool = True) -> None:
        self.transient = transient
        self._live = None               # the Progress drawing now, so notes print above it

    @contextmanager
    def track(self, label: str, total: float | None = None, unit: str = "items"
              ) -> Iterator[Tracker]:
        from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress,
                                   SpinnerColumn, TaskProgressColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn, TransferSpeedColumn)
        from rich.table import Column

        # a minimum width keeps the bars of consecutive steps in one column
        name = TextColumn("[bold]{task.description}", table_column=Column(min_width=12))
        if unit == "bytes":
            cols = [name, BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn()]
        else:
            cols = [SpinnerColumn(), name]
            if unit == "percent":
                cols += [BarColumn(), TaskProgressColumn()]
            elif unit:
                cols += [BarColumn(), MofNCompleteColumn(), TextColumn(unit)]
            cols += [TimeElapsedColumn(), TextColumn("{task.fields[note]}", markup=False)]
        from rich.markup import escape

        outer = self._live
        if outer is not None:           # rich draws one live display at a time: share it
            task = outer.add_task(escape(label), total=total, note="")
            try:
                yield _RichTracker(outer, task)
            finally:
                outer.remove_task(task)
            return
        with Progress(*cols, console=_stderr(), transient=self.transient) as bar:
            self._live = bar
            try:
                task = bar.add_task(escape(label), total=total, note="")
                yield _RichTracker(bar, task)
            finally:
                self._live = None

    def note(self, text: str) -> None:
        console = self._live.console if self._live is not None else _stderr()
        console.print(text, style="dim", markup=False, highlight=False)


def _stderr():
    from rich.console import Console

    return Console(stderr=True)


def progress_for(enabled: bool = True, transient: bool = True) -> ProgressSink:
    """Bars when asked for and stderr is a terminal; otherwise nothing."""
    return RichProgress(transient) if enabled and sys.stderr.isatty() else NO_PROGRESS
