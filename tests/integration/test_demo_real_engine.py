"""The demo against the REAL Paddle Inference engine, compared with Python paddle.inference.

The paddlepaddle wheel's libpaddle.so exports the C++ inference API (no headers,
no libpaddle_inference.so); tests/standin_sdk/wheel.py makes an installed-library
tree around it. demo/ compiles unchanged against it, runs real exported models
(3.x PIR .json and legacy .pdmodel), and its predictions must equal those of the
Python API of the same engine on the same input and configuration (the "checked
by" of issue 5, on CPU).
"""

from __future__ import annotations

import numpy as np
import pytest

from support.demo import cmake_build, last_json, run_demo, write_bin
from standin_sdk.wheel import (build_wheel_sdk, export_test_model, python_config,
                               wheel_sdk_unavailable)
from toolchain.build_demo import check_binary

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel_demo(tmp_path_factory):
    reason = wheel_sdk_unavailable()
    if reason:
        pytest.skip(f"the real engine is not available here: {reason}")
    root = tmp_path_factory.mktemp("wheel_demo")
    lib = build_wheel_sdk(root / "paddle_inference")
    proc = cmake_build(lib, root / "build")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root / "build"


@pytest.fixture(scope="module")
def real_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("real_models")
    return {"json": export_test_model(root / "pir"),
            "pdmodel": export_test_model(root / "legacy", legacy=True)}


def python_logits(demo_json: dict, images: np.ndarray, batch: int) -> np.ndarray:
    from paddle import inference

    predictor = inference.create_predictor(python_config(demo_json))
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    out = []
    for start in range(0, len(images), batch):
        chunk = images[start:start + batch]
        handle.reshape(list(chunk.shape))
        handle.copy_from_cpu(chunk)
        predictor.run()
        out.append(predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu())
    return np.concatenate(out).reshape(len(images), -1)


@pytest.mark.parametrize("layout", ["json", "pdmodel"])
def test_real_engine_predictions_equal_python(wheel_demo, real_models, layout, tmp_path):
    model = real_models[layout]
    rng = np.random.default_rng(1)
    images = rng.standard_normal((7, 3, 224, 224), dtype=np.float32)
    labels = rng.integers(0, 1000, 7).astype(np.int64)
    data = write_bin(tmp_path / "val.bin", images, labels)
    preds = tmp_path / "preds.txt"
    proc = run_demo(wheel_demo / "test_acc", f"--model_dir={model}", f"--data_file={data}",
                    "--batch_size=3", f"--predictions_out={preds}", timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc.stdout)
    assert out["model_layout"] == layout and out["paddle_version"] and out["num_classes"] == 1000
    logits = python_logits(out, images, 3)
    ours = [int(ln.split()[1]) for ln in preds.read_text().splitlines()]
    assert ours == logits.argmax(1).tolist()
    # labels := the engine's own top-1 for some images, so top1/top5 are not trivial
    labels[:4] = logits.argmax(1)[:4]
    data = write_bin(tmp_path / "val2.bin", images, labels)
    proc = run_demo(wheel_demo / "test_acc", f"--model_dir={model}", f"--data_file={data}",
                    "--batch_size=3", "--json_only", timeout=300)
    out = last_json(proc.stdout)
    rank = (logits > logits[np.arange(7), labels][:, None]).sum(1)
    assert out["top1"] == pytest.approx(float((logits.argmax(1) == labels).mean()))
    assert out["top5"] == pytest.approx(float((rank < 5).mean()))

    latency = run_demo(wheel_demo / "trt_clas", f"--model_dir={model}", f"--data_file={data}",
                       "--batch_size=4", "--repeats=5", "--warmup=1", "--json_only", timeout=300)
    assert latency.returncode == 0, latency.stderr
    first = last_json(latency.stdout)["first_batch"]
    assert first["predicted"] == logits[:4].argmax(1).tolist()
    assert first["labels"] == labels[:4].tolist()


def test_real_engine_sample_set_draws_what_the_python_runner_draws(wheel_demo, real_models,
                                                                   tmp_path):
    """A seeded run: trt_clas with the order file the cpp runner writes times the same
    images as the Python runner, and the real engine predicts the same for them."""
    from toolchain.runners.cpp import write_order_file
    from toolchain.runners.run import run_latency
    from toolchain.settings import LabSettings

    rng = np.random.default_rng(3)
    images = rng.standard_normal((9, 3, 224, 224), dtype=np.float32)
    labels = rng.integers(0, 1000, 9).astype(np.int64)
    data = write_bin(tmp_path / "val.bin", images, labels)
    settings = LabSettings.from_mapping({"work_dir": str(tmp_path / "work")})
    py = run_latency(settings, real_models["json"], "fp32", device="cpu", runner="python",
                     batch_size=2, warmup=2, repeats=3, threads=1, data_file=data,
                     sample_size=7, seed=5)
    order = write_order_file(tmp_path / "order.i64", data, 7, 5)
    assert sorted(order) == list(range(7))
    proc = run_demo(wheel_demo / "trt_clas", f"--model_dir={real_models['json']}",
                    f"--data_file={data}", f"--order_file={tmp_path / 'order.i64'}", "--seed=5",
                    "--batch_size=2", "--warmup=2", "--repeats=3", "--threads=1", "--json_only",
                    timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc.stdout)
    assert (out["inputs"], out["input_count"], out["input_seed"]) == \
        (py.inputs, py.input_count, py.input_seed) == ("sample-set", 7, 5)
    assert out["first_batch"]["indices"] == py.first_batch["indices"]
    assert out["first_batch"]["labels"] == py.first_batch["labels"] == \
        labels[py.first_batch["indices"]].tolist()
    assert out["first_batch"]["predicted"] == py.first_batch["predicted"]
    # a real predictor: creation and the first run take time; the process holds the
    # sample set and the model
    assert out["create_ms"] > 0 and out["first_run_ms"] > 0
    assert out["warm_p50_ms"] == out["latency_ms"]["p50"]
    assert out["peak_rss_mb"] > 7 * 602112 / 2**20 and out.get("engine_cache") is None


