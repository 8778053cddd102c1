"""The BenchReport and the text of its files: bench.json, bench.md, bench.csv.

The chart is chart.py's; files.py writes all four.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

from ..doctor.machine import BusyRule
from ..results import JsonResult
from .compare import Comparison
from .gates import GateResult
from .rows import BASELINE, BenchRow, PrecisionResult
from .stability import StabilityRule
from .tails import CONFIDENCE, COV_WARNING, FLOORS, na_text

FILES = ("bench.json", "bench.md", "bench.csv", "bench.png")


@dataclass
class BenchReport(JsonResult):
    created_at: str
    out_dir: str
    request: dict[str, Any]
    rule: StabilityRule
    busy_rule: BusyRule = field(default_factory=BusyRule)
    rows: list[BenchRow] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)
    passed: bool = True                     # every gate asked for passed
    comparison: Comparison | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    parity: list[dict[str, Any]] = field(default_factory=list)   # C++ vs python, per model
    elapsed_s: float = 0.0

    def to_dict(self) -> dict:
        return finite(super().to_dict())

    @property
    def precisions(self) -> list[str]:
        seen: list[str] = []
        for row in self.rows:
            seen += [p for p in row.results if p not in seen]
        return seen


def pct(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction * 100:.2f}"


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 100 else f"{value:.1f}"


def model_label(row: BenchRow) -> str:
    label = row.model if row.batch_size == 1 else f"{row.model} (batch {row.batch_size})"
    return label + (" *" if row.kind == "seeded" else "")


def accuracy_cell(row: BenchRow, precision: str) -> str:
    res = row.results.get(precision)
    if res is None or res.top1 is None:
        return "latency only" if row.kind == "seeded" else "-"
    return f"{pct(res.top1)}/{pct(res.top5)}"


def main_table(report: BenchReport) -> tuple[list[str], list[list[str]]]:
    """The tutorial's table: accuracy and p50 latency per precision, speed-up and reduction."""
    precs = report.precisions
    others = [p for p in precs if p != BASELINE]
    head = ["Model"] + [f"{p.upper()} top-1/top-5 (%)" for p in precs] \
        + [f"{p.upper()} p50 (ms)" for p in precs]
    for p in others:
        head += [f"{p.upper()} speed-up (x)", f"{p.upper()} latency reduction (%)"]
    body = []
    for row in report.rows:
        line = [model_label(row)] + [accuracy_cell(row, p) for p in precs]
        for p in precs:
            res = row.results.get(p)
            line.append(ms(res.latency_ms.p50) + (f" {BUSY}" if res.busy else "")
                        if res and res.latency_ms else "-")
        for p in others:
            x, red = row.speedup.get(p), row.reduction_pct.get(p)
            line += ["-" if x is None else f"{x:.2f}", "-" if red is None else f"{red:.1f}"]
        body.append(line)
    return head, body


BUSY = "busy"

PERCENTILE_HEAD = ["Model", "Batch", "Precision", "Runner", "min", "mean", "p50", "p90", "p99",
                   "max", "Samples", "p90 bound", "p99 bound", "img/s", "Windows", "Spread (%)",
                   "CoV (%)", "Stable", "Machine"]


def tail_cell(res: PrecisionResult, name: str) -> str:
    """A tail percentile, or "n/a (N samples)" below its floor."""
    tail = res.tails.get(name)
    if tail is not None and not tail.reported:
        return na_text(tail)
    return ms(getattr(res.latency_ms, name)) if res.latency_ms else "-"


def bound_cell(res: PrecisionResult, name: str) -> str:
    tail = res.tails.get(name)
    return "-" if tail is None or tail.upper_bound_ms is None else ms(tail.upper_bound_ms)


def max_cov(res: PrecisionResult) -> float | None:
    known = [c for c in res.window_cov if c is not None]
    return max(known) if known else None


def cov_cell(res: PrecisionResult) -> str:
    c = max_cov(res)
    if c is None:
        return "-"
    return f"{c * 100:.1f}" + (" (> 1 %)" if c > COV_WARNING else "")


def samples_cell(res: PrecisionResult) -> str:
    tail = next(iter(res.tails.values()), None)
    return "-" if tail is None else str(tail.count)


