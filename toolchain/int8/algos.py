"""Calibration algorithm choices: one of PTQ's, or `auto` = try each on the same budget."""

from __future__ import annotations

from ..errors import LabError
from ..quantize import ALGOS

AUTO = "auto"
CHOICES = (*ALGOS, AUTO)


def algos_to_try(algo: str) -> tuple[str, ...]:
    """The algorithms a request means: ('KL',) for KL, every one of ALGOS for auto."""
    if algo == AUTO:
        return ALGOS
    if algo not in ALGOS:
        raise LabError(f"unknown --algo {algo!r}", hint=f"choose one of {', '.join(CHOICES)}")
    return (algo,)


def best_trial(trials: list[dict]) -> dict:
    """The trial with the smallest top-1 drop; ties go to the earlier one (ALGOS order)."""
    if not trials:
        raise LabError("no calibration algorithm was tried")
    return min(trials, key=lambda t: (t["drop"], trials.index(t)))
