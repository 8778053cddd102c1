"""`invoke quickstart` end to end through the real CLI: fresh lab, then a second run.

The first run is shared with test_bench_e2e (bench_helpers.quickstart_lab).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.bench import TEST_MODELS, quickstart_lab
from support import run_invoke

pytestmark = pytest.mark.slow


def _numbers(bench: dict) -> dict:
    return {(row["model"], p): (res["top1"], res["top5"], res["images"], res["model_sha256"])
            for row in bench["rows"] for p, res in row["results"].items()}


def test_fresh_quickstart_makes_everything_and_the_table():
    lab = quickstart_lab()
    res = lab.result
    status = {s["name"]: s["status"] for s in res["steps"]}
    models = TEST_MODELS.split(",")
    expected = ["doctor", "sample-data", "preprocess-train", "preprocess-val"]
    for m in models:
        expected += [f"model-{m}", f"quantize-{m}"]
    expected += ["fetch-lib", "build-demo", "bench"]
    assert list(status) == expected
    # no C++ library in this lab: assembled from the installed wheel, the demo built on it
    assert all(status[s] == "ran" for s in expected if s != "doctor")
    assert res["runner_note"].startswith("cpp runner")
    assert "paddle_inference-wheel-" in res["runner_note"]

    # the artifacts `invoke run --int8` relies on
    work = lab.work_dir
    for sub in ("fp32", "int8"):
        assert (work / "models" / "small_cnn" / sub / "model.pdmodel").is_file()
    assert (work / "data" / "val.bin").is_file() and (work / "data" / "val.bin.json").is_file()

    bench = res["bench"]
    rows = {r["model"]: r for r in bench["rows"]}
    assert list(rows) == models
    small = rows["small_cnn"]
    assert small["kind"] == "trained"
    for p in ("fp32", "int8"):
        r = small["results"][p]
        assert r["images"] == 100 and r["top1"] > 0.5 and r["top5"] >= r["top1"]
        assert r["latency_ms"]["p50"] > 0 and r["runner"] == "cpp"
        assert r["accuracy_runner"] == "cpp"
    # the python runner as the second column: the parity gate, measured, passed
    gate = {g["name"]: g for g in bench["gates"]}["parity"]
    assert gate["passed"], gate
    checked = {(c["model"], c["precision"]): c for c in gate["checks"]}
    assert set(checked) == {(m, p) for m in models for p in ("fp32", "int8")}
    for p in ("fp32", "int8"):
        c = checked[("small_cnn", p)]
        assert c["images"] == 100 and c["differing"] == []
        assert c["cpp_top1"] == c["python_top1"] == small["results"][p]["top1"]
        assert c["cpp_p50_ms"] > 0 and c["python_p50_ms"] > 0 and c["noise_ms"] >= 0
    assert rows["mobilenet_v1"]["kind"] == "seeded"
    assert all(r["top1"] is None for r in rows["mobilenet_v1"]["results"].values())
    assert rows["mobilenet_v1"]["speedup"]["int8"] > 0
    for kind in ("json", "md", "csv", "png"):
        assert Path(bench["files"][kind]).is_file()
    assert Path(bench["out_dir"]).parent == lab.base / "results"


def test_second_run_reuses_and_reproduces(tmp_path):
    lab = quickstart_lab()
    out = tmp_path / "second"
    proc = run_invoke("quickstart", "--out", str(out), env=lab.env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    # the table on screen, with the paths of the files
    assert "FP32 vs INT8" in text and "small_cnn" in text and "mobilenet_v1 *" in text
    for name in ("bench.json", "bench.md", "bench.csv", "bench.png"):
        assert str(out / name) in text.replace("\n", "")
    assert "reused" in text and "cpp runner" in text and "gate parity" in text
    second = json.loads((out / "bench.json").read_text())
    first = lab.result["bench"]
    # identical accuracy and identical model and dataset sha256
    assert _numbers(second) == _numbers(first)
    assert second["provenance"]["models"] == first["provenance"]["models"]
    assert second["provenance"]["dataset"]["sha256"] == first["provenance"]["dataset"]["sha256"]
    stamps = sorted(p.name for p in (lab.work_dir / "quickstart").glob("*.json"))
    assert "sample-data.json" in stamps and "quantize-small_cnn.json" in stamps


def test_unknown_model_is_one_clear_error(lab_env, tmp_path):
    proc = run_invoke("quickstart", env={"INVOKE_LAB_QUICKSTART_MODELS": "small_cnn,alexnet"},
                      timeout=120)
    assert proc.returncode == 1
    assert "unknown quickstart model(s): alexnet" in proc.stderr and "fix:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "work").exists()
