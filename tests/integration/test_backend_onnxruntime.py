"""ONNX Runtime through paddle2onnx against the real Paddle engine, on the trained lab (#17)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from toolchain.backends import CannotRun
from toolchain.backends import onnxruntime as ort_backend
from toolchain.data.binfmt import DatasetReader
from toolchain.errors import LabError
from toolchain.models.layout import find_model_files
from toolchain.runners.configplan import PlanOptions, cpu_plan
from toolchain.runners.python_engine import Engine

pytestmark = pytest.mark.slow
if ort_backend.available():
    pytest.skip(ort_backend.available(), allow_module_level=True)

HELD_OUT = 100        # val.bin of the trained lab


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("onnx_cache")


@pytest.fixture(scope="module")
def val_images(trained_lab) -> np.ndarray:
    with DatasetReader(trained_lab.val) as reader:
        return reader.images(0, HELD_OUT)


@pytest.fixture(scope="module")
def fp32_engine(trained_lab, cache_dir):
    """The one conversion of the legacy FP32 model in this module."""
    return ort_backend.load(find_model_files(trained_lab.fp32), "fp32", 1, cache_dir)


@pytest.fixture
def conversions(monkeypatch) -> list:
    """The paddle2onnx child processes started during a test (the real ones, counted)."""
    started: list = []
    real_run = subprocess.run

    def counted(cmd, *args, **kwargs):
        started.append(cmd)
        return real_run(cmd, *args, **kwargs)
    monkeypatch.setattr(ort_backend.subprocess, "run", counted)
    return started


def logits(infer, images: np.ndarray, batch: int = 10) -> np.ndarray:
    return np.concatenate([infer(images[i:i + batch]) for i in range(0, len(images), batch)])


def paddle_logits(model_dir: Path, precision: str, images: np.ndarray) -> np.ndarray:
    kind = "quantized" if precision == "int8" else "fp32"
    engine = Engine(find_model_files(model_dir),
                    cpu_plan(precision, kind, PlanOptions(threads=1)))
    return logits(engine.infer, images)


def test_fp32_logits_and_top1_agree_with_paddle(trained_lab, fp32_engine, val_images):
    import onnxruntime

    assert fp32_engine.model == str(trained_lab.fp32)
    assert fp32_engine.onnx_path.is_file() and fp32_engine.create_ms > 0
    ort_out = logits(fp32_engine.infer, val_images)
    ref = paddle_logits(trained_lab.fp32, "fp32", val_images)
    assert ort_out.shape == ref.shape == (HELD_OUT, 10) and ort_out.dtype == np.float32
    assert np.abs(ort_out - ref).max() <= 1e-4 * np.abs(ref).max()
    assert (ort_out.argmax(1) == ref.argmax(1)).all()
    assert ["intra_op_num_threads", 1] in fp32_engine.applied
    assert ort_backend.version().startswith(f"{onnxruntime.__version__} (paddle2onnx ")
    out, ms = fp32_engine.timed(val_images[:1])
    assert ms > 0 and np.array_equal(out, ort_out[:1])


def test_conversion_is_cached_across_loads(trained_lab, fp32_engine, cache_dir, conversions):
    stamp = fp32_engine.onnx_path.stat().st_mtime_ns
    again = ort_backend.load(find_model_files(trained_lab.fp32), "fp32", 2, cache_dir)
    assert conversions == [] and fp32_engine.convert_ms > 0
    assert again.convert_ms is None and again.onnx_path == fp32_engine.onnx_path
    assert again.onnx_path.stat().st_mtime_ns == stamp
    files = find_model_files(trained_lab.fp32)
    assert again.onnx_path.parent.name == (f"{files.sha256()[:16]}-"
                                           f"{ort_backend.paddle2onnx_version()}")
    assert sorted(p.name for p in again.onnx_path.parent.iterdir()) == ["model.onnx"]
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".")]   # no staging left


def test_pir_model_converts_and_matches_the_legacy_one(trained_lab, fp32_engine, cache_dir,
                                                       val_images):
    files = find_model_files(Path(trained_lab.export.dirs["pir"]))
    assert files.format == "pir"
    engine = ort_backend.load(files, "fp32", 1, cache_dir)
    assert engine.onnx_path != fp32_engine.onnx_path
    images = val_images[:20]
    np.testing.assert_allclose(logits(engine.infer, images), logits(fp32_engine.infer, images),
                               rtol=1e-5, atol=1e-5)


def test_int8_model(trained_lab, cache_dir, val_images, conversions):
    """paddle2onnx 2.1.0 maps quantize_linear to FP8 only; should a release convert INT8
    QDQ, ORT's predictions must agree with Paddle's oneDNN INT8."""
    files = find_model_files(trained_lab.int8)
    try:
        engine = ort_backend.load(files, "int8", 1, cache_dir)
    except CannotRun as err:
        assert err.reason == str(err)
        assert err.reason.startswith(f"paddle2onnx {ort_backend.paddle2onnx_version()} cannot "
                                     "convert an INT8 model: it maps quantize_linear/"
                                     "dequantize_linear to FP8 only")
        assert "Only support e4m3 or e5m2" in err.reason and "\n" not in err.reason
        assert not any(cache_dir.glob(f"{files.sha256()[:16]}-*"))
        with pytest.raises(CannotRun) as again:      # the same answer, not a second run
            ort_backend.load(files, "int8", 2, cache_dir)
        assert again.value.reason == err.reason and len(conversions) == 1
        return
    ort_top1 = logits(engine.infer, val_images).argmax(1)
    paddle_top1 = paddle_logits(trained_lab.int8, "int8", val_images).argmax(1)
    assert (ort_top1 == paddle_top1).mean() >= 0.95


def test_bf16_and_int8_of_an_fp32_model_are_refused_before_converting(trained_lab, tmp_path):
    files = find_model_files(trained_lab.fp32)
    with pytest.raises(CannotRun, match="no bfloat16 kernels on the CPU"):
        ort_backend.load(files, "bf16", 1, tmp_path)
    with pytest.raises(CannotRun, match="INT8 needs a quantized model"):
        ort_backend.load(files, "int8", 1, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_pdmodel_is_a_reason_not_a_traceback(trained_lab, tmp_path):
    model = tmp_path / "corrupt"
    model.mkdir()
    program = (trained_lab.fp32 / "model.pdmodel").read_bytes()
    (model / "model.pdmodel").write_bytes(program[:len(program) // 3])
    shutil.copy(trained_lab.fp32 / "model.pdiparams", model / "model.pdiparams")
    with pytest.raises(CannotRun) as caught:
        ort_backend.load(find_model_files(model), "fp32", 1, tmp_path / "cache")
    reason = caught.value.reason
    assert reason.startswith("paddle2onnx failed: ") and "\n" not in reason
    assert "parse program_desc" in reason and "Traceback" not in reason
    assert not list((tmp_path / "cache").glob("*/model.onnx"))


@pytest.mark.parametrize("package", ["onnxruntime", "paddle2onnx"])
def test_available_names_a_missing_package_and_the_extra(package):
    code = (f"import sys, json; sys.modules[{package!r}] = None\n"
            "from toolchain import backends\n"
            "from toolchain.backends import onnxruntime as b\n"
            "from toolchain.errors import LabError\n"
            "try:\n"
            "    backends.require_installed(['onnxruntime'])\n"
            "except LabError as err:\n"
            "    print(json.dumps([b.available(), err.message, err.hint]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    reason, message, hint = json.loads(done.stdout.splitlines()[-1])
    assert reason.startswith(f"{package} is not installed")
    assert message == f"backend onnxruntime: {reason}" and "'.[backends]'" in hint
    assert ort_backend.available() is None


def test_a_cache_folder_that_cannot_be_written_is_a_lab_error(trained_lab, tmp_path,
                                                              conversions):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(LabError, match="cannot write the converted model under") as caught:
        ort_backend.load(find_model_files(trained_lab.fp32), "fp32", 1, blocker)
    assert caught.value.where.startswith(str(blocker)) and conversions == []
