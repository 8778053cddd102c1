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

# What a count means: "bytes" shows sizes and speed, "percent" a percentage of
# total=100, "" no count at all (a spinner and the time), anything else counts
# items ("images", "steps", "batches" ...); total=None: no total known yet.


class Tracker(Protocol):
    def advance(self, n: float = 1) -> None: ...

    def update(self, *, completed: float | None = None, total: float | None = None,
               note: str | None = None) -> None: ...


class ProgressSink(Protocol):
    def track(self, label: str, total: float | None = None, unit: str = "items"
              ) -> ContextManager[Tracker]: ...

    def note(self, text: str) -> None:
        """A line that stays for whoever watches (e.g. "skip configure: ..."), not a result."""


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

    def note(self, text: str) -> None:
        pass


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

    def note(self, text: str) -> None:
        self.events.append(("note", text))

    def of(self, kind: str, label: str | None = None) -> list[tuple]:
        """The events of one kind ("start", "update", ...), of one label when given."""
        return [e for e in self.events
                if e[0] == kind and (label is None or (len(e) > 1 and e[1] == label))]
