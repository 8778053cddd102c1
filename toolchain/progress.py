"""Progress reporting as a small protocol, so library code never draws.

Library functions take `progress: ProgressSink = NO_PROGRESS` and call

    with progress.track("converting", total=n, unit="images") as t:
        t.advance(k)                      # or t.update(completed=..., total=..., note=...)

The rich implementation lives at the CLI edge (toolchain/tasks/progress.py);
tests and scripts get NO_PROGRESS, which does nothing.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import ContextManager, Iterator, Protocol

# What a count means: "bytes" shows sizes and speed, anything else counts items
# ("images", "steps", "runs", "files" ...); total=None shows a spinner.


class Tracker(Protocol):
    def advance(self, n: float = 1) -> None: ...

    def update(self, *, completed: float | None = None, total: float | None = None,
               note: str | None = None) -> None: ...


class ProgressSink(Protocol):
    def track(self, label: str, total: float | None = None, unit: str = "items"
              ) -> ContextManager[Tracker]: ...


class _NullTracker:
    def advance(self, n: float = 1) -> None:
        pass

    def update(self, *, completed: float | None = None, total: float | None = None,
               note: str | None = None) -> None:
        pass


class NullProgress:
    """Reports nothing: the default of every library function."""

    @contextmanager
    def track(self, label: str, total: float | None = None, unit: str = "items"
              ) -> Iterator[Tracker]:
        yield _NullTracker()


NO_PROGRESS: ProgressSink = NullProgress()


class RecordingProgress:
    """Keeps every call, for tests that check what a step reported."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    @contextmanager
    def track(self, label: str, total: float | None = None, unit: str = "items"
              ) -> Iterator[Tracker]:
        self.events.append(("start", label, total, unit))
        rec = self

        class _T:
            def advance(self, n: float = 1) -> None:
                rec.events.append(("advance", label, n))

            def update(self, *, completed=None, total=None, note=None) -> None:
                rec.events.append(("update", label, completed, total, note))

        try:
            yield _T()
        finally:
            self.events.append(("done", label))
