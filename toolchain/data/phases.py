"""Where a preprocessing run spends its time: the parent's phases and the workers' spans.

Every chunk result carries the worker's pid and the monotonic times its work on
the chunk began and ended (`time.perf_counter`, one clock for every process on
Linux), so the parent can tell start-up lag, busy time and the tail (workers
idle while the last chunks finish) apart. All times are seconds since the run
began; CPU seconds come from `os.times()` (the workers' once they are reaped).
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple


class ChunkSpan(NamedTuple):
    pid: int
    started: float      # perf_counter when the worker took the chunk
    ended: float        # perf_counter when it had written its last image


class RunPhases:
    """Collects marks and chunk spans; `summary()` is the dict PreprocessResult carries."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.marks: dict[str, float] = {}
        self.spans: list[ChunkSpan] = []
        self._cpu0 = os.times()

    def mark(self, name: str) -> None:
        """Record phase `name` as reached now (the first time only)."""
        self.marks.setdefault(name, time.perf_counter() - self.t0)

    def chunk(self, span: ChunkSpan) -> None:
        self.spans.append(span)
        self.mark("first_result")

    def summary(self) -> dict:
        cpu = os.times()
        out = {k: round(v, 4) for k, v in self.marks.items()}
        out["cpu_parent_s"] = round(cpu.user + cpu.system
                                    - self._cpu0.user - self._cpu0.system, 3)
        out["cpu_workers_s"] = round(cpu.children_user + cpu.children_system
                                     - self._cpu0.children_user - self._cpu0.children_system, 3)
        if self.spans:
            last_end: dict[int, float] = {}
            for s in self.spans:
                last_end[s.pid] = max(last_end.get(s.pid, s.ended), s.ended)
            out["workers"] = {
                "count": len(last_end),
                "first_start": round(min(s.started for s in self.spans) - self.t0, 4),
                "first_idle": round(min(last_end.values()) - self.t0, 4),
                "last_end": round(max(last_end.values()) - self.t0, 4),
                "busy_s": round(sum(s.ended - s.started for s in self.spans), 3),
                # worker seconds between a worker's last chunk and the last worker's
                "tail_idle_s": round(sum(max(last_end.values()) - t
                                         for t in last_end.values()), 3),
            }
        return out
