"""The model zoo: list, export in both formats, the trained classifier, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner_helpers import lab_settings, trained_lab  # noqa: F401
from toolchain.errors import LabError
from toolchain.models.layout import find_model_files
from toolchain.models.zoo import export_model, get_model, list_models


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
    settings = lab_settings(tmp_path / "work")
    a = export_model(settings, "mobilenet_v1", progress=False)
    legacy, pir = find_model_files(a.dirs["legacy"]), find_model_files(a.dirs["pir"])
    assert (legacy.format, legacy.program.name) == ("legacy", "model.pdmodel")
    assert (pir.format, pir.program.name) == ("pir", "model.json")
    assert not legacy.quantized() and not pir.quantized()
    assert legacy.record()["kind"] == "seeded"
    b = export_model(settings, "mobilenet_v1", out_dir=tmp_path / "again", progress=False)
    assert a.sha256 == b.sha256                       # same seed, same bytes
    assert not list(tmp_path.glob("work/models/.*"))  # no temp dirs left behind


@pytest.mark.slow
def test_the_trained_classifier_learns_the_held_out_digits(trained_lab):
    t = trained_lab.export.train
    assert t["train_images"] == 300 and t["val_images"] == 100
    assert t["val_top1"] >= 0.8                       # chance is 0.10
    assert t["seconds"] < 120                         # well under a minute when the host is idle
    assert set(trained_lab.export.dirs) == {"legacy", "pir"}


@pytest.mark.slow
def test_training_is_deterministic(trained_lab, tmp_path):
    """Two trainings from the same seed and data give byte-identical models."""
    again = export_model(trained_lab.settings, "small_cnn", out_dir=tmp_path / "fp32",
                         formats=("legacy",), progress=False)
    assert again.sha256["legacy"] == trained_lab.export.sha256["legacy"]


def test_export_dry_run_prints_the_worker_commands_and_writes_nothing(lab_env, invoke_cli):
    proc = invoke_cli("models", "--export", "resnet50", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if not ln.startswith("#")]
    assert lines[0].startswith("FLAGS_enable_pir_api=0 ") and "--format legacy" in lines[0]
    assert lines[1].startswith("FLAGS_enable_pir_api=1 ") and "--format pir" in lines[1]
    assert not (Path(lab_env["INVOKE_LAB_WORK_DIR"]) / "models").exists()