def machine_cell(res: PrecisionResult) -> str:
    if not res.machine:
        return "-"
    busy = sum(r.busy for r in res.machine)
    return f"{BUSY} ({busy}/{len(res.machine)} windows)" if res.busy or busy else "quiet"


def percentile_table(report: BenchReport) -> list[list[str]]:
    body = []
    for row in report.rows:
        for p, res in row.results.items():
            lat, st = res.latency_ms, res.stability
            body.append([
                row.model, str(row.batch_size), p, res.runner,
                *(ms(getattr(lat, k)) if lat else "-" for k in ("min", "mean", "p50")),
                tail_cell(res, "p90"), tail_cell(res, "p99"),
                ms(lat.max) if lat else "-", samples_cell(res),
                bound_cell(res, "p90"), bound_cell(res, "p99"),
                "-" if res.throughput_ips is None else f"{res.throughput_ips:.1f}",
                f"{st.used_windows}/{st.windows}" if st else "-",
                f"{st.spread * 100:.1f}" if st else "-",
                cov_cell(res),
                ("yes" if st.stable else f"no ({st.reason})") if st else "-",
                machine_cell(res),
            ])
    return body


def busy_summary(res: PrecisionResult) -> str:
    """Why the busiest window was busy (the one where other processes took the most)."""
    busy = [r for r in res.machine if r.busy]
    if not busy:
        return ""
    worst = max(busy, key=lambda r: (r.other_cores or 0.0, r.load1 or 0.0))
    return "; ".join(worst.reasons)


def machine_lines(report: BenchReport) -> list[str]:
    """Per row and precision: the worst reading over its windows, and why it was busy."""
    lines = []
    for row in report.rows:
        for p, res in row.results.items():
            if not res.machine:
                continue
            def worst(attr: str) -> str:
                vals = [getattr(r, attr) for r in res.machine if getattr(r, attr) is not None]
                return "-" if not vals else f"{max(vals):.2f}"
            text = (f"- {row.model} b{row.batch_size} {p}: "
                    f"{sum(r.busy for r in res.machine)}/{len(res.machine)} windows busy; "
                    f"load1 max {worst('load1')}, other processes max {worst('other_cores')} "
                    f"cores, steal max {worst('steal_share')}")
            mhz = [r.cpu_mhz[1] for r in res.machine if r.cpu_mhz]
            if mhz:
                text += f", CPU {min(mhz):.0f}-{max(mhz):.0f} MHz"
            gpus = res.machine[-1].gpus
            for g in gpus:
                text += (f"; GPU {g.name or g.bus_id}: SM {g.sm_clock_mhz} MHz, memory "
                         f"{g.mem_clock_mhz} MHz, {g.power_draw_w} W, persistence "
                         f"{g.persistence_mode}, reasons {', '.join(g.clock_event_reasons) or '-'}")
            if busy_summary(res):
                text += f" (worst window: {busy_summary(res)})"
            lines.append(text)
    return lines


BACKEND_HEAD = ["Model", "Precision", "Backend", "top-1/top-5 (%)", "p50 (ms)", "p90 (ms)",
                "vs Paddle (x)", "vs own FP32 (x)", "Stable", "Fastest"]
FASTEST = "fastest"


def has_backends(report: BenchReport) -> bool:
    return any(row.backends for row in report.rows)


