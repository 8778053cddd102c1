"""`invoke soak`: the slope fit and gate on synthetic series, and a short real soak."""

from __future__ import annotations

import json
import math
import os
import random

import pytest

from support import FIXTURES
from support.lab import lab_env, lab_settings
from toolchain.errors import LabError
from toolchain.soak import (fit_slope, gpu_process_memory_mb, slope_gate, soak,
                            t_two_sided, warmup_cycles_for)



def test_t_quantiles_match_the_textbook_table():
    # two-sided 95 % critical values of Student's t (any statistics table)
    for df, table in ((1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (30, 2.042)):
        assert t_two_sided(0.95, df) == pytest.approx(table, abs=1e-3)
    assert t_two_sided(0.99, 10) == pytest.approx(3.169, abs=1e-3)
    # with many degrees of freedom it tends to the normal's 1.960
    assert t_two_sided(0.95, 5000) == pytest.approx(1.960, abs=2e-3)


def test_an_exact_line_is_fitted_exactly():
    xs = [float(x) for x in range(3, 13)]
    fit = fit_slope(xs, [1000.0 + 7.5 * x for x in xs])
    assert fit.slope == pytest.approx(7.5) and fit.intercept == pytest.approx(1000.0)
    assert fit.low == pytest.approx(7.5) and fit.high == pytest.approx(7.5)
    assert fit.points == 10
    with pytest.raises(ValueError):
        fit_slope([1.0, 2.0], [1.0, 2.0])


def rss_series(cycles: int, slope_kb: float, noise_kb: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [300_000 + slope_kb * c + rng.gauss(0, noise_kb) for c in range(1, cycles + 1)]


def test_a_leaking_series_is_caught_and_a_flat_noisy_one_is_not():
    xs = [float(c) for c in range(1, 201)]
    # 100 KB per cycle under 500 KB of noise: a leak of 20 MB over 200 cycles
    leak = fit_slope(xs, rss_series(200, 100, 500, seed=1))
    passed, why = slope_gate(leak, 64)
    assert not passed and "leak" in why and leak.low > 64
    # flat, with noise four times the gate: never called a leak, over many seeds
    for seed in range(50):
        flat = fit_slope(xs, rss_series(200, 0, 256, seed))
        assert slope_gate(flat, 64)[0], seed
        assert flat.low < 0 < flat.high or abs(flat.slope) < 5


def test_the_interval_covers_the_true_slope_about_95_percent_of_the_time():
    xs = [float(c) for c in range(1, 21)]
    covered = sum(f.low <= 30 <= f.high
                  for f in (fit_slope(xs, rss_series(20, 30, 200, seed)) for seed in range(400)))
    assert 0.91 <= covered / 400 <= 0.99


def test_a_short_noisy_series_is_not_ruled_out_either():
    xs = [float(c) for c in range(1, 7)]
    fit = fit_slope(xs, rss_series(6, 0, 2000, seed=3))
    passed, why = slope_gate(fit, 64)
    assert passed and "not ruled out" in why


def test_warmup_cycles_leave_three_points_at_least():
    assert warmup_cycles_for(50) == 5 and warmup_cycles_for(200) == 20
    assert warmup_cycles_for(8) == 2 and warmup_cycles_for(3) == 0


def test_gpu_memory_of_this_process_from_nvidia_smi_lines():
    text = "1234, 512\n4321, 2048\n1234, 100\n"
    assert gpu_process_memory_mb(text, 1234) == 612.0
    assert gpu_process_memory_mb(text, 99) is None
    assert gpu_process_memory_mb("", 1234) is None


@pytest.mark.slow
def test_a_short_real_soak_of_the_small_model(trained_lab, tmp_path):
    lab = trained_lab
    r = soak(lab.settings, lab.fp32, "fp32", device="cpu", cycles=8, batches=3, threads=1,
             data_file=lab.val, sample_size=16, out=tmp_path / "soak")
    assert (r.runner, r.device, r.cycles, r.warmup_cycles) == ("python", "cpu", 8, 2)
    assert [s.cycle for s in r.samples] == list(range(1, 9))
    assert all(s.rss_kb > 50_000 and s.create_ms > 0 and s.batch_p50_ms > 0 for s in r.samples)
    assert r.rss_fit.points == 6 and r.rss_fit.low <= r.rss_fit.slope <= r.rss_fit.high
    assert r.inputs == "sample-set" and r.input_count == 16
    assert "GPU memory not sampled" in " ".join(r.notes) and r.gpu_fit is None
    saved = json.loads((tmp_path / "soak" / "soak.json").read_text())
    assert saved["rss_fit"]["slope"] == pytest.approx(r.rss_fit.slope)
    assert len(saved["samples"]) == 8 and saved["passed"] == r.passed
    png = (tmp_path / "soak" / "soak.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert not [p for p in os.listdir(tmp_path / "soak") if p.endswith(".tmp")]
    # the gate is on the lower bound: just below it fails, above the upper bound passes
    assert slope_gate(r.rss_fit, r.rss_fit.low - 1)[0] is False
    assert slope_gate(r.rss_fit, r.rss_fit.high + 1)[0] is True
    assert math.isfinite(r.rss_fit.stderr)


def test_too_few_cycles_to_fit_and_an_unknown_runner_are_refused(tmp_path):
    settings = lab_settings(lab_env(tmp_path))
    with pytest.raises(LabError, match="needs at least 3"):
        soak(settings, tmp_path, cycles=4, warmup_cycles=2)
    with pytest.raises(LabError, match="--runner must be python or cpp"):
        soak(settings, tmp_path, runner="tvm")


@pytest.mark.slow
def test_the_cpp_runner_soaks_in_the_demos_own_process(invoke_cli, tmp_path):
    """trt_clas --soak_cycles (the demo quickstart built against the wheel's library):
    one RSS reading per cycle from the demo process, fitted and gated like Python's."""
    from support.bench import quickstart_lab

    lab = quickstart_lab()
    model = lab.work_dir / "models" / "small_cnn" / "fp32"
    out = tmp_path / "cpp-soak"
    proc = invoke_cli("soak", "--runner", "cpp", "--cycles", "10", "--batches", "2",
                      "--threads", "1", "--device", "cpu", "--model-dir", str(model),
                      "--out", str(out), "--json", env=lab.env)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    r = json.loads(proc.stdout)
    assert (r["runner"], r["device"], r["cycles"]) == ("cpp", "cpu", 10)
    assert [s["cycle"] for s in r["samples"]] == list(range(1, 11))
    assert all(s["rss_kb"] > 50_000 and s["create_ms"] > 0 and s["batch_p50_ms"] > 0
               for s in r["samples"])
    assert r["inputs"] == "sample-set" and "--soak_cycles=10" in r["provenance"]["args"]
    assert r["rss_fit"]["points"] == 10 - r["warmup_cycles"]
    assert proc.returncode == (0 if r["passed"] else 1)
    assert (out / "soak.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_invoke_soak_prints_the_table_and_gates(trained_lab, invoke_cli, tmp_path):
    out = tmp_path / "cli-soak"
    proc = invoke_cli("soak", "--cycles", "6", "--batches", "2", "--threads", "1",
                      "--device", "cpu", "--out", str(out), env=trained_lab.env())
    assert proc.returncode == 0, proc.stderr
    for words in ("RSS MB", "create ms", "passed", "KB/cycle", "GPU memory not sampled",
                  str(out / "soak.png")):
        assert words in proc.stdout, proc.stdout
    # --json: the SoakResult; the exit code follows the gate
    proc = invoke_cli("soak", "--cycles", "6", "--batches", "1", "--threads", "1",
                      "--device", "cpu", "--out", str(out), "--json", env=trained_lab.env())
    r = json.loads(proc.stdout)
    assert proc.returncode == (0 if r["passed"] else 1)
    assert r["cycles"] == 6 and len(r["samples"]) == 6


@pytest.mark.parametrize("gpu", ["read", "not readable"])
def test_cpp_soak_on_a_gpu_fits_the_gpu_memory_trt_clas_read(tmp_path, monkeypatch, gpu):
    """`soak --runner cpp --device gpu` on what trt_clas printed. no_gpu.jsonl is real: this
    machine's CUDA build of the demo, where cudaMemGetInfo fails (no GPU, no driver;
    tests/fixtures/demo_gpu_soak/capture.py made it). "read" is a STAND-IN for a GPU host:
    the same lines with the error replaced by a used-memory figure, as trt_clas prints it
    when cudaMemGetInfo answers. The GPU memory gets its own slope and gate; a cycle
    without it is a note naming what trt_clas said, and no GPU slope. run_cpp_soak returns
    these lines (no GPU Paddle can run here)."""
    from toolchain.runners import run as run_mod
    from toolchain.settings import LabSettings

    lines = [json.loads(ln) for ln in
             (FIXTURES / "demo_gpu_soak" / "no_gpu.jsonl").read_text().splitlines()]
    assert all(c["gpu_error"].startswith("cudaMemGetInfo: ") for c in lines)
    if gpu == "read":
        for c in lines:
            del c["gpu_error"]
            c["gpu_used_mb"] = 523.0 + (0.5 if c["soak_cycle"] % 2 else 0.0)
    monkeypatch.setattr(run_mod, "run_cpp_soak", lambda *a, **k: run_mod.CppSoak(
        lines, "standin", str(tmp_path), "gpu", 1, {"args": ["--device=gpu"]}))
    settings = LabSettings.from_mapping({"work_dir": str(tmp_path / "w"),
                                         "results_dir": str(tmp_path / "r")})
    r = soak(settings, tmp_path, runner="cpp", device="gpu", cycles=len(lines),
             warmup_cycles=2, out=tmp_path / "out")
    assert [s.gpu_mb for s in r.samples] == [c.get("gpu_used_mb") for c in lines]
    if gpu == "read":
        assert r.gpu_fit is not None and "GPU memory" in r.verdict and r.passed
        assert any("cudaMemGetInfo: the whole device" in n for n in r.notes), r.notes
    else:
        assert r.gpu_fit is None
        assert any(n.startswith("GPU memory not sampled: trt_clas said cudaMemGetInfo: ")
                   for n in r.notes), r.notes
        assert any("trt_clas could not read it" in n for n in r.notes), r.notes
    assert (tmp_path / "out" / "soak.png").read_bytes()[:4] == b"\x89PNG"
