"""Post-training quantization end to end (real Paddle), with an accuracy check."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from support import ROOT
from test_models import checkout_copy, run_from
from toolchain.errors import LabError
from toolchain.models.layout import find_model_files
from toolchain.models.zoo import export_model
from toolchain.quantize import quantize_model
from toolchain.runners.run import run_accuracy


@pytest.mark.slow
def test_quantized_model_is_int8_and_keeps_its_accuracy(trained_lab):
    lab = trained_lab
    q = lab.quantize
    files = find_model_files(q.output)
    assert files.format == "legacy" and files.quantized()
    assert q.quantized_ops > 0 and q.calib_images == 100
    assert q.source_sha256 == lab.export.sha256["legacy"]
    assert files.record()["precision"] == "int8" and files.record()["algo"] == "avg"
    assert b"op_callstack" not in files.program.read_bytes()
    fp32 = run_accuracy(lab.settings, lab.fp32, lab.val, "fp32", device="cpu", runner="python",
                        batch_size=20)
    int8 = run_accuracy(lab.settings, q.output, lab.val, "int8", device="cpu", runner="python",
                        batch_size=20)
    assert fp32.top1 >= 0.8
    assert int8.top1 >= fp32.top1 - 0.03


@pytest.mark.slow
def test_quantizing_twice_writes_the_same_bytes(trained_lab, tmp_path):
    """MobileNetV2 is the smallest zoo model with residual adds: without
    quantize.iterate_graph_nodes_by_id the quantize ops of an add's two inputs
    came out in a different order each run (5 runs, 5 program sha256)."""
    settings = trained_lab.settings
    fp32 = export_model(settings, "mobilenet_v2", out_dir=tmp_path / "fp32",
                        formats=("legacy",)).out_dir
    runs = [quantize_model(settings, fp32, trained_lab.train, tmp_path / f"int8_{i}",
                           algo="avg", batch_size=10, batch_nums=2)
            for i in range(2)]
    a, b = (find_model_files(r.output) for r in runs)
    assert runs[0].quantized_ops > 100
    assert a.program.read_bytes() == b.program.read_bytes()
    assert a.params.read_bytes() == b.params.read_bytes()
    assert runs[0].sha256 == runs[1].sha256


@pytest.mark.slow
def test_quantizing_from_another_checkout_writes_the_same_bytes(trained_lab, tmp_path):
    """The saved program's feed/fetch ops would carry the call stack that created them
    (venv and checkout paths, our line numbers); the worker strips it."""
    clone, python = checkout_copy(tmp_path)
    args = ("toolchain.quantize", "--model-dir", str(trained_lab.fp32), "--calib-data",
            str(trained_lab.train), "--algo", "abs_max", "--batch-size", "5",
            "--batch-nums", "2", "--out")
    run_from(ROOT, Path(sys.executable), *args, str(tmp_path / "a"))
    run_from(clone, python, *args, str(tmp_path / "b"))
    a, b = find_model_files(tmp_path / "a"), find_model_files(tmp_path / "b")
    assert a.quantized() and a.sha256() == b.sha256()
    assert b"op_callstack" not in a.program.read_bytes()


@pytest.mark.slow
def test_quantize_cli_json_with_another_algo(trained_lab, invoke_cli, tmp_path):
    out = tmp_path / "int8_absmax"
    proc = invoke_cli("quantize", "--calib-data", str(trained_lab.train), "--out", str(out),
                      "--algo", "abs_max", "--batch-size", "5", "--batch-nums", "2", "--json",
                      env=trained_lab.env())
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["algo"] == "abs_max" and r["calib_images"] == 10
    assert r["model_dir"].endswith("small_cnn/fp32")      # the default model
    assert find_model_files(out).quantized()
    assert not list(tmp_path.glob(".int8_absmax*"))       # no temp dir left


@pytest.mark.slow
def test_a_pir_model_is_refused_with_the_legacy_alternative(trained_lab, tmp_path):
    with pytest.raises(LabError) as err:
        quantize_model(trained_lab.settings, trained_lab.fp32 / "pir", trained_lab.train,
                       tmp_path / "out", algo="abs_max")
    assert "PIR" in err.value.message
    assert str(trained_lab.fp32) in err.value.hint
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_an_int8_model_is_not_quantized_again(trained_lab, tmp_path):
    with pytest.raises(LabError, match="already quantized"):
        quantize_model(trained_lab.settings, trained_lab.int8, trained_lab.train,
                       tmp_path / "out")


@pytest.mark.parametrize("args,words", [
    (("--algo", "fancy"), "unknown --algo"),
    (("--calib-data", "/nonexistent/train.bin"), "dataset not found"),
    (("--model-dir", "/nonexistent/fp32"), "model directory not found"),
    (("--batch-size", "4000"), "--batch-size 4000 is larger than the"),   # 13.7
    (("--batch-nums", "0"), "--batch-nums must be an integer from 1 to 100000, got 0"),
])
@pytest.mark.slow
def test_quantize_bad_input(trained_lab, invoke_cli, args, words):
    proc = invoke_cli("quantize", *args, env=trained_lab.env())
    assert proc.returncode != 0
    assert words in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_quantize_dry_run_prints_the_worker_command(trained_lab, invoke_cli, tmp_path):
    out = tmp_path / "never"
    proc = invoke_cli("quantize", "--out", str(out), "--algo", "hist", "--dry-run",
                      env=trained_lab.env())
    assert proc.returncode == 0, proc.stderr
    cmd = proc.stdout.splitlines()[-1]
    assert cmd.startswith("FLAGS_enable_pir_api=0 ") and "-m toolchain.quantize" in cmd
    assert "--algo hist" in cmd and f"--out {out}" in cmd
    assert not out.exists()


@pytest.mark.slow
def test_openvino_reads_the_int8_model_and_agrees_with_paddle(trained_lab):
    """PTQ stores per-tensor scales as 0-D tensors; OpenVINO's Paddle front end refuses
    them ("dims of scale should not be greater than 2"). quantize stores them as the
    [1] vectors their variables declare, so OpenVINO reads the INT8 model."""
    import numpy as np
    import openvino as ov

    from toolchain.data.binfmt import DatasetReader
    from toolchain.runners.configplan import PlanOptions, cpu_plan
    from toolchain.runners.python_engine import Engine

    lab = trained_lab
    assert lab.quantize.scales_reshaped > 0
    files = find_model_files(lab.quantize.output)
    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(files.program), str(files.params)), "CPU",
                                  {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1})
    paddle_int8 = Engine(files, cpu_plan("int8", "quantized", PlanOptions(threads=1)))
    agree = total = correct = 0
    with DatasetReader(lab.val) as reader:
        for images, labels in reader.iter_batches(20, limit=100):
            ov_out = np.asarray(compiled(images)[0])
            assert np.isfinite(ov_out).all()
            ov_pred, pd_pred = ov_out.argmax(1), paddle_int8.infer(images).argmax(1)
            agree += int((ov_pred == pd_pred).sum())
            correct += int((ov_pred == labels).sum())
            total += len(labels)
    assert total == 100
    assert agree >= 95, f"OpenVINO and Paddle INT8 agree on {agree}/100"
    assert correct >= 80, f"OpenVINO INT8 top-1 {correct}/100"
