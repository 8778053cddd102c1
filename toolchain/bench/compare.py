"""`--compare OLD.json`: the change of every number against an earlier bench run.

Each p50 change gets a verdict: "noise" when it lies within the noise of a difference
between two runs, "change" outside it, "not comparable: machine busy" when either run
measured that row on a busy machine (see toolchain.doctor.machine), and "not comparable:
machine speed changed" when the machine's own speed (speed_probe_ms, timed at the start
and end of each run) differs between the runs by more than SPEED_TOLERANCE, whatever
the numbers say.

The noise is the larger of two estimates:
- within-run: half the spread of each run's window p50s, added. It cannot see a shift of
  the whole machine between runs (on a shared VM, 8-11 % between two quickstarts a minute
  apart, with no steal or load to show for it).
- run-to-run: once the results folder holds HISTORY_MIN earlier comparable runs of the row
  (same host, CPU, GPU, Paddle, library and dataset; not busy), the scatter of their p50s.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LabError
from ..results import JsonResult

NOISE = "noise"
CHANGE = "change"
NOT_COMPARABLE = "not comparable: machine busy"
SPEED_CHANGED = "not comparable: machine speed changed"
SPEED_TOLERANCE = 0.10   # the probe scatters 1-2 % on a quiet VM

HISTORY_MIN = 3       # earlier runs of a row before their scatter counts as its noise
# Provenance fields that must match for an earlier run to count in the run-to-run noise.
HISTORY_KEYS = ("host.hostname", "host.cpu_model", "gpu", "paddle.version",
                "library.version_sha256", "dataset.sha256")
# Provenance fields whose change makes a comparison less like-for-like.
CONTEXT_KEYS = ("host.hostname", "host.cpu_model", "gpu", "paddle.version",
                "library.version_sha256", "tool.version", "tool.git_commit", "dataset.sha256")


@dataclass
class ChangeRow(JsonResult):
    model: str
    batch_size: int
    precision: str
    old_p50_ms: float | None
    new_p50_ms: float | None
    p50_change_pct: float | None      # + = slower
    old_top1: float | None
    new_top1: float | None
    top1_change_pts: float | None
    old_speedup: float | None
    new_speedup: float | None
    status: str = "both"              # "both" | "only new" | "only old"
    within_noise: bool | None = None  # |p50 change| <= noise_pct
    noise_pct: float | None = None    # the larger of the two below, in % of the old p50
    within_run_pct: float | None = None   # from both runs' window spreads
    run_to_run_pct: float | None = None   # from earlier runs' scatter (None: too few)
    history_runs: int = 0             # earlier comparable runs of this row found
    busy: list[str] = field(default_factory=list)   # "old" / "new": which run was busy
    verdict: str | None = None        # NOISE | CHANGE | NOT_COMPARABLE; None: no p50 change


@dataclass
class Comparison(JsonResult):
    old_file: str
    old_created_at: str | None
    rows: list[ChangeRow] = field(default_factory=list)
    context_changes: dict[str, list[Any]] = field(default_factory=dict)  # key: [old, new]
    machine_speed_change_pct: float | None = None   # + = the new run's machine is slower


def load_report(path: Path) -> dict:
    """An earlier bench.json, or a LabError saying why it cannot be used."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise LabError("the bench result to compare with does not exist", where=str(path),
                       hint="pass a bench.json of an earlier run: results/<timestamp>/bench.json")
    except (OSError, json.JSONDecodeError) as err:
        raise LabError(f"cannot read the bench result to compare with: {err}", where=str(path),
                       hint="pass a bench.json written by `invoke bench`")
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise LabError("not a bench result (no 'rows' list)", where=str(path),
                       hint="pass a bench.json written by `invoke bench`")
    return data