def backend_table(report: BenchReport) -> list[list[str]]:
    """Every backend's variant beside Paddle's, per model, batch size and precision.
    vs Paddle = Paddle's p50 / this p50 at the same precision (above 1: faster than
    Paddle); vs own FP32 = the backend's own FP32 p50 / this p50."""
    def p50(res: PrecisionResult | None) -> float | None:
        return res.latency_ms.p50 if res and res.latency_ms and res.latency_ms.p50 > 0 else None

    def ratio(a: float | None, b: float | None) -> str:
        return "-" if a is None or b is None else f"{a / b:.2f}"

    body = []
    for row in report.rows:
        if not row.backends:
            continue
        own_fp32 = {r.backend: p50(r) for r in row.by_precision().get(BASELINE, [])}
        for precision, options in row.by_precision().items():
            paddle = p50(options[0]) if options[0].backend == "paddle" else None
            for res in options:
                lead = [model_label(row), precision, res.backend]
                if res.cannot_run:
                    body.append(lead + [f"cannot run: {res.cannot_run}"] + ["-"] * 6)
                    continue
                acc = ("latency only" if row.kind == "seeded" else "-") if res.top1 is None \
                    else f"{pct(res.top1)}/{pct(res.top5)}"
                st = res.stability
                body.append(lead + [
                    acc, ms(p50(res)) + (f" {BUSY}" if res.busy else ""), tail_cell(res, "p90"),
                    "-" if res.backend == "paddle" else ratio(paddle, p50(res)),
                    "-" if precision == BASELINE else ratio(own_fp32.get(res.backend), p50(res)),
                    ("yes" if st.stable else "no") if st else "-",
                    FASTEST if row.fastest.get(precision) == res.backend else ""])
    return body


PARITY_HEAD = ["Model", "Precision", "top-1 C++ (%)", "top-1 Python (%)", "predictions equal",
               "p50 C++ (ms)", "p50 Python (ms)", "difference (ms)", "noise (ms)", "agree"]


def parity_table(report: BenchReport) -> list[list[str]]:
    """The C++ demo and the python runner side by side, one row per model and precision."""
    body = []
    for c in report.parity:
        images = c.get("images")
        equal = (f"{images - len(c.get('differing') or [])}/{images}" if images
                 else "first" if c.get("first_batch_cpp") else "-")
        body.append([c["model"], c["precision"], pct(c.get("cpp_top1")),
                     pct(c.get("python_top1")), equal, ms(c.get("cpp_p50_ms")),
                     ms(c.get("python_p50_ms")),
                     f"{c['cpp_p50_ms'] - c['python_p50_ms']:+.3f}",
                     f"±{c['noise_ms']:.3f}", "yes" if c["passed"] else "NO"])
    return body


