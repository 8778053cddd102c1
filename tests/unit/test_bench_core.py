"""Pure parts of `invoke bench`: interleaving, stability rule, gates, compare, report files."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import statistics

import pytest

from toolchain.bench.compare import CHANGE, NOISE, NOT_COMPARABLE, compare, load_report
from toolchain.bench.gates import evaluate
from toolchain.bench.files import write_files
from toolchain.bench.report import BenchReport, csv_text, main_table, markdown
from toolchain.bench.rows import BenchRow, PrecisionResult
from toolchain.bench.run import combine_windows, parse_request
from toolchain.bench.schedule import groups, plan, round_order
from toolchain.bench.tails import (FLOORS, INTERPOLATED, ORDER_STATISTIC, cov, na_text,
                                   quantile_curve, tail_from_samples, upper_rank)
from toolchain.bench.stability import (MAX_ROUNDS, STABLE, TIME_BUDGET, Stability,
                                       StabilityRule, is_stable, measure_interleaved, spread)
from toolchain.errors import LabError
from toolchain.doctor.machine import MachineReading
from toolchain.runners.result import LatencyStats, RunResult


# ---- schedule -------------------------------------------------------------------------

def test_round_order_alternates_abba():
    assert round_order(["fp32", "int8"], 0) == ["fp32", "int8"]
    assert round_order(["fp32", "int8"], 1) == ["int8", "fp32"]
    assert round_order(["fp32", "int8"], 2) == ["fp32", "int8"]


def test_plan_interleaves_within_each_group_and_balances_positions():
    windows = plan(["a", "b"], ["fp32", "int8"], [1, 4], rounds=4)
    assert len(windows) == 2 * 2 * 4 * 2
    assert [(g.model, g.batch_size) for g in groups(["a", "b"], [1, 4])] == \
        [("a", 1), ("a", 4), ("b", 1), ("b", 4)]
    for (model, bs), ws in itertools.groupby(windows, key=lambda w: (w.model, w.batch_size)):
        ws = list(ws)
        seq = [w.precision for w in ws]
        # never more than two of one precision in a row, and each goes first equally often
        assert all(len(list(g)) <= 2 for _, g in itertools.groupby(seq))
        firsts = [ws[i].precision for i in range(0, len(ws), 2)]
        assert firsts.count("fp32") == firsts.count("int8")
    with pytest.raises(ValueError):
        plan(["a"], ["fp32"], [1], rounds=0)


def test_drift_hits_both_precisions_alike():
    # a linear drift of +1 ms per window: with ABBA both sides get the same mean drift
    windows = plan(["m"], ["fp32", "int8"], [1], rounds=4)
    drift = {"fp32": [], "int8": []}
    for i, w in enumerate(windows):
        drift[w.precision].append(i)
    assert sum(drift["fp32"]) == sum(drift["int8"])


# ---- stability ------------------------------------------------------------------------

def test_spread_and_is_stable():
    rule = StabilityRule(windows=3, tolerance=0.05)
    assert spread([10.0, 10.2, 10.4]) == pytest.approx(0.4 / 10.2)
    assert is_stable([50.0, 10.0, 10.2, 10.4], rule)       # only the last three count
    assert not is_stable([10.0, 10.2], rule)               # too few windows
    assert not is_stable([10.0, 11.0, 10.0], rule)         # 10 % spread


class FakeClock:
    def __init__(self, step: float):
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def _runner(series: dict[str, list[float]]):
    """measure(precision) returning the next p50 of a scripted series per precision."""
    its = {p: iter(v) for p, v in series.items()}
    calls = []

    def measure(precision):
        calls.append(precision)
        return next(its[precision])
    return measure, calls


def test_measure_interleaved_stops_when_every_precision_is_stable():
    measure, calls = _runner({"fp32": [30, 12, 10, 10.1, 10.2, 99],
                              "int8": [9, 5, 5.0, 5.05, 5.1, 99]})
    results, out = measure_interleaved(measure, float, ["fp32", "int8"],
                                       StabilityRule(windows=3, tolerance=0.05),
                                       clock=FakeClock(0.001))
    assert calls == ["fp32", "int8", "int8", "fp32", "fp32", "int8", "int8", "fp32",
                     "fp32", "int8"]
    assert out["fp32"].reason == STABLE and out["fp32"].stable and out["int8"].stable
    assert out["fp32"].windows == 5 and out["fp32"].used_windows == 3
    assert results["fp32"][-3:] == [10, 10.1, 10.2]
    assert out["fp32"].spread == pytest.approx(0.2 / 10.1)


def test_measure_interleaved_reports_time_budget_when_never_stable():
    noisy = [10, 20] * 50
    measure, calls = _runner({"fp32": noisy, "int8": noisy})
    _, out = measure_interleaved(measure, float, ["fp32", "int8"],
                                 StabilityRule(time_budget_s=5, max_rounds=50),
                                 clock=FakeClock(1.0))
    assert out["fp32"].reason == TIME_BUDGET and not out["fp32"].stable
    assert out["fp32"].spread > 0.05
    assert 0 < len(calls) < 100


def test_measure_interleaved_max_rounds():
    noisy = [10, 20] * 50
    measure, calls = _runner({"fp32": noisy})
    _, out = measure_interleaved(measure, float, ["fp32"],
                                 StabilityRule(max_rounds=4, time_budget_s=1e9),
                                 clock=FakeClock(0.0))
    assert out["fp32"].reason == MAX_ROUNDS and len(calls) == 4


# ---- rows, gates ----------------------------------------------------------------------

def _stats(p50: float) -> LatencyStats:
    return LatencyStats.from_samples([p50 * f for f in (0.9, 0.95, 1.0, 1.0, 1.0, 1.1, 1.3)])


def _row(model, fp32_ms, int8_ms, fp32_top1=None, int8_top1=None, kind="trained", bs=1):
    def res(p, ms, top1):
        return PrecisionResult(precision=p, model_dir=f"/m/{model}/{p}", model_sha256="ab" * 32,
                               runner="python", device="cpu", threads=2,
                               latency_ms=_stats(ms), throughput_ips=1000 / ms,
                               top1=top1, top5=None if top1 is None else min(1, top1 + 0.1),
                               images=None if top1 is None else 200)
    return BenchRow(model, kind, "", bs, {"fp32": res("fp32", fp32_ms, fp32_top1),
                                           "int8": res("int8", int8_ms, int8_top1)}).derive()


def test_row_derives_speedup_reduction_and_drop():
    row = _row("ResNet50", 4.960, 2.014, 0.7650, 0.7627)   # the tutorial's P4 line
    assert row.speedup["int8"] == pytest.approx(2.46, abs=0.01)
    assert row.reduction_pct["int8"] == pytest.approx(59.39, abs=0.01)
    assert row.top1_drop_pts["int8"] == pytest.approx(0.23)


def test_gates_pass_and_fail():
    rows = [_row("small", 2.0, 1.0, 0.80, 0.795), _row("MobileNetV1", 6.0, 2.0, kind="seeded")]
    ok = evaluate(rows, top1_drop=1.0, speedup=1.5)
    assert [g.passed for g in ok] == [True, True]
    assert len(ok[0].checks) == 1 and len(ok[1].checks) == 2   # seeded: latency only
    bad = evaluate(rows, top1_drop=0.1, speedup=2.5)
    assert [g.passed for g in bad] == [False, False]
    assert "small" in bad[0].detail and "small" in bad[1].detail
    assert "MobileNetV1" not in bad[1].detail                  # 3.0 x passes 2.5
    nothing = evaluate([_row("MobileNetV1", 6.0, 2.0, kind="seeded")], top1_drop=1.0)
    assert not nothing[0].passed and "nothing to check" in nothing[0].detail
    assert evaluate(rows) == []


def test_combine_windows_pools_samples_or_takes_medians():
    def rr(samples, keep):
        return RunResult(kind="latency", runner="python", model="m", model_dir="/m",
                         device="cpu", precision="fp32", batch_size=1, threads=1,
                         latency_ms=LatencyStats.from_samples(samples),
                         throughput_ips=1000 / sorted(samples)[len(samples) // 2],
                         raw={"samples_ms": samples} if keep else {})
    wins = [[1.0, 2.0, 3.0], [2.0, 3.0, 4.0], [3.0, 4.0, 5.0]]
    pooled, _, tails = combine_windows([rr(s, True) for s in wins])
    assert pooled.count == 9 and pooled.p50 == 3.0 and pooled.max == 5.0
    # 9 samples: below both floors, so neither tail is a number
    assert pooled.p90 is None and pooled.p99 is None
    assert tails["p90"].count == 9 and tails["p90"].value_ms is None
    med, tps, tails = combine_windows([rr(s, False) for s in wins])
    assert med.count == 9 and med.p50 == 3.0 and med.min == 2.0 and tps == pytest.approx(1000 / 3)
    assert tails["p99"].count == 3          # medians of windows: the smallest window counts


def test_combine_windows_reports_tails_at_their_floor():
    def rr(n, keep):
        samples = [1.0 + i / n for i in range(n)]          # 1.0 .. 2.0, evenly
        return RunResult(kind="latency", runner="python", model="m", model_dir="/m",
                         device="cpu", precision="fp32", batch_size=1, threads=1,
                         latency_ms=LatencyStats.from_samples(samples), throughput_ips=1.0,
                         raw={"samples_ms": samples} if keep else {})
    stats, _, tails = combine_windows([rr(100, True)])
    assert stats.p90 == pytest.approx(1.891) and stats.p99 is None       # 100 >= 64, < 662
    assert tails["p90"].upper_bound_ms > stats.p90 and tails["p90"].method == ORDER_STATISTIC
    stats, _, tails = combine_windows([rr(700, False), rr(700, False)])
    assert stats.p99 is not None and tails["p99"].count == 700
    # no samples kept: the bound read off the percentile curve, between p99 and max
    assert stats.p99 < tails["p99"].upper_bound_ms <= stats.max
    assert tails["p99"].method == INTERPOLATED


def test_window_repeats_stretch_short_windows():
    from toolchain.bench.run import BenchRequest, window_repeats

    req = BenchRequest(repeats=30, min_window_s=0.5, time_budget_s=4)
    assert window_repeats(50.0, req) == 30          # 30 x 50 ms is long enough
    assert window_repeats(5.0, req) == 100          # 0.5 s / 5 ms
    assert window_repeats(0.1, req) == 662          # 600 (20 x repeats) raised to p99's floor
    assert window_repeats(0.0, req) == 30


def test_window_repeats_reach_the_tail_floors_when_the_budget_allows():
    from toolchain.bench.run import BenchRequest, window_repeats

    # 3 windows x 2 precisions must fit half the budget: 60 s -> 5 s per window
    req = BenchRequest(repeats=30, min_window_s=0.5, time_budget_s=60)
    assert window_repeats(5.0, req) == 662          # 662 x 5 ms = 3.3 s
    assert window_repeats(50.0, req) == 64          # p99 would take 33 s; p90's floor fits
    assert window_repeats(100.0, req) == 30         # not even 64 x 100 ms fits


# ---- request parsing ------------------------------------------------------------------

def test_parse_request_accepts_and_rejects():
    req = parse_request(models="a,b", precisions="FP32,int8", batch_sizes="1,8,1",
                        repeats="20", time_budget="30", gate_top1_drop="1",
                        gate_speedup="1.5")
    assert (req.models, req.precisions, req.batch_sizes) == (["a", "b"], ["fp32", "int8"], [1, 8])
    assert (req.repeats, req.time_budget_s, req.gate_top1_drop, req.gate_speedup) == \
        (20, 30.0, 1.0, 1.5)
    for kwargs, text in [({"precisions": "fp32,int4"}, "int4"),
                         ({"batch_sizes": "1,x"}, "batch-sizes"),
                         ({"batch_sizes": "0"}, "batch-sizes"),
                         ({"runner": "java"}, "runner"),
                         ({"repeats": "0"}, "repeats"),
                         ({"gate_speedup": "0"}, "gate-speedup"),
                         ({"precisions": "int8", "gate_speedup": "2"}, "fp32")]:
        with pytest.raises(LabError) as err:
            parse_request(**kwargs)
        assert text in err.value.message and err.value.hint


# ---- report and compare ---------------------------------------------------------------

def _report(rows, **kw) -> BenchReport:
    from toolchain.bench.run import BenchRequest
    req = BenchRequest(device="cpu", runner="python")
    return BenchReport(created_at="2026-11-26T12:00:00Z", out_dir="", request=req.to_dict(),
                       rule=req.rule(), rows=rows,
                       provenance={"host": {"hostname": "h", "cpu_model": "AMD EPYC", "cores": 2},
                                   "paddle": {"version": "3.3.1"},
                                   "tool": {"version": "0.1.0", "git_commit": "abc"}}, **kw)


def test_markdown_is_the_tutorial_table_plus_percentiles():
    rep = _report([_row("small", 2.0, 1.0, 0.80, 0.79), _row("ResNet50", 40, 10, kind="seeded")])
    head, body = main_table(rep)
    assert head == ["Model", "FP32 top-1/top-5 (%)", "INT8 top-1/top-5 (%)", "FP32 p50 (ms)",
                    "INT8 p50 (ms)", "INT8 speed-up (x)", "INT8 latency reduction (%)"]
    assert body[0] == ["small", "80.00/90.00", "79.00/89.00", "2.000", "1.000", "2.00", "50.0"]
    assert body[1] == ["ResNet50 *", "latency only", "latency only", "40.000", "10.000",
                       "4.00", "75.0"]
    md = markdown(rep)
    assert "| small | 80.00/90.00 | 79.00/89.00 |" in md
    assert "## Latency percentiles" in md and "p90" in md and "## Provenance" in md
    rows = list(csv.DictReader(io.StringIO(csv_text(rep))))
    assert len(rows) == 4 and rows[1]["precision"] == "int8"
    assert float(rows[1]["speedup"]) == pytest.approx(2.0)


def test_write_files_writes_all_four_atomically(tmp_path):
    rep = _report([_row("small", 2.0, 1.0, 0.80, 0.79), _row("ResNet50", 40, 10, kind="seeded")])
    rep.rows[0].results["fp32"].stability = None
    files = write_files(rep, tmp_path / "out")
    assert sorted(files) == ["csv", "json", "md", "png"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == \
        ["bench.csv", "bench.json", "bench.md", "bench.png"]
    assert (tmp_path / "out" / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert data["rows"][0]["speedup"]["int8"] == pytest.approx(2.0)
    assert data["files"]["png"].endswith("bench.png")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no staging left


def test_compare_rows_and_context(tmp_path):
    old = _report([_row("small", 2.0, 1.0, 0.80, 0.79), _row("gone", 1, 1)]).to_dict()
    new_rep = _report([_row("small", 2.2, 1.0, 0.80, 0.80), _row("added", 1, 1)])
    new_rep.provenance["paddle"]["version"] = "3.3.2"
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    cmp = compare(new_rep.to_dict(), load_report(path), old_file=str(path))
    by = {(r.model, r.precision): r for r in cmp.rows}
    assert by[("small", "fp32")].p50_change_pct == pytest.approx(10.0)
    assert by[("small", "int8")].top1_change_pts == pytest.approx(1.0)
    assert by[("small", "int8")].old_speedup == pytest.approx(2.0)
    assert by[("small", "int8")].new_speedup == pytest.approx(2.2)
    assert by[("gone", "fp32")].status == "only old" and by[("added", "int8")].status == "only new"
    assert cmp.context_changes == {"paddle.version": ["3.3.1", "3.3.2"]}


def test_load_report_rejects_bad_files(tmp_path):
    with pytest.raises(LabError, match="does not exist"):
        load_report(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(LabError, match="cannot read"):
        load_report(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("{}")
    with pytest.raises(LabError, match="not a bench result"):
        load_report(tmp_path / "y.json")


def test_screen_rendering_fits_80_columns_and_shows_gates_and_change():
    from rich.console import Console

    from toolchain.bench.render import render_report

    old = _report([_row("small_cnn", 2.0, 1.0, 0.80, 0.79)]).to_dict()
    rep = _report([_row("small_cnn", 2.2, 1.0, 0.80, 0.80),
                   _row("mobilenet_v2", 3.3, 1.9, kind="seeded")])
    rep.gates = evaluate(rep.rows, top1_drop=1.0, speedup=2.0)
    rep.comparison = compare(rep.to_dict(), old, old_file="old/bench.json")
    rep.files = {"json": "/r/bench.json", "md": "/r/bench.md"}
    con = Console(width=80, record=True, color_system=None)
    render_report(con, rep)
    text = con.export_text()
    rows = [line.split() for line in text.splitlines()]
    assert ["small_cnn", "80.0/90.0", "80.0/90.0", "2.200", "1.000", "2.20", "54.5"] in rows
    assert "mobilenet_v2 *" in text and "n/a" in text
    assert "PASS gate top1-drop" in text and "FAIL gate speedup" in text
    assert "Change against old/bench.json" in text and "2.000 -> 2.200  +10.0%" in text
    assert "only new" in text
    assert "/r/bench.json" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_parity_gate_and_the_side_by_side_table():
    from rich.console import Console

    from toolchain.bench.render import render_report
    from toolchain.bench.run import _disagreements, parity_gate

    assert _disagreements([1, 2, 3], [1, 2, 3]) == []
    assert _disagreements([1, 2, 3], [1, 0, 3]) == [1]
    assert _disagreements([1, 2], [1, 2, 3]) == [2]     # a missing prediction differs
    same = {"model": "small_cnn", "precision": "fp32", "passed": True, "value": 0.0,
            "cpp_top1": 0.5, "python_top1": 0.5, "images": 4, "differing": [],
            "cpp_p50_ms": 2.0, "python_p50_ms": 1.5, "noise_ms": 0.25}
    assert parity_gate([same]).passed
    bad = {**same, "precision": "int8", "passed": False, "differing": [3],
           "why": "1 of 4 predictions differ"}
    gate = parity_gate([same, bad])
    assert not gate.passed and "small_cnn int8: 1 of 4 predictions differ" in gate.detail
    assert not parity_gate([]).passed                    # nothing checked is no pass

    rep = _report([_row("small_cnn", 2.0, 1.0, 0.5, 0.5)], parity=[same, bad])
    md = markdown(rep)
    assert "## C++ demo and Python runner side by side" in md
    assert "| small_cnn | fp32 | 50.00 | 50.00 | 4/4 | 2.000 | 1.500 | +0.500 | ±0.250 | yes |" \
        in md
    assert "| small_cnn | int8 | 50.00 | 50.00 | 3/4 |" in md and "| NO |" in md
    csv_rows = list(csv.DictReader(io.StringIO(csv_text(rep))))
    assert len(csv_rows) == 4           # the bench rows, then the python runner's column
    assert [(r["runner"], r["precision"], float(r["p50_ms"])) for r in csv_rows[2:]] == \
        [("python", "fp32", 1.5), ("python", "int8", 1.5)]
    con = Console(width=80, record=True, color_system=None)
    render_report(con, rep)
    text = con.export_text()
    assert "C++ demo and Python runner side by side" in text
    assert ["small_cnn", "fp32", "50.0", "50.0", "4/4", "2.000", "1.500", "+0.500", "±0.250",
            "yes"] in [line.split() for line in text.splitlines()]
    assert max(len(line) for line in text.splitlines()) <= 80


# ---- tails ----------------------------------------------------------------------------

def _exact_upper_rank(n, q, confidence):
    """The definition, summed with exact integers: smallest k with P(Bin(n, q) <= k-1) >= c."""
    from fractions import Fraction
    qf = Fraction(q).limit_denominator(1000)
    total = Fraction(0)
    for k in range(1, n + 1):
        total += math.comb(n, k - 1) * qf ** (k - 1) * (1 - qf) ** (n - k + 1)
        if total >= confidence:
            return k
    return None


@pytest.mark.parametrize("n,q", [(44, 0.9), (64, 0.9), (100, 0.9), (300, 0.9),
                                 (459, 0.99), (662, 0.99), (700, 0.99)])
def test_upper_rank_is_the_binomial_order_statistic(n, q):
    assert upper_rank(n, q, 0.99) == _exact_upper_rank(n, q, 0.99)


def test_upper_rank_at_the_floors():
    assert upper_rank(43, 0.9) is None              # even the maximum is no 99 % bound
    assert upper_rank(FLOORS["p90"], 0.9) == 63
    assert upper_rank(FLOORS["p99"], 0.99) == 661
    assert upper_rank(100000, 0.99) > 99000


def test_tail_below_and_at_its_floor():
    samples = [float(i) for i in range(1, 101)]
    short = tail_from_samples("p99", samples, 99.0)
    assert (short.value_ms, short.upper_bound_ms, short.count) == (None, None, 100)
    assert na_text(short) == "n/a (100 samples)"
    p90 = tail_from_samples("p90", samples, 90.1)
    assert p90.value_ms == 90.1 and p90.upper_rank == upper_rank(100, 0.9)
    assert p90.upper_bound_ms == float(p90.upper_rank)     # the k-th smallest sample


def test_quantile_curve_and_cov():
    pts = {0.0: 1.0, 0.5: 2.0, 0.9: 4.0, 1.0: 10.0}
    assert quantile_curve(pts, 0.7) == pytest.approx(3.0)
    assert quantile_curve(pts, 0.95) == pytest.approx(7.0)
    assert quantile_curve(pts, 1.5) == 10.0
    assert cov([10.0, 10.0, 10.0]) == 0.0
    assert cov([9.0, 11.0]) == pytest.approx(math.sqrt(2) / 10)
    assert cov([1.0]) is None


# ---- noise and busy in compare and the tables ------------------------------------------

def _with_spread(rep, spread, busy=False):
    for row in rep.rows:
        for res in row.results.values():
            res.stability = Stability(True, STABLE, 3, 3, [1.0, 1.0, 1.0], spread)
            res.busy = busy
    return rep


def test_compare_calls_a_difference_within_both_runs_noise_noise():
    old = _with_spread(_report([_row("small", 2.0, 1.0)]), 0.04).to_dict()
    # +3 %: within (4 % + 4 %) / 2 = 4 %
    new = _with_spread(_report([_row("small", 2.06, 1.0)]), 0.04).to_dict()
    by = {r.precision: r for r in compare(new, old).rows}
    assert by["fp32"].noise_pct == pytest.approx(4.0)
    assert by["fp32"].verdict == NOISE and by["fp32"].within_noise
    # +10 %: outside
    new = _with_spread(_report([_row("small", 2.2, 1.0)]), 0.04).to_dict()
    assert {r.precision: r for r in compare(new, old).rows}["fp32"].verdict == CHANGE


def test_run_to_run_noise_needs_three_earlier_runs_and_is_their_scatter():
    from toolchain.bench.compare import run_to_run_noise_pct

    assert run_to_run_noise_pct([2.0, 2.2]) is None
    p50s = [2.0, 2.2, 2.1]
    logs = [math.log(x) for x in p50s]
    mean = sum(logs) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / 2)
    assert run_to_run_noise_pct(p50s) == pytest.approx(2 * math.sqrt(2) * sd * 100)
    assert run_to_run_noise_pct([2.0, 2.0, 2.0]) == 0.0


def test_compare_widens_the_noise_with_comparable_earlier_runs(tmp_path):
    """Two runs with 1 % window spreads, 8 % apart: a change on their own noise, noise once
    three earlier runs of this machine scattered as much; runs of another host, or rows
    measured busy, do not count."""
    from toolchain.bench.compare import load_history
    from toolchain.bench.report import compare_table

    old = _with_spread(_report([_row("small", 2.0, 1.0)]), 0.01).to_dict()
    new = _with_spread(_report([_row("small", 2.16, 1.0)]), 0.01).to_dict()
    alone = {r.precision: r for r in compare(new, old).rows}["fp32"]
    assert alone.verdict == CHANGE and alone.run_to_run_pct is None
    assert alone.noise_pct == pytest.approx(1.0) == alone.within_run_pct

    for i, p50 in enumerate((2.0, 2.2, 2.05)):
        earlier = _with_spread(_report([_row("small", p50, 1.0)]), 0.01)
        (tmp_path / f"r{i}").mkdir()
        (tmp_path / f"r{i}" / "bench.json").write_text(json.dumps(earlier.to_dict()))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "bench.json").write_text("{not json")
    other = _with_spread(_report([_row("small", 9.0, 1.0)]), 0.01)
    other.provenance["host"]["hostname"] = "elsewhere"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "bench.json").write_text(json.dumps(other.to_dict()))
    busy = _with_spread(_report([_row("small", 9.0, 1.0)]), 0.01, busy=True)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "bench.json").write_text(json.dumps(busy.to_dict()))

    history = load_history(tmp_path)
    assert len(history) == 5                    # the broken file skipped
    cmp = compare(new, old, history=history)
    row = {r.precision: r for r in cmp.rows}["fp32"]
    assert row.history_runs == 3                # not the other host's, not the busy one
    assert row.run_to_run_pct == pytest.approx(
        2 * math.sqrt(2) * statistics.stdev(math.log(x) for x in (2.0, 2.2, 2.05)) * 100)
    assert row.noise_pct == row.run_to_run_pct > 8.0
    assert row.verdict == NOISE
    cells = {r[2]: r[6] for r in compare_table(cmp)}
    assert cells["fp32"] == f"±{row.noise_pct:.1f} run-to-run (3 runs)"
    assert {r[2]: r[6] for r in compare_table(compare(new, old))}["fp32"] == "±1.0 within-run"


def test_compare_says_not_comparable_when_either_run_was_busy():
    old = _with_spread(_report([_row("small", 2.0, 1.0)]), 0.01, busy=True).to_dict()
    new = _with_spread(_report([_row("small", 1.2, 1.0)]), 0.01).to_dict()
    cmp = compare(new, old, old_file="old.json")
    row = {r.precision: r for r in cmp.rows}["fp32"]
    assert row.verdict == NOT_COMPARABLE and row.busy == ["old"]
    rep = _report([_row("small", 1.2, 1.0)], comparison=cmp)
    assert "not comparable: machine busy (old)" in markdown(rep)


def test_tables_mark_short_tails_and_busy_rows():
    rep = _report([_row("small", 2.0, 1.0, 0.8, 0.8)])
    res = rep.rows[0].results["int8"]
    res.tails = {"p90": tail_from_samples("p90", [1.0] * 70, 1.0),
                 "p99": tail_from_samples("p99", [1.0] * 70, 1.0)}
    res.busy = True
    res.machine = [MachineReading(seconds=1.0, cores=2, load1=0.5, other_cores=0.9,
                                  steal_share=0.0, busy=True,
                                  reasons=["other processes used 0.90 cores (limit 0.25)"])]
    head, body = main_table(rep)
    assert body[0][4] == "1.000 busy"
    md = markdown(rep)
    assert "n/a (70 samples)" in md and "busy (1/1 windows)" in md
    assert "## Machine state per window" in md and "0.90 cores" in md
    data = rep.to_dict()["rows"][0]["results"]["int8"]
    assert data["busy"] is True and data["tails"]["p99"]["value_ms"] is None
    assert data["tails"]["p99"]["count"] == 70 and data["machine"][0]["other_cores"] == 0.9


def test_screen_marks_busy_red_and_short_tails_na():
    from rich.console import Console

    from toolchain.bench.render import render_report

    old = _with_spread(_report([_row("small_cnn", 2.0, 1.0, 0.80, 0.79)]), 0.01).to_dict()
    rep = _with_spread(_report([_row("small_cnn", 3.0, 1.0, 0.80, 0.80)]), 0.01)
    res = rep.rows[0].results["fp32"]
    res.busy = True
    res.machine = [MachineReading(seconds=1.0, cores=2, other_cores=1.0, busy=True,
                                  reasons=["other processes used 1.00 cores (limit 0.25)"])]
    res.tails = {"p90": tail_from_samples("p90", [1.0] * 50, 1.0),
                 "p99": tail_from_samples("p99", [1.0] * 50, 1.0)}
    rep.comparison = compare(rep.to_dict(), old, old_file="old/bench.json")
    con = Console(width=80, record=True, color_system="truecolor")
    render_report(con, rep)
    styled = con.export_text(clear=False, styles=True)
    text = con.export_text()
    assert "3.000 busy" in text and "n/a (50)" in text
    assert "machine busy during small_cnn b1 fp32" in text and "1.00 cores" in text
    assert "not comparable: machine busy: small_cnn b1 fp32 (new run)" in text
    assert "\x1b[1;31m3.000 busy" in styled          # bold red
    assert max(len(line) for line in text.splitlines()) <= 80


def test_chart_labels_and_marks():
    from toolchain.bench.chart import BUSY_HATCH, UNSTABLE_HATCH, bar_text, hatch_of

    row = _row("small", 2.0, 1.0)
    assert bar_text(row, "fp32") == "2 ms"
    assert bar_text(row, "int8") == "1 ms  2.00x faster"
    assert bar_text(_row("slow", 1.0, 1.25), "int8") == "1.25 ms  0.80x slower"
    res = row.results["int8"]
    assert hatch_of(res) is None
    res.stability = Stability(False, TIME_BUDGET, 10, 3, [1.0, 1.2, 1.4], 0.3)
    res.busy = True
    assert hatch_of(res) == UNSTABLE_HATCH + BUSY_HATCH


def test_no_import_cycle_between_chart_and_report():
    import ast
    from pathlib import Path

    import toolchain.bench as pkg

    def imports(name):
        tree = ast.parse((Path(pkg.__file__).parent / f"{name}.py").read_text())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}

    assert "report" in imports("chart") and "chart" not in imports("report")


def test_the_machine_speed_probe_is_a_positive_repeatable_time():
    from toolchain.doctor.machine import speed_probe_ms

    a, b = speed_probe_ms(3), speed_probe_ms(3)
    assert a > 0 and b > 0
    assert 0.2 < a / b < 5          # the same work; a wide band, this machine is shared


def test_compare_says_not_comparable_when_the_machine_itself_changed_speed():
    """Both runs quiet and stable, p50 -34 %: a change by the noise, but the speed probe ran
    30 % faster too, so every row is the machine's change, not the software's. Within 10 %
    the probe does not decide; runs without a probe compare as before."""
    from rich.console import Console

    from toolchain.bench.compare import SPEED_CHANGED
    from toolchain.bench.render import render_report

    def run(p50, probe_ms):
        rep = _with_spread(_report([_row("small_cnn", p50, p50 / 2)]), 0.01)
        if probe_ms is not None:
            rep.provenance["machine_speed"] = {"probe": "x", "start_ms": probe_ms,
                                               "end_ms": probe_ms}
        return rep

    old = run(1.6, 3.2).to_dict()
    new = run(1.06, 2.24)
    cmp = compare(new.to_dict(), old)
    assert cmp.machine_speed_change_pct == pytest.approx(-30.0)
    assert {r.verdict for r in cmp.rows} == {SPEED_CHANGED}
    new.comparison = cmp
    con = Console(width=80, record=True, color_system=None)
    render_report(con, new)
    text = con.export_text()
    assert "not comparable: machine speed changed: the machine itself ran 30 % faster" in text
    assert "-30.0 % against the old run" in markdown(new)
    assert "Machine speed: 2.240 ms at the start" in markdown(new)
    near = compare(run(1.06, 3.0).to_dict(), old)          # probe -6 %: the numbers decide
    assert {r.verdict for r in near.rows} == {CHANGE}
    unknown = compare(run(1.06, None).to_dict(), old)
    assert unknown.machine_speed_change_pct is None
    assert {r.verdict for r in unknown.rows} == {CHANGE}
