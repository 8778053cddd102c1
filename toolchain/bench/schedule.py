"""The interleaving plan: which precision runs when, so drift hits every precision alike.

Within one (model, batch size) group the precisions alternate window by window in
an ABBA pattern (fp32 int8 | int8 fp32 | fp32 int8 ...): a linear drift (thermal,
a neighbour process starting) then adds the same amount to both sides on average,
and neither precision always runs first after a model switch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Group:
    """The measurements that are compared with each other: one model at one batch size."""

    model: str
    batch_size: int


@dataclass(frozen=True)
class Window:
    """One measurement window of the plan."""

    model: str
    batch_size: int
    precision: str
    round: int


def round_order(precisions: Sequence[str], round_index: int) -> list[str]:
    """The precisions in the order round `round_index` runs them (ABBA: odd rounds reversed)."""
    order = list(precisions)
    return order if round_index % 2 == 0 else order[::-1]


def groups(models: Sequence[str], batch_sizes: Sequence[int]) -> list[Group]:
    """Every (model, batch size) pair, models outermost (a model's engine stays warm)."""
    return [Group(m, int(b)) for m in models for b in batch_sizes]


def plan(models: Sequence[str], precisions: Sequence[str], batch_sizes: Sequence[int],
         rounds: int) -> list[Window]:
    """The full window sequence for a fixed number of rounds per group.

    The bench loop stops a group early once it is stable (see stability.py), so
    this is the longest plan; it is what `--json` reports as the schedule.
    """
    if rounds < 1:
        raise ValueError("rounds must be >= 1")
    return [Window(g.model, g.batch_size, p, r)
            for g in groups(models, batch_sizes)
            for r in range(rounds)
            for p in round_order(precisions, r)]
