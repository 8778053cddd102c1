"""`invoke run` and `invoke test-acc` through the real CLI, on a quickstart-like lab."""

from __future__ import annotations

import json
import re
import shutil

import pytest




@pytest.mark.slow
def test_run_int8_works_with_no_other_flag(trained_lab, invoke_cli):
    proc = invoke_cli("run", "--int8", "--repeats", "5", env=trained_lab.env())
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for word in ("min", "mean", "p50", "p90", "p99", "max", "images/s"):
        assert word in out
    assert "small_cnn int8 on cpu" in out
    assert "runner python" in out and "no demo build" in out
    assert "first image: predicted class" in out
    assert "inputs: sample set: 100 images of the data file" in out and "seed 0" in out
    assert "start: predictor created in" in out and "peak RSS" in out
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_run_json_is_a_run_result(trained_lab, invoke_cli):
    proc = invoke_cli("run", "--fp32", "--batch-size", "2", "--warmup", "1", "--repeats", "3",
                      "--threads", "1", "--json", env=trained_lab.env())
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert (r["kind"], r["precision"], r["batch_size"], r["threads"]) == ("latency", "fp32", 2, 1)
    assert r["latency_ms"]["count"] == 3 and len(r["first_batch"]["predicted"]) == 2
    assert r["model_dir"].endswith("small_cnn/fp32")
    assert (r["inputs"], r["input_count"], r["input_seed"]) == ("sample-set", 100, 0)
    assert r["create_ms"] > 0 and r["first_run_ms"] > 0 and r["peak_rss_mb"] > 0
    assert r["warm_p50_ms"] == r["latency_ms"]["p50"] and r["engine_cache"] is None


@pytest.mark.slow
def test_run_hot_and_a_refused_cache_expectation_on_the_cpu(trained_lab, invoke_cli):
    proc = invoke_cli("run", "--hot", "--repeats", "3", "--seed", "5", env=trained_lab.env())
    assert proc.returncode == 0, proc.stderr
    assert "inputs: hot: the data file's first batch" in proc.stdout
    proc = invoke_cli("run", "--repeats", "2", "--sample-size", "8", "--seed", "3", "--json",
                      env=trained_lab.env())
    r = json.loads(proc.stdout)
    assert (r["inputs"], r["input_count"], r["input_seed"]) == ("sample-set", 8, 3)
    proc = invoke_cli("run", "--repeats", "2", "--device", "cpu", "--expect-cache-hit",
                      env=trained_lab.env())
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "--expect-cache-hit checks a TensorRT engine cache" in proc.stderr
    assert "fix:" in proc.stderr


@pytest.mark.slow
def test_test_acc_int8_json(trained_lab, invoke_cli):
    proc = invoke_cli("test-acc", "--int8", "--batch-size", "10", "--limit", "40", "--json",
                      env=trained_lab.env())
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["kind"] == "accuracy" and r["images"] == 40
    assert r["top1"] >= 0.7 and r["throughput_ips"] > 0


@pytest.mark.slow
def test_test_acc_refuses_a_changed_data_file(trained_lab, invoke_cli, tmp_path):
    data = tmp_path / "val.bin"
    shutil.copy(trained_lab.val, data)
    shutil.copy(trained_lab.val.with_name("val.bin.json"), tmp_path / "val.bin.json")
    with open(data, "r+b") as f:
        f.seek(12345)
        f.write(b"\x7f")
    proc = invoke_cli("test-acc", "--data-file", str(data), env=trained_lab.env())
    assert proc.returncode != 0
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args,words", [
    (("run", "--model-dir", "/nonexistent/model"), "model directory not found"),
    (("run", "--device", "gpu", "--runner", "python"), "--device gpu asked"),
    (("run", "--fp16"), "fp16 runs on the GPU"),
    (("run", "--int8", "--fp32"), "pick one precision"),
    (("run", "--runner", "cpp"), "--runner cpp asked"),
    (("test-acc", "--data-file", "/nonexistent/val.bin"), "dataset not found"),
])
@pytest.mark.slow
def test_bad_input_gets_one_clear_message(trained_lab, invoke_cli, args, words):
    proc = invoke_cli(*args, "--repeats", "1" if args[0] == "run" else "0",
                      env=trained_lab.env()) if args[0] == "run" else \
        invoke_cli(*args, env=trained_lab.env())
    assert proc.returncode != 0
    assert words in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "fix:" in proc.stderr or "pick one" in proc.stderr


def test_run_without_any_model_says_how_to_make_one(lab_env, invoke_cli):
    proc = invoke_cli("run", "--int8")
    assert proc.returncode != 0
    assert "model directory not found" in proc.stderr and "invoke models --export" in proc.stderr


def test_help_documents_every_flag(invoke_cli):
    for task, flags in (("run", ("--int8", "--fp16", "--fp32", "--model-dir", "--data-file",
                                 "--batch-size", "--warmup", "--repeats", "--threads",
                                 "--device", "--runner", "--hot", "--sample-size", "--seed",
                                 "--expect-cache-hit", "--json")),
                        ("test-acc", ("--int8", "--model-dir", "--data-file", "--limit",
                                      "--batch-size", "--runner", "--json"))):
        out = invoke_cli("--help", task, check=True).stdout
        for flag in flags:
            pat = re.compile(r"^\s+(-\w(\s\S+)?, )?" + re.escape(flag) + r"[=\s]")
            line = next((ln for ln in out.splitlines() if pat.match(ln)), "")
            assert re.search(r"\S\s{2,}\S", line), f"{task} {flag} undocumented"


@pytest.mark.slow
def test_run_and_test_acc_report_their_progress(request):
    """The timing loop reports each timed batch, the scoring loop the images it scored."""
    from toolchain.progress import RecordingProgress
    from toolchain.runners.run import run_accuracy, run_latency

    lab = request.getfixturevalue("trained_lab")
    rec = RecordingProgress()
    run_latency(lab.settings, lab.fp32, "fp32", device="cpu", runner="python", warmup=2,
                repeats=7, progress=rec)
    assert rec.of("start") == [("start", "timing", 7, "batches")]
    assert len(rec.of("advance", "timing")) == 7 and rec.events[-1] == ("done", "timing")
    rec = RecordingProgress()
    r = run_accuracy(lab.settings, lab.fp32, lab.val, "fp32", device="cpu", runner="python",
                     batch_size=7, limit=23, progress=rec)
    assert rec.of("start") == [("start", "scoring", 23, "images")]
    assert sum(e[2] for e in rec.of("advance", "scoring")) == r.images == 23
