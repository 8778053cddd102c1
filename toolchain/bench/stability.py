"""When is a latency measurement stable? Repeat windows until it is, or time runs out.

Rule: the p50 of the last `windows` windows of a precision lie within `tolerance`
of each other (spread = (max - min) / median). All precisions of a group are
measured in the same interleaved rounds and the group stops when every precision
is stable over the same last rounds, when the time budget ends, or at
`max_rounds`. The outcome says which, and its spread is the noise to quote.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..results import JsonResult
from .schedule import round_order

STABLE = "stable"
TIME_BUDGET = "time budget"
MAX_ROUNDS = "max rounds"


@dataclass(frozen=True)
class StabilityRule(JsonResult):
    windows: int = 3              # consecutive windows that must agree
    tolerance: float = 0.05       # max relative spread of their p50
    time_budget_s: float = 60.0   # per group (model, batch size), all precisions together
    max_rounds: int = 20

    def __post_init__(self) -> None:
        if self.windows < 1:
            raise ValueError("windows must be >= 1")
        if self.tolerance < 0:
            raise ValueError("tolerance must be >= 0")
        if self.max_rounds < self.windows:
            raise ValueError("max_rounds must be >= windows")


def spread(values: Sequence[float]) -> float:
    """(max - min) / median: 0.05 means the values lie within 5 % of their median."""
    if not values:
        return float("inf")
    med = statistics.median(values)
    if med <= 0:
        return 0.0 if max(values) == min(values) else float("inf")
    return (max(values) - min(values)) / med


def is_stable(p50s: Sequence[float], rule: StabilityRule) -> bool:
    """True when the last `rule.windows` p50 values agree within `rule.tolerance`."""
    return len(p50s) >= rule.windows and spread(p50s[-rule.windows:]) <= rule.tolerance


@dataclass
class Stability(JsonResult):
    """What the stability loop decided for one precision of one group."""

    stable: bool
    reason: str                   # "stable" | "time budget" | "max rounds"
    windows: int                  # windows measured
    used_windows: int             # windows the reported statistics come from (the last ones)
    window_p50_ms: list[float] = field(default_factory=list)
    spread: float = float("nan")  # of the used windows' p50
    tolerance: float = 0.05
    elapsed_s: float = 0.0        # of the whole group


def decide(series: dict[str, Sequence[float]], rounds: int, elapsed_s: float,
           rule: StabilityRule) -> str | None:
    """Stop reason after a completed round, or None to measure another round."""
    if all(is_stable(p50s, rule) for p50s in series.values()):
        return STABLE
    if rounds >= rule.max_rounds:
        return MAX_ROUNDS
    if elapsed_s >= rule.time_budget_s:
        return TIME_BUDGET
    return None


def measure_interleaved(measure: Callable[[str], Any], p50_of: Callable[[Any], float],
                        precisions: Sequence[str], rule: StabilityRule,
                        clock: Callable[[], float] = time.monotonic,
                        on_window: Callable[[str, int, Any], None] | None = None,
                        ) -> tuple[dict[str, list[Any]], dict[str, Stability]]:
    """Run interleaved rounds of `measure(precision)` until `decide` says stop.

    Returns every window's result per precision and a Stability per precision;
    the statistics to report come from the last `used_windows` windows.
    """
    start = clock()
    results: dict[str, list[Any]] = {p: [] for p in precisions}
    p50s: dict[str, list[float]] = {p: [] for p in precisions}
    rounds = 0
    while True:
        for precision in round_order(precisions, rounds):
            res = measure(precision)
            results[precision].append(res)
            p50s[precision].append(float(p50_of(res)))
            if on_window is not None:
                on_window(precision, rounds, res)
        rounds += 1
        elapsed = clock() - start
        reason = decide(p50s, rounds, elapsed, rule)
        if reason is not None:
            break
    used = min(rule.windows, rounds)
    outcome = {
        p: Stability(stable=is_stable(p50s[p], rule), reason=reason, windows=rounds,
                     used_windows=used, window_p50_ms=p50s[p],
                     spread=spread(p50s[p][-used:]), tolerance=rule.tolerance,
                     elapsed_s=round(elapsed, 3))
        for p in precisions
    }
    return results, outcome