def _dig(data: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _index(report: dict) -> dict[tuple, dict]:
    """(model, batch size, precision) -> the numbers compared; other engines' variants
    (`--backends`) under their key, e.g. "openvino:int8", when they ran."""
    out = {}
    for row in report.get("rows", []):
        variants = list((row.get("results") or {}).items()) + \
            [(key, res) for key, res in (row.get("backends") or {}).items()
             if not res.get("cannot_run")]
        for prec, res in variants:
            out[(row.get("model"), int(row.get("batch_size", 0)), prec)] = {
                "p50": (res.get("latency_ms") or {}).get("p50"),
                "top1": res.get("top1"),
                "speedup": (row.get("speedup") or {}).get(prec),
                "spread": (res.get("stability") or {}).get("spread"),
                "busy": bool(res.get("busy")),
            }
    return out


def _diff(new: float | None, old: float | None, scale: float = 1.0) -> float | None:
    if new is None or old is None:
        return None
    return (new - old) * scale


def combined_noise_pct(old_spread: float | None, new_spread: float | None) -> float | None:
    """Each run's p50 is uncertain by half its window spread; a difference by the sum."""
    spreads = [s for s in (old_spread, new_spread) if isinstance(s, (int, float))]
    if not spreads:
        return None
    return sum(spreads) / 2 * 100 * (2 / len(spreads))    # one side known: count it twice


def run_to_run_noise_pct(p50s: list[float]) -> float | None:
    """The noise of a difference between two runs, from earlier runs' p50s of one row:
    2 x sqrt(2) x their relative standard deviation (about 95 % for a normal scatter; the
    difference of two runs scatters sqrt(2) times one run). None below HISTORY_MIN runs."""
    p50s = [p for p in p50s if isinstance(p, (int, float)) and p > 0]
    if len(p50s) < HISTORY_MIN:
        return None
    return 2 * math.sqrt(2) * statistics.stdev(math.log(p) for p in p50s) * 100


def load_history(results_dir: Path) -> list[dict]:
    """Every readable bench.json under results_dir/*/ (unreadable ones are skipped: the
    history only widens the noise, it never decides alone)."""
    out = []
    for path in sorted(Path(results_dir).glob("*/bench.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("rows"), list):
            out.append(data)
    return out


def history_p50s(history: list[dict], new: dict) -> dict[tuple, list[float]]:
    """Per row key, the p50s of the earlier runs made like `new` (HISTORY_KEYS equal),
    rows measured on a busy machine left out."""
    want = [_dig(new.get("provenance") or {}, k) for k in HISTORY_KEYS]
    out: dict[tuple, list[float]] = {}
    for report in history:
        if [_dig(report.get("provenance") or {}, k) for k in HISTORY_KEYS] != want:
            continue
        for key, row in _index(report).items():
            if row["p50"] and not row["busy"]:
                out.setdefault(key, []).append(row["p50"])
    return out


def speed_change(before_ms: float | None, after_ms: float | None) -> float:
    """after / before - 1 of the speed probe (+ = slower); 0 when either is unknown."""
    if not before_ms or not after_ms:
        return 0.0
    return after_ms / before_ms - 1


def run_speed_ms(report: dict) -> float | None:
    """A run's machine speed: the mean of its probe at the start and at the end (None for
    runs written before the probe)."""
    speed = (report.get("provenance") or {}).get("machine_speed") or {}
    times = [speed.get(k) for k in ("start_ms", "end_ms") if speed.get(k)]
    return sum(times) / len(times) if times else None


def verdict(change_pct: float | None, within_noise: bool | None, busy: list[str],
            speed_changed: bool = False) -> str | None:
    if change_pct is None:
        return None
    if busy:
        return NOT_COMPARABLE
    if speed_changed:
        return SPEED_CHANGED
    if within_noise is None:
        return CHANGE
    return NOISE if within_noise else CHANGE


def compare(new: dict, old: dict, old_file: str = "",
            history: list[dict] | None = None) -> Comparison:
    """Row by row (model, batch size, precision) change from `old` to `new` (bench.json dicts);
    `history`: earlier bench.json dicts (old among them) for the run-to-run noise."""
    a, b = _index(old), _index(new)
    earlier = history_p50s(history or [], new)
    old_speed, new_speed = run_speed_ms(old), run_speed_ms(new)
    machine = speed_change(old_speed, new_speed) if old_speed and new_speed else None
    speed_changed = machine is not None and abs(machine) > SPEED_TOLERANCE
    rows = []
    for key in list(b) + [k for k in a if k not in b]:
        o, n = a.get(key, {}), b.get(key, {})
        pct = None
        if o.get("p50") and n.get("p50") is not None:
            pct = (n["p50"] / o["p50"] - 1) * 100
        within_run = combined_noise_pct(o.get("spread"), n.get("spread"))
        run_to_run = run_to_run_noise_pct(earlier.get(key, []))
        known = [x for x in (within_run, run_to_run) if x is not None]
        noise_pct = max(known) if known else None
        within = None if pct is None or noise_pct is None else abs(pct) <= noise_pct
        busy = [name for name, side in (("old", o), ("new", n)) if side.get("busy")]
        rows.append(ChangeRow(
            model=key[0], batch_size=key[1], precision=key[2],
            old_p50_ms=o.get("p50"), new_p50_ms=n.get("p50"), p50_change_pct=pct,
            old_top1=o.get("top1"), new_top1=n.get("top1"),
            top1_change_pts=_diff(n.get("top1"), o.get("top1"), 100),
            old_speedup=o.get("speedup"), new_speedup=n.get("speedup"),
            status="both" if (key in a and key in b) else ("only new" if key in b else "only old"),
            within_noise=within, noise_pct=noise_pct, within_run_pct=within_run,
            run_to_run_pct=run_to_run, history_runs=len(earlier.get(key, [])), busy=busy,
            verdict=verdict(pct, within, busy, speed_changed)))
    context = {}
    for key in CONTEXT_KEYS:
        ov, nv = _dig(old.get("provenance") or {}, key), _dig(new.get("provenance") or {}, key)
        if ov != nv:
            context[key] = [ov, nv]
    return Comparison(old_file=old_file, old_created_at=old.get("created_at"), rows=rows,
                      context_changes=context,
                      machine_speed_change_pct=None if machine is None else machine * 100)