def test_real_engine_binaries_resolve_and_bad_model(wheel_demo, tmp_path):
    check = check_binary(wheel_demo / "trt_clas")
    assert check.ok, check.unresolved
    assert any(e.name == "libpaddle.so" for e in check.libraries)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "inference.json").write_text("{not a program")
    (bad / "inference.pdiparams").write_bytes(b"\0" * 16)
    proc = run_demo(wheel_demo / "trt_clas", f"--model_dir={bad}", "--repeats=1", timeout=300)
    assert proc.returncode == 1
    assert "could not load the model" in proc.stderr and "terminate called" not in proc.stderr


def demo_predictions(demo_dir, model_dir, data, precision: str, tmp_path):
    """test_acc on `data` in batches of 3: (its JSON line, the predicted class per image)."""
    preds = tmp_path / "preds.txt"
    proc = run_demo(demo_dir / "test_acc", f"--model_dir={model_dir}", f"--data_file={data}",
                    f"--precision={precision}", "--batch_size=3",
                    f"--predictions_out={preds}", "--json_only", timeout=300)
    assert proc.returncode == 0, proc.stderr
    ours = [int(ln.split()[1]) for ln in preds.read_text().splitlines()]
    return last_json(proc.stdout), ours


def test_real_engine_int8_on_onednn_equals_python(wheel_demo, real_models, tmp_path):
    """A real INT8 model (quantize_model on the legacy FP32 export), run
    with --precision int8 (oneDNN INT8): the same predictions as Python."""
    quantize = pytest.importorskip("toolchain.quantize",
                                   reason="toolchain.quantize (issue 7) is not in this tree")
    from toolchain.settings import LabSettings

    rng = np.random.default_rng(2)
    images = rng.standard_normal((6, 3, 224, 224), dtype=np.float32)
    data = write_bin(tmp_path / "val.bin", images, np.zeros(6, np.int64))
    settings = LabSettings.from_mapping({"work_dir": str(tmp_path / "work")})
    quantize.quantize_model(settings, real_models["pdmodel"], data, output=tmp_path / "int8",
                            algo="avg", batch_size=3, batch_nums=2)
    out, ours = demo_predictions(wheel_demo, tmp_path / "int8", data, "int8", tmp_path)
    assert out["precision"] == "int8"
    assert any("Int8" in c for c in out["config_calls"])
    logits = python_logits(out, images, 3)
    assert ours == logits.argmax(1).tolist()


def test_real_engine_bf16_on_onednn_equals_python(wheel_demo, real_models, tmp_path):
    """--precision bf16 on the FP32 model (oneDNN bfloat16): finite logits, the same
    predictions as Python on the same configuration, the FP32 top-1 for most images."""
    from toolchain.doctor.collectors import cpu_bf16_flags

    if not cpu_bf16_flags():
        pytest.skip("this CPU has no avx512_bf16 / amx_bf16")
    rng = np.random.default_rng(3)
    images = rng.standard_normal((6, 3, 224, 224), dtype=np.float32)
    data = write_bin(tmp_path / "val.bin", images, np.zeros(6, np.int64))
    out, ours = demo_predictions(wheel_demo, real_models["pdmodel"], data, "bf16", tmp_path)
    assert out["precision"] == "bf16"
    assert any("Bfloat16" in c for c in out["config_calls"])
    logits = python_logits(out, images, 3)
    assert np.isfinite(logits).all()
    assert ours == logits.argmax(1).tolist()
    gpu = run_demo(wheel_demo / "trt_clas", f"--model_dir={real_models['pdmodel']}",
                   "--precision=bf16", "--device=gpu", "--json_only", timeout=300)
    assert gpu.returncode != 0 and "bf16" in gpu.stderr


def test_real_engine_nan_output_stops_both_programs(wheel_demo, real_models, tmp_path):
    """A model whose output holds NaN (one bias set to NaN): test_acc and trt_clas stop
    with one error naming the model and the first image, not a table of numbers."""
    import shutil

    from support.int8 import poison_with_nan

    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for suffix in (".pdmodel", ".pdiparams"):
        shutil.copy(real_models["pdmodel"] / f"inference{suffix}", legacy / f"model{suffix}")
    nan = tmp_path / "nan_model"
    poison_with_nan(legacy, nan)
    rng = np.random.default_rng(4)
    data = write_bin(tmp_path / "val.bin", rng.standard_normal((6, 3, 224, 224),
                                                               dtype=np.float32),
                     np.zeros(6, np.int64))
    acc = run_demo(wheel_demo / "test_acc", f"--model_dir={nan}", f"--data_file={data}",
                   "--batch_size=3", "--json_only", timeout=300)
    assert acc.returncode == 1, acc.stdout + acc.stderr
    assert f"{nan} produced " in acc.stderr
    assert "NaN in the output (first in timed batch 0, image 0 of it)" in acc.stderr
    assert "not a measurement" in acc.stderr and '"top1"' not in acc.stdout
    lat = run_demo(wheel_demo / "trt_clas", f"--model_dir={nan}", "--repeats=3",
                   "--json_only", timeout=300)
    assert lat.returncode == 1 and "first in timed batch 0, image 0 of it" in lat.stderr
    # the unpoisoned model passes the same check
    ok = run_demo(wheel_demo / "trt_clas", f"--model_dir={legacy}", "--repeats=3",
                  "--json_only", timeout=300)
    assert ok.returncode == 0, ok.stderr
