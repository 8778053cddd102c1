"""The model zoo: list, export in both formats, the trained classifier, determinism."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT
from support.lab import lab_env, lab_settings
from toolchain.errors import LabError
from toolchain.models.layout import find_model_files
from toolchain.models.worker import worker_env
from toolchain.models.zoo import export_model, get_model, list_models
from toolchain.progress import RecordingProgress


def test_the_zoo_has_the_tutorials_architectures_and_a_trained_default():
    specs = {m.name: m for m in list_models()}
    assert {"small_cnn", "mobilenet_v1", "mobilenet_v2", "resnet50"} <= set(specs)
    assert specs["small_cnn"].kind == "trained"
    for name in ("mobilenet_v1", "mobilenet_v2", "resnet50"):
        assert specs[name].kind == "seeded" and "latency" in specs[name].note
        assert specs[name].builder.startswith("paddle.vision.models.")
    with pytest.raises(LabError, match="unknown model"):
        get_model("vgg99")


def test_models_list_json(invoke_cli):
    proc = invoke_cli("models", "--list", "--json", check=True)
    data = json.loads(proc.stdout)
    assert data["default"] == "small_cnn"
    assert [m["name"] for m in data["models"]][:1] == ["small_cnn"]


def test_export_of_an_unknown_model_is_one_clear_error(lab_env, invoke_cli):
    proc = invoke_cli("models", "--export", "vgg99")
    assert proc.returncode != 0 and "unknown model 'vgg99'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_trained_model_without_training_data_says_how_to_make_it(lab_env, invoke_cli):
    proc = invoke_cli("models", "--export", "small_cnn")
    assert proc.returncode != 0 and "training data not found" in proc.stderr
    assert "invoke sample-data" in proc.stderr


@pytest.mark.slow
def test_seeded_export_writes_both_formats_deterministically(tmp_path):
    settings = lab_settings(lab_env(tmp_path))
    progress = RecordingProgress()
    a = export_model(settings, "mobilenet_v1", progress=progress)
    assert progress.events[0] == ("start", "export mobilenet_v1", None, "steps")
    assert ("update", "export mobilenet_v1", None, None, "pir written") in progress.events
    assert progress.events[-1] == ("done", "export mobilenet_v1")
    legacy, pir = find_model_files(a.dirs["legacy"]), find_model_files(a.dirs["pir"])
    assert (legacy.format, legacy.program.name) == ("legacy", "model.pdmodel")
    assert (pir.format, pir.program.name) == ("pir", "model.json")
    assert not legacy.quantized() and not pir.quantized()
    assert legacy.record()["kind"] == "seeded"
    b = export_model(settings, "mobilenet_v1", out_dir=tmp_path / "again")
    assert a.sha256 == b.sha256                       # same seed, same bytes
    assert not list(tmp_path.glob("work/models/.*"))  # no temp dirs left behind


@pytest.mark.slow
def test_the_trained_classifier_learns_the_held_out_digits(trained_lab):
    t = trained_lab.export.train
    assert t["train_images"] == 300 and t["val_images"] == 100
    assert t["val_top1"] >= 0.9                       # chance is 0.10
    assert t["seconds"] < 120                         # about half a minute when the host is idle
    assert set(trained_lab.export.dirs) == {"legacy", "pir"}


# The ops oneDNN runs in INT8 (conv2d with batch_norm + relu fused into it, pool2d
# with a fixed kernel, matmul_v2 + elementwise_add = fc) and the ones around them.
INT8_FRIENDLY_OPS = {"feed", "fetch", "conv2d", "batch_norm", "relu", "pool2d",
                     "flatten_contiguous_range", "dropout", "matmul_v2", "elementwise_add"}


@pytest.mark.slow
def test_the_trained_classifier_is_made_of_ops_that_onednn_runs_in_int8(trained_lab):
    """A non-global adaptive pool2d (no oneDNN INT8 kernel) or a narrow net would make
    INT8 slower than FP32; benchmarks/ and docs/run.md have the measured speed-up."""
    from paddle.base.proto import framework_pb2

    desc = framework_pb2.ProgramDesc()
    desc.ParseFromString(find_model_files(trained_lab.fp32).program.read_bytes())
    ops = [op for block in desc.blocks for op in block.ops]
    types = [op.type for op in ops]
    assert set(types) <= INT8_FRIENDLY_OPS, sorted(set(types) - INT8_FRIENDLY_OPS)
    assert types.count("conv2d") == 4 and types.count("matmul_v2") == 1
    for op in ops:
        if op.type == "pool2d":
            attrs = {a.name: a for a in op.attrs}
            assert not attrs["adaptive"].b and list(attrs["ksize"].ints) == [2, 2]


@pytest.mark.slow
def test_training_is_deterministic(trained_lab, tmp_path):
    """Two trainings from the same seed and data give byte-identical models."""
    again = export_model(trained_lab.settings, "small_cnn", out_dir=tmp_path / "fp32",
                         formats=("legacy",))
    assert again.sha256["legacy"] == trained_lab.export.sha256["legacy"]


def test_export_dry_run_prints_the_worker_commands_and_writes_nothing(lab_env, invoke_cli):
    proc = invoke_cli("models", "--export", "resnet50", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if not ln.startswith(("#", "set -"))]
    assert lines[0].startswith("FLAGS_enable_pir_api=0 ") and "--format legacy" in lines[0]
    assert lines[1].startswith("FLAGS_enable_pir_api=1 ") and "--format pir" in lines[1]
    assert not (Path(lab_env["INVOKE_LAB_WORK_DIR"]) / "models").exists()



def checkout_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the toolchain in another directory, with shifted line numbers in the
    worker modules, and a python reached through another path to the same venv."""
    clone = tmp_path / "elsewhere" / "checkout"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "toolchain", clone / "toolchain", ignore=ignore)
    shutil.copytree(ROOT / "recipes", clone / "recipes")
    for rel in ("toolchain/models/export.py", "toolchain/models/worker.py", "toolchain/quantize.py"):
        f = clone / rel
        f.write_text("# shifted\n" * 7 + f.read_text())
    python = Path(sys.executable)
    if sys.prefix != sys.base_prefix:      # a venv: reach it through another path too
        (tmp_path / "venv").symlink_to(sys.prefix, target_is_directory=True)
        python = tmp_path / "venv" / os.path.relpath(sys.executable, sys.prefix)
    return clone, python


def run_from(checkout: Path, python: Path, module: str, *args: str) -> dict:
    """`python -m module args` as a legacy-format worker, run from `checkout`."""
    env = worker_env(pir=False)
    env["PYTHONPATH"] = str(checkout)
    proc = subprocess.run([str(python), "-m", module, *args], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_a_legacy_export_has_no_call_stacks_and_the_same_sha256_from_another_checkout(tmp_path):
    """Paddle stores each op's Python call stack (absolute venv/checkout paths, our line
    numbers) in `op_callstack`; the export strips it, so a copy of the checkout in
    another directory, with shifted line numbers and another venv path, writes the same bytes."""
    clone, python = checkout_copy(tmp_path)
    args = ("toolchain.models.export", "--name", "small_cnn", "--format", "legacy", "--out")
    here = run_from(ROOT, Path(sys.executable), *args, str(tmp_path / "a"))
    there = run_from(clone, python, *args, str(tmp_path / "b"))
    assert here["sha256"] == there["sha256"]
    program = find_model_files(tmp_path / "a").program.read_bytes()
    assert program == find_model_files(tmp_path / "b").program.read_bytes()
    assert b"op_callstack" not in program and b".py" not in program
    assert str(ROOT).encode() not in program
