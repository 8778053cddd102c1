"""`invoke bench --backends` through the real CLI: Paddle, OpenVINO and ONNX Runtime (real,
the `backends` extra) on the trained small model and the session's quickstart dataset, in
the same interleaved rounds; a model a backend cannot run is a row saying why."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from support import run_invoke
from support.bench import quickstart_lab

pytestmark = pytest.mark.slow
for _name in ("openvino", "onnxruntime", "paddle2onnx"):
    pytest.importorskip(_name, reason=f"the backends extra ({_name}) is not installed")

QUICK = ["--repeats", "10", "--warmup", "2", "--time-budget", "6", "--threads", "2"]


@pytest.fixture(scope="module")
def lab():
    return quickstart_lab()


@pytest.fixture(scope="module")
def backends_run(lab, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-backends") / "r"
    proc = run_invoke("bench", "--models", "small_cnn", "--backends",
                      "paddle,openvino,onnxruntime",
                      "--precisions", "fp32,int8", "--runner", "python", *QUICK,
                      "--out", str(out), "--json", env=lab.env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, json.loads(proc.stdout)


def test_openvino_beside_paddle_with_accuracy_and_latency(backends_run):
    out, report = backends_run
    assert report["request"]["backends"] == ["paddle", "openvino", "onnxruntime"]
    (row,) = report["rows"]
    assert sorted(row["results"]) == ["fp32", "int8"]          # Paddle's table as before
    assert sorted(row["backends"]) == ["onnxruntime:fp32", "onnxruntime:int8",
                                       "openvino:fp32", "openvino:int8"]
    for precision in ("fp32", "int8"):
        paddle, ov = row["results"][precision], row["backends"][f"openvino:{precision}"]
        assert ov["backend"] == "openvino" and ov["cannot_run"] == ""
        assert ov["latency_ms"]["p50"] > 0 and ov["images"] == paddle["images"] > 0
        # the same files and images: OpenVINO's accuracy is Paddle's within a few images
        assert abs(ov["top1"] - paddle["top1"]) <= 0.05, (ov["top1"], paddle["top1"])
        assert ov["top1"] >= 0.8
        # measured in the same rounds: one window each per round, the same stability rule
        assert ov["stability"]["windows"] == paddle["stability"]["windows"]
        assert dict(ov["config_calls"])["INFERENCE_PRECISION_HINT"] == "f32"
        # the fastest is the lowest p50 among the variants that ran (on a CPU with AMX,
        # ONNX Runtime is often the fastest at FP32)
        ran = {"paddle": paddle, **{k.split(":")[0]: v for k, v in row["backends"].items()
                                    if k.endswith(precision) and not v["cannot_run"]}}
        assert row["fastest"][precision] == min(ran, key=lambda b: ran[b]["latency_ms"]["p50"])
    ort32, ort8 = row["backends"]["onnxruntime:fp32"], row["backends"]["onnxruntime:int8"]
    assert ort32["cannot_run"] == "" and ort32["latency_ms"]["p50"] > 0
    assert abs(ort32["top1"] - row["results"]["fp32"]["top1"]) <= 0.01
    # paddle2onnx 2.1.0 maps quantize_linear to FP8 only: a row saying so, not a crash
    assert "paddle2onnx" in ort8["cannot_run"] and ort8["latency_ms"] is None
    fastest = row["fastest"]["int8"]
    p50s = {"paddle": row["results"]["int8"]["latency_ms"]["p50"],
            "openvino": row["backends"]["openvino:int8"]["latency_ms"]["p50"]}
    assert p50s[fastest] == min(p50s.values())


def test_backends_in_bench_md_and_csv(backends_run):
    out, report = backends_run
    md = (out / "bench.md").read_text()
    assert "## Backends on the same files, inputs and timer" in md
    lines = [ln for ln in md.splitlines() if ln.startswith("| small_cnn | int8 | openvino |")]
    assert len(lines) == 1
    rows = list(csv.DictReader((out / "bench.csv").open()))
    assert [(r["precision"], r["runner"]) for r in rows] == [
        ("fp32", "python"), ("int8", "python"), ("fp32", "openvino"), ("int8", "openvino"),
        ("fp32", "onnxruntime"), ("int8", "onnxruntime")]


def test_a_model_openvino_cannot_read_is_a_row_saying_why(lab, tmp_path):
    # Paddle runs the PIR (.json) FP32 model; OpenVINO reads only the legacy .pdmodel
    pir = lab.work_dir / "models" / "small_cnn" / "fp32" / "pir"
    assert (pir / "model.json").exists(), list(pir.parent.iterdir())
    custom = tmp_path / "pir_model"
    shutil.copytree(pir, custom / "fp32")
    proc = run_invoke("bench", "--models", str(custom), "--backends", "openvino",
                      "--precisions", "fp32", "--runner", "python", *QUICK,
                      "--out", str(tmp_path / "r"), env=lab.env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    report = json.loads((tmp_path / "r" / "bench.json").read_text())
    (row,) = report["rows"]
    assert row["results"]["fp32"]["latency_ms"]["p50"] > 0
    ov = row["backends"]["openvino:fp32"]
    assert "PIR (.json)" in ov["cannot_run"] and ov["latency_ms"] is None
    assert "pir_model fp32 openvino cannot run: OpenVINO reads the legacy .pdmodel" in \
        " ".join(proc.stdout.split())


def test_an_int8_model_without_its_fp32_twin_is_refused_before_measuring(lab, tmp_path):
    lonely = tmp_path / "lonely"
    shutil.copytree(lab.work_dir / "models" / "small_cnn" / "int8", lonely / "int8")
    proc = run_invoke("bench", "--models", str(lonely), "--backends", "openvino",
                      "--out", str(tmp_path / "r"), env=lab.env, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "model lonely has no fp32 folder" in proc.stderr
    assert f"put the FP32 model (model.pdmodel + model.pdiparams) in {lonely / 'fp32'}" in \
        " ".join(proc.stderr.split())
    assert not (tmp_path / "r").exists()


def test_unknown_backend_and_gpu_are_one_message_each(lab, tmp_path):
    for args, says in ((["--backends", "tvm"], "unknown backend(s) tvm"),
                       (["--backends", "openvino", "--device", "gpu"],
                        "compares engines on the CPU")):
        proc = run_invoke("bench", *args, "--out", str(tmp_path / "r"), env=lab.env,
                          timeout=300)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.count("error:") == 1 and says in proc.stderr, proc.stderr
