"""Tail percentiles a lab can defend: a sample floor per percentile and an upper bound.

MLPerf LoadGen reports a percentile only from enough queries: 64 for p90 and 662
for p99 (its binomial floors). Below its floor a percentile is "n/a (N samples)".
At or above it, the upper confidence bound is an order statistic: the k-th smallest
of n samples lies above the true q-quantile unless at least k samples fall below
it, so the smallest k with P(Binomial(n, q) <= k - 1) >= confidence bounds the
quantile from above (the same binomial reasoning as LoadGen's early stopping).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from ..results import JsonResult

FLOORS = {"p90": 64, "p99": 662}
QUANTILES = {"p90": 0.90, "p99": 0.99}
CONFIDENCE = 0.99

ORDER_STATISTIC = "order statistic of the samples"
INTERPOLATED = "interpolated between the window's reported percentiles"


def upper_rank(n: int, q: float, confidence: float = CONFIDENCE) -> int | None:
    """1-based rank k of the sample that bounds the q-quantile from above with
    `confidence`, or None when even the largest of n samples does not."""
    if n < 1:
        return None
    log_p, log_q, log_n = math.log(q), math.log1p(-q), math.lgamma(n + 1)
    total = 0.0
    for below in range(n):      # P(X <= below) reaches confidence: rank below + 1
        total += math.exp(log_n - math.lgamma(below + 1) - math.lgamma(n - below + 1)
                          + below * log_p + (n - below) * log_q)
        if total >= confidence:
            return below + 1
    return None


@dataclass
class Tail(JsonResult):
    """One tail percentile of one measurement: the value only at or above its floor."""

    name: str                       # "p90" | "p99"
    count: int                      # samples the percentile is computed from
    floor: int
    value_ms: float | None          # None below the floor
    upper_bound_ms: float | None    # CONFIDENCE upper bound; None below the floor
    upper_rank: int | None = None   # the order statistic used (1-based)
    confidence: float = CONFIDENCE
    method: str = ORDER_STATISTIC

    @property
    def reported(self) -> bool:
        return self.value_ms is not None


def _empty(name: str, count: int, method: str) -> Tail:
    return Tail(name=name, count=count, floor=FLOORS[name], value_ms=None, upper_bound_ms=None,
                method=method)


def tail_from_samples(name: str, samples_ms: Sequence[float], value_ms: float) -> Tail:
    """The tail `name` of one pool of samples (value_ms: its percentile as computed)."""
    n = len(samples_ms)
    if n < FLOORS[name]:
        return _empty(name, n, ORDER_STATISTIC)
    k = upper_rank(n, QUANTILES[name])
    bound = sorted(samples_ms)[k - 1] if k else None
    return Tail(name, n, FLOORS[name], value_ms, bound, k)


def tail_from_percentiles(name: str, count: int, points: dict[float, float],
                          value_ms: float) -> Tail:
    """The tail `name` when only percentiles are known (a runner that keeps no samples):
    the bound's rank k/n read off the curve through `points` {quantile: ms} (linear)."""
    if count < FLOORS[name]:
        return _empty(name, count, INTERPOLATED)
    k = upper_rank(count, QUANTILES[name])
    bound = None if k is None else quantile_curve(points, k / count)
    return Tail(name, count, FLOORS[name], value_ms, bound, k, method=INTERPOLATED)


def quantile_curve(points: dict[float, float], q: float) -> float:
    """Linear interpolation through (quantile, value) points, clamped to their range."""
    xs = sorted(points)
    if q <= xs[0]:
        return points[xs[0]]
    for lo, hi in zip(xs, xs[1:]):
        if q <= hi:
            frac = 0.0 if hi == lo else (q - lo) / (hi - lo)
            return points[lo] + (points[hi] - points[lo]) * frac
    return points[xs[-1]]


def extended_repeats(p50_ms: float, wanted: int, windows: int, precisions: int,
                     time_budget_s: float) -> int:
    """Runs per window raised to the largest tail floor whose windows fit half the
    group's time budget (the other half is left for rounds that are not stable yet)."""
    if p50_ms <= 0:
        return wanted
    for floor in sorted(FLOORS.values(), reverse=True):
        if floor <= wanted:
            return wanted
        if floor * p50_ms / 1000.0 * windows * precisions <= time_budget_s / 2:
            return floor
    return wanted


def na_text(tail: Tail) -> str:
    return f"n/a ({tail.count} samples)"


def cov(samples_ms: Sequence[float]) -> float | None:
    """Coefficient of variation (sample standard deviation / mean)."""
    n = len(samples_ms)
    if n < 2:
        return None
    mean = sum(samples_ms) / n
    if mean <= 0:
        return None
    var = sum((x - mean) ** 2 for x in samples_ms) / (n - 1)
    return math.sqrt(var) / mean


COV_WARNING = 0.01     # trtexec warns above 1 %: clocks, spin-wait, other work
