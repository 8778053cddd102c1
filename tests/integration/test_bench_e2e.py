"""`invoke bench` end to end through the real CLI on the trained small model (real engine).

The models and dataset come from the session's quickstart lab (bench_helpers).
"""

from __future__ import annotations

import csv
import importlib.metadata
import json
import subprocess
import sys

import pytest

import toolchain
from support.bench import quickstart_lab
from support import ROOT, run_invoke
from toolchain.models.layout import find_model_files

pytestmark = pytest.mark.slow

QUICK = ["--repeats", "10", "--warmup", "2", "--time-budget", "4"]


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    lab = quickstart_lab()
    out = tmp_path_factory.mktemp("bench") / "a"
    proc = run_invoke("bench", "--models", "small_cnn", *QUICK, "--gate-top1-drop", "100",
                      "--gate-speedup", "0.01", "--out", str(out), "--json",
                      env=lab.env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return lab, out, json.loads(proc.stdout)


def test_files_table_and_provenance(first):
    lab, out, report = first
    assert sorted(p.name for p in out.iterdir()) == ["bench.csv", "bench.json", "bench.md",
                                                     "bench.png"]
    assert json.loads((out / "bench.json").read_text())["rows"] == report["rows"]
    assert (out / "bench.png").read_bytes()[:4] == b"\x89PNG"
    (row,) = report["rows"]
    fp32, int8 = row["results"]["fp32"], row["results"]["int8"]
    # the table is complete: accuracy, latency, speed-up, reduction
    md = (out / "bench.md").read_text()
    line = next(ln for ln in md.splitlines() if ln.startswith("| small_cnn |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert len(cells) == 7 and "-" not in cells
    assert cells[1] == f"{fp32['top1'] * 100:.2f}/{fp32['top5'] * 100:.2f}"
    assert float(cells[5]) == pytest.approx(fp32["latency_ms"]["p50"] / int8["latency_ms"]["p50"],
                                            abs=0.01)
    assert float(cells[6]) == pytest.approx(row["reduction_pct"]["int8"], abs=0.1)
    assert "## Latency percentiles" in md
    # the machine's own speed, timed before the first window and after the last
    speed = report["provenance"]["machine_speed"]
    assert speed["start_ms"] > 0 and speed["end_ms"] > 0 and "float32" in speed["probe"]
    assert "- Machine speed: " in md
    rows = list(csv.DictReader((out / "bench.csv").open()))
    assert [r["precision"] for r in rows] == ["fp32", "int8"]
    for res in (fp32, int8):
        st = res["stability"]
        assert st["windows"] >= 1 and st["reason"] in ("stable", "time budget", "max rounds")
        assert len(res["windows"]) == st["windows"] == len(st["window_p50_ms"])
    # provenance
    prov = report["provenance"]
    assert prov["host"]["hostname"] and prov["host"]["cpu_model"]
    assert prov["paddle"]["version"] == importlib.metadata.version("paddlepaddle")
    side = json.loads((lab.work_dir / "data" / "val.bin.json").read_text())
    assert prov["dataset"]["sha256"] == side["sha256"]
    for p in ("fp32", "int8"):
        sha = find_model_files(lab.work_dir / "models" / "small_cnn" / p).sha256()
        assert prov["models"]["small_cnn"][p] == sha == row["results"][p]["model_sha256"]
    assert prov["tool"]["version"] == toolchain.__version__
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True)
    if head.returncode == 0:
        assert prov["tool"]["git_commit"] == head.stdout.strip()
    # the library quickstart assembled from the installed wheel (no other in this lab)
    assert "paddle_inference-wheel-" in prov["library"]["path"]
    assert "software" in prov and "gpu" in prov
    assert [g["passed"] for g in report["gates"]] == [True, True] and report["passed"]
    # tails: counts always, the value only at its floor; machine state for every window
    for res in (fp32, int8):
        for name, floor in (("p90", 64), ("p99", 662)):
            tail = res["tails"][name]
            assert tail["floor"] == floor and tail["count"] >= 10
            assert (tail["value_ms"] is None) == (tail["count"] < floor)
            assert res["latency_ms"][name] == tail["value_ms"]
        assert len(res["machine"]) == res["stability"]["windows"]
        for reading in res["machine"]:
            assert reading["cores"] >= 1 and reading["own_cores"] is not None
            assert reading["busy"] == bool(reading["reasons"])
    assert "Samples" in md and "## Machine state per window" in md


def test_gates_fail_red_and_compare(first, tmp_path):
    lab, a, _ = first
    out = tmp_path / "b"
    proc = run_invoke("bench", "--models", "small_cnn", *QUICK, "--compare",
                      str(a / "bench.json"), "--gate-speedup", "1000",
                      "--gate-top1-drop=-50", "--out", str(out), env=lab.env, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    text = proc.stdout
    assert "FAIL gate speedup" in text and "FAIL gate top1-drop" in text
    assert "Change against" in text
    report = json.loads((out / "bench.json").read_text())     # written even when a gate fails
    assert report["passed"] is False
    assert [g["passed"] for g in report["gates"]] == [False, False]
    changes = {r["precision"]: r for r in report["comparison"]["rows"]}
    assert set(changes) == {"fp32", "int8"}
    for r in changes.values():   # same models, same data: identical accuracy
        assert r["status"] == "both" and r["top1_change_pts"] == 0.0
        assert r["p50_change_pct"] is not None
    assert "## Change against" in (out / "bench.md").read_text()


@pytest.mark.parametrize("args, message", [
    ([], "no models to bench"),
    (["--models", "alexnet"], "unknown model 'alexnet'"),
    (["--precisions", "fp32,int4"], "unknown precision(s) int4"),
    (["--batch-sizes", "0"], "--batch-sizes must be an integer from 1 to 4096, got 0"),
    (["--compare", "/nonexistent/bench.json"], "does not exist"),
    (["--gate-speedup", "2", "--precisions", "int8"], "must hold fp32"),
])
def test_bad_input_is_one_clear_error(args, message, lab_env, tmp_path):
    proc = run_invoke("bench", *args, timeout=120)
    assert proc.returncode == 1
    assert message in proc.stderr and "fix:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()


def test_a_cpu_burner_during_the_bench_marks_its_windows_busy(first, tmp_path):
    """A second process loading the machine for the whole bench: every window is busy."""
    lab, _, _ = first
    out = tmp_path / "busy"
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        proc = run_invoke("bench", "--models", "small_cnn", *QUICK, "--out", str(out),
                          env=lab.env, timeout=600)
    finally:
        burner.kill()
        burner.wait()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "bench.json").read_text())
    for res in report["rows"][0]["results"].values():
        assert res["busy"] is True
        assert all(r["busy"] and r["other_cores"] > 0.25 for r in res["machine"])
    assert "busy" in proc.stdout and "machine busy during small_cnn" in proc.stdout
    assert "busy (" in (out / "bench.md").read_text()