def _md_table(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def provenance_lines(prov: dict[str, Any]) -> list[str]:
    host, paddle, lib = prov.get("host") or {}, prov.get("paddle") or {}, prov.get("library") or {}
    tool, data = prov.get("tool") or {}, prov.get("dataset") or {}
    gpus = prov.get("gpu") or []
    sw = prov.get("software") or {}
    lines = [
        f"- Host: {host.get('hostname', '?')}, {host.get('os', '?')}, CPU "
        f"{host.get('cpu_model', '?')} ({host.get('cores', '?')} cores"
        + (f"; INT8 ISA {', '.join(host['int8_isa'])}" if host.get("int8_isa") else "") + ")",
        "- GPU: " + (", ".join(str(g.get("name")) for g in gpus) if gpus else "none"),
        f"- Driver {sw.get('driver') or '-'}, CUDA {sw.get('cuda') or '-'}, "
        f"cuDNN {sw.get('cudnn') or '-'}, TensorRT {sw.get('tensorrt') or '-'}",
        f"- Paddle {paddle.get('version', '?')} (commit {str(paddle.get('commit') or '?')[:10]})",
        f"- Library: {lib.get('path') or 'none (python runner on the wheel)'}"
        + (f", version.txt sha256 {lib['version_sha256'][:16]}" if lib.get("version_sha256")
           else ""),
        f"- Dataset: {data.get('path', '-')} ({data.get('images', '?')} images, "
        f"sha256 {str(data.get('sha256') or '-')[:16]})",
        f"- Tool: paddle-trt-lab {tool.get('version', '?')}, "
        f"git {str(tool.get('git_commit') or '-')[:10]}"
        + (" (uncommitted changes)" if tool.get("git_dirty") else ""),
    ]
    speed = prov.get("machine_speed") or {}
    if speed.get("start_ms"):
        lines.append(f"- Machine speed: {speed['start_ms']:.3f} ms at the start, "
                     f"{speed.get('end_ms') or 0:.3f} ms at the end ({speed.get('probe', '')})")
    for name, models in (prov.get("models") or {}).items():
        shas = ", ".join(f"{p} {str(s)[:16]}" for p, s in models.items())
        lines.append(f"- Model {name}: {shas}")
    return lines


def used(report: BenchReport, attr: str) -> list[str]:
    """The devices or runners that actually ran (the request may say "auto")."""
    return sorted({getattr(res, attr) for row in report.rows for res in row.results.values()
                   if getattr(res, attr)})


def markdown(report: BenchReport) -> str:
    req = report.request
    parts = [f"# Bench {report.created_at}", ""]
    parts.append(_md_table(*main_table(report)))
    parts.append("")
    if any(r.kind == "seeded" for r in report.rows):
        parts += ["\\* seeded weights (the tutorial's architecture, untrained): latency only.", ""]
    parts.append("Speed-up = FP32 p50 / INT8 p50; latency reduction = 1 - INT8 p50 / FP32 p50 "
                 "(the tutorial's \"speed-up\" column is this reduction).")
    parts += ["", "## Latency percentiles (ms per batch)", "",
              _md_table(PERCENTILE_HEAD, percentile_table(report)), "",
              f"Device {', '.join(used(report, 'device')) or req.get('device')}, runner "
              f"{', '.join(used(report, 'runner')) or req.get('runner')}, "
              f"{req.get('repeats')} timed runs per window after {req.get('warmup')} warm-up; "
              f"stable = the p50 of {report.rule.windows} consecutive windows within "
              f"{report.rule.tolerance * 100:.0f} % (time budget "
              f"{report.rule.time_budget_s:g} s per model); "
              "FP32 and INT8 windows interleaved (ABBA). Statistics of the last windows.",
              "",
              f"Tails: p90 is reported from {FLOORS['p90']} samples, p99 from {FLOORS['p99']} "
              "(MLPerf LoadGen's floors), else \"n/a (N samples)\"; Samples = what each "
              "percentile rests on (the smallest used window when the runner keeps no "
              f"samples); bound = the {CONFIDENCE * 100:g} % upper confidence bound "
              "(order statistic). CoV: per window, trtexec's 1 % rule as the warning."]
    machine = machine_lines(report)
    if machine:
        br = report.busy_rule
        parts += ["", "## Machine state per window", "", *machine, "",
                  f"Busy = other processes above {br.other_cores:g} cores, CPU steal above "
                  f"{br.steal_share * 100:g} %, 1-minute load above {br.load_per_core:g} per "
                  "core, or a GPU slowdown, averaged over the window; a row is busy when one "
                  "of its used windows is. A busy number is not a measurement of this "
                  "machine's speed: rerun on a quiet machine."]
    if has_backends(report):
        parts += ["", "## Backends on the same files, inputs and timer", "",
                  _md_table(BACKEND_HEAD, backend_table(report)), "",
                  "Every backend's windows are interleaved with Paddle's in the same rounds "
                  "(same sample set, warm-up, timer scope and stability rule), on the CPU. "
                  "vs Paddle = Paddle's p50 / this p50 at the same precision (above 1: faster "
                  "than Paddle); vs own FP32 = the backend's FP32 p50 / this p50; fastest = "
                  "the lowest p50 at that precision. A backend that cannot run a model says "
                  "why instead of numbers."]
    if report.parity:
        parts += ["", "## C++ demo and Python runner side by side", "",
                  _md_table(PARITY_HEAD, parity_table(report)), "",
                  "Same models and dataset through both runners; predictions and top-1 must "
                  "agree exactly (gate parity); latency-only (seeded) models compare the first "
                  "batch's predictions (\"first\"). The noise is half the spread of each runner's "
                  "window p50s, the larger of the two: a difference inside it is no difference."]
    if report.gates:
        parts += ["", "## Gates", ""]
        parts += [f"- {'PASS' if g.passed else 'FAIL'} {g.name} (threshold {g.threshold:g}): "
                  f"{g.detail}" for g in report.gates]
    if report.comparison:
        parts += ["", f"## Change against {report.comparison.old_file}", "",
                  _md_table(COMPARE_HEAD, compare_table(report.comparison))]
        moved = report.comparison.machine_speed_change_pct
        if moved is not None:
            parts.append(f"- the machine's own speed (provenance.machine_speed): {moved:+.1f} % "
                         "against the old run (+ = slower); beyond ±10 % every row is not "
                         "comparable")
        for key, (old, new) in report.comparison.context_changes.items():
            parts.append(f"- {key} changed: {old} -> {new}")
    if report.notes:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    parts += ["", "## Provenance", ""] + provenance_lines(report.provenance) + [""]
    return "\n".join(parts)


COMPARE_HEAD = ["Model", "Batch", "Precision", "p50 old", "p50 new", "change (%)", "noise (%)",
                "verdict", "top-1 old", "top-1 new", "change (pts)", "speed-up old",
                "speed-up new"]


def noise_cell(r) -> str:
    """'±1.8 within-run' or '±7.1 run-to-run (4 runs)': which estimate set the noise."""
    if r.noise_pct is None:
        return "-"
    if r.run_to_run_pct is not None and r.run_to_run_pct >= (r.within_run_pct or 0):
        return f"±{r.noise_pct:.1f} run-to-run ({r.history_runs} runs)"
    return f"±{r.noise_pct:.1f} within-run"


def compare_table(cmp: Comparison) -> list[list[str]]:
    def num(v, f="{:.2f}"):
        return "-" if v is None else f.format(v)
    return [[r.model, str(r.batch_size), r.precision, ms(r.old_p50_ms), ms(r.new_p50_ms),
             num(r.p50_change_pct, "{:+.1f}"), noise_cell(r),
             (r.verdict or "-") + (f" ({'/'.join(r.busy)})" if r.busy else ""),
             pct(r.old_top1), pct(r.new_top1), num(r.top1_change_pts, "{:+.2f}"),
             num(r.old_speedup), num(r.new_speedup)] for r in cmp.rows]


CSV_FIELDS = ["model", "kind", "batch_size", "precision", "device", "runner", "top1", "top5",
              "images", "min_ms", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms",
              "throughput_ips", "stable", "stop_reason", "windows", "spread", "speedup",
              "latency_reduction_pct", "top1_drop_pts", "model_sha256",
              "samples", "p90_upper_ms", "p99_upper_ms", "busy"]


def csv_text(report: BenchReport) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        for p, res in row.results.items():
            lat, st = res.latency_ms, res.stability
            writer.writerow({
                "model": row.model, "kind": row.kind, "batch_size": row.batch_size,
                "precision": p, "device": res.device, "runner": res.runner,
                "top1": res.top1, "top5": res.top5, "images": res.images,
                **{f"{k}_ms": (getattr(lat, k) if lat else None)
                   for k in ("min", "mean", "p50", "p90", "p99", "max")},
                "throughput_ips": res.throughput_ips,
                "stable": st.stable if st else None, "stop_reason": st.reason if st else None,
                "windows": st.windows if st else None, "spread": st.spread if st else None,
                "speedup": row.speedup.get(p), "latency_reduction_pct": row.reduction_pct.get(p),
                "top1_drop_pts": row.top1_drop_pts.get(p), "model_sha256": res.model_sha256,
                "samples": res.tails["p90"].count if "p90" in res.tails else None,
                **{f"{k}_upper_ms": res.tails[k].upper_bound_ms if k in res.tails else None
                   for k in FLOORS},
                "busy": res.busy,
            })
    for row in report.rows:
        for key, res in row.backends.items():
            lat = res.latency_ms
            writer.writerow({
                "model": row.model, "kind": row.kind, "batch_size": row.batch_size,
                "precision": res.precision, "device": res.device, "runner": key.split(":")[0],
                "top1": res.top1, "top5": res.top5, "images": res.images,
                **{f"{k}_ms": (getattr(lat, k) if lat else None)
                   for k in ("min", "mean", "p50", "p90", "p99", "max")},
                "stable": res.stability.stable if res.stability else None,
                "stop_reason": res.cannot_run or (res.stability.reason if res.stability
                                                  else None),
                "model_sha256": res.model_sha256, "busy": res.busy})
    for c in report.parity:     # the python runner's column, one row per model and precision
        writer.writerow({"model": c["model"], "precision": c["precision"], "runner": "python",
                         "top1": c.get("python_top1"), "images": c.get("images"),
                         "p50_ms": c.get("python_p50_ms")})
    return out.getvalue()


def finite(value: Any) -> Any:
    """JSON has no NaN/Infinity: non-finite floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value
