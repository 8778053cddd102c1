"""Pass/fail gates a lab can put in CI: INT8 top-1 drop and INT8 speed-up against FP32."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from ..results import JsonResult
from .rows import BenchRow


@dataclass
class GateResult(JsonResult):
    name: str                 # "top1-drop" | "speedup"
    threshold: float
    passed: bool
    detail: str
    checks: list[dict[str, Any]] = field(default_factory=list)  # one per row and precision


def _gate(name: str, threshold: float, checks: list[dict], what: str) -> GateResult:
    if not checks:
        return GateResult(name, threshold, False,
                          f"nothing to check: no row has {what}", checks)
    failed = [c for c in checks if not c["passed"]]
    if failed:
        worst = ", ".join(f"{c['model']} b{c['batch_size']} {c['precision']}: "
                          f"{c['value']:.2f}" for c in failed)
        return GateResult(name, threshold, False, f"failed: {worst}", checks)
    return GateResult(name, threshold, True, f"{len(checks)} checked, all pass", checks)


def top1_drop_gate(rows: Sequence[BenchRow], max_drop_pts: float) -> GateResult:
    """Each precision's top-1 may be at most `max_drop_pts` points below FP32's."""
    checks = [{"model": r.model, "batch_size": r.batch_size, "precision": p, "value": drop,
               "passed": drop <= max_drop_pts}
              for r in rows for p, drop in r.top1_drop_pts.items()]
    return _gate("top1-drop", max_drop_pts, checks, "top-1 for FP32 and another precision")


def speedup_gate(rows: Sequence[BenchRow], min_speedup: float) -> GateResult:
    """Each precision's p50 latency must be at least `min_speedup` x faster than FP32's."""
    checks = [{"model": r.model, "batch_size": r.batch_size, "precision": p, "value": x,
               "passed": x >= min_speedup}
              for r in rows for p, x in r.speedup.items()]
    return _gate("speedup", min_speedup, checks, "latency for FP32 and another precision")


def evaluate(rows: Sequence[BenchRow], top1_drop: float | None = None,
             speedup: float | None = None) -> list[GateResult]:
    """The gates asked for (None = not asked)."""
    gates = []
    if top1_drop is not None:
        gates.append(top1_drop_gate(rows, top1_drop))
    if speedup is not None:
        gates.append(speedup_gate(rows, speedup))
    return gates
