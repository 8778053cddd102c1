"""The cpp runner: the real demo binaries, compiled (real cmake/g++) against the
STAND-IN Paddle SDK of tests/standin_sdk (Paddle's C++ SDK cannot be had here).

What this proves: the runner's flags reach the binaries, their final JSON line
parses into a RunResult, and the predictions equal an independent Python (numpy)
computation of the stand-in's classifier. That the cpp and python runners give the
same top-1 per image on a real Paddle model needs a real Paddle C++ library:
benchmarks/runner_parity.py does it when one is given.
"""

from __future__ import annotations

import numpy as np
import pytest

from support.demo import expected_accuracy, make_images, write_bin
from support.lab import lab_env, lab_settings
from standin_sdk import standin_predict
from toolchain.errors import LabError
from toolchain.runners.run import run_accuracy, run_latency
from toolchain.runners.cpp import parse_demo_output, read_predictions
from toolchain.runners.python_engine import batch_indices, sample_order
from toolchain.runners.select import select_runner
from toolchain.state import save_demo_build, set_current_library


def _dataset(path, images, labels):
    from toolchain.data.sidecar import build_sidecar, dataset_digest, write_sidecar

    write_bin(path, images, labels)
    sha, size = dataset_digest(path)
    write_sidecar(path, build_sidecar(path, "bin", len(labels), labels, sha, size))
    return path


@pytest.fixture
def cpp_lab(tmp_path, demo_2x, standin_model):  # noqa: F811
    settings = lab_settings(lab_env(tmp_path))
    set_current_library(settings.lib_dir, demo_2x.lib, "standin-2.x", "manual")
    save_demo_build(settings.work_dir, {"lib": str(demo_2x.lib), "gpu": False, "paddle_api": "2.x",
                               "binaries": {"trt_clas": str(demo_2x.trt_clas),
                                            "test_acc": str(demo_2x.test_acc)},
                               "built_at": "test", "cmake_args": []})
    images, labels = make_images(13, standin_model, seed=3)
    data = _dataset(tmp_path / "val.bin", images, labels)
    return settings, data, images, labels


def test_parse_demo_output_takes_the_last_json_line():
    out = 'log line\n{"program": "trt_clas", "latency_ms": {"count": 1}}\n'
    assert parse_demo_output(out, "trt_clas")["program"] == "trt_clas"
    for bad, words in (("", "printed nothing"), ("hello\n", "not JSON"),
                       ('{"program": "trt_clas"}', "no latency_ms")):
        with pytest.raises(LabError, match=words):
            parse_demo_output(bad, "trt_clas")
    with pytest.raises(LabError, match="expected output of test_acc"):
        parse_demo_output(out, "test_acc")


def test_read_predictions_checks_the_index(tmp_path):
    p = tmp_path / "pred.txt"
    p.write_text("0 5 5\n1 2 3\n")
    assert read_predictions(p) == [5, 2]
    p.write_text("0 5 5\n2 2 3\n")
    with pytest.raises(LabError, match="bad predictions line 2"):
        read_predictions(p)


@pytest.mark.slow
def test_auto_picks_cpp_when_the_demo_is_built_for_the_current_library(cpp_lab, tmp_path):
    settings = cpp_lab[0]
    runner, reason = select_runner(settings, "auto")
    assert runner == "cpp" and "current library" in reason
    set_current_library(settings.lib_dir, tmp_path, "other", "manual")
    runner, reason = select_runner(settings, "auto")
    assert runner == "python" and "built for" in reason
    with pytest.raises(LabError, match="--runner cpp asked"):
        select_runner(settings, "cpp")


@pytest.mark.slow
def test_cpp_latency_parses_into_a_run_result(cpp_lab, standin_model):  # noqa: F811
    settings, data, images, labels = cpp_lab
    r = run_latency(settings, standin_model, "fp32", device="cpu", runner="auto",
                    batch_size=2, warmup=1, repeats=6, threads=2, data_file=data)
    assert (r.runner, r.kind, r.device, r.precision) == ("cpp", "latency", "cpu", "fp32")
    assert (r.batch_size, r.threads, r.repeats) == (2, 2, 6)
    assert r.latency_ms.count == 6 and r.latency_ms.min <= r.latency_ms.p50 <= r.latency_ms.max
    assert r.raw["program"] == "trt_clas" and r.provenance["paddle_api"] == "2.x"
    assert "--model_file=" + str(standin_model / "inference.pdmodel") in r.provenance["args"]
    # the demo draws the sample set (all 13 images) in the Python runner's seeded order:
    # the first timed batch follows the one warm-up batch
    seed = settings.run.seed
    drawn = batch_indices(sample_order(13, seed), 2, 1)
    assert (r.inputs, r.input_count, r.input_seed) == ("sample-set", 13, seed)
    assert r.first_batch["indices"] == drawn
    assert r.first_batch["predicted"] == \
        standin_predict(images[drawn], standin_model).argmax(1).tolist()
    assert r.first_batch["labels"] == labels[drawn].tolist()
    assert f"--seed={seed}" in r.provenance["args"]
    assert r.create_ms > 0 and r.first_run_ms > 0 and r.warm_p50_ms == r.latency_ms.p50
    assert r.engine_cache is None           # CPU: no TensorRT engine
    # the demo's own VmHWM at its end
    assert r.peak_rss_scope == "child process" and r.peak_rss_mb > 13 * 602112 / 2**20

    hot = run_latency(settings, standin_model, "fp32", device="cpu", runner="cpp",
                      batch_size=2, warmup=1, repeats=3, data_file=data, hot=True)
    assert (hot.inputs, hot.input_count, hot.input_seed) == ("hot", 2, None)
    assert not any(a.startswith("--order_file") for a in hot.provenance["args"])
    assert hot.first_batch["predicted"] == \
        standin_predict(images[:2], standin_model).argmax(1).tolist()
    assert hot.first_batch["labels"] == labels[:2].tolist()


@pytest.mark.slow
def test_cpp_sample_set_follows_sample_size_and_seed(cpp_lab, standin_model):  # noqa: F811
    settings, data, images, labels = cpp_lab
    r = run_latency(settings, standin_model, "fp32", device="cpu", runner="cpp",
                    batch_size=3, warmup=2, repeats=4, data_file=data, sample_size=5, seed=9)
    drawn = batch_indices(sample_order(5, 9), 3, 2)      # cycled: 5 images, batches of 3
    assert (r.inputs, r.input_count, r.input_seed) == ("sample-set", 5, 9)
    assert r.first_batch["indices"] == drawn and max(drawn) < 5
    assert r.first_batch["labels"] == labels[drawn].tolist()
    other = run_latency(settings, standin_model, "fp32", device="cpu", runner="cpp",
                        batch_size=3, warmup=2, repeats=4, data_file=data, sample_size=5,
                        seed=10)
    assert other.first_batch["indices"] == batch_indices(sample_order(5, 10), 3, 2)


@pytest.mark.slow
def test_cpp_accuracy_and_per_image_top1_equal_an_independent_computation(
        cpp_lab, standin_model):  # noqa: F811
    settings, data, images, labels = cpp_lab
    r = run_accuracy(settings, standin_model, data, "fp32", device="cpu", runner="cpp",
                     batch_size=4, predictions=True)
    top1, top5, per_image = expected_accuracy(images, labels, standin_model)
    assert r.runner == "cpp" and r.images == 13
    assert r.top1 == pytest.approx(top1) and r.top5 == pytest.approx(top5)
    assert r.raw["predictions"] == per_image.tolist()
    limited = run_accuracy(settings, standin_model, data, "fp32", device="cpu", runner="cpp",
                           batch_size=1, limit=5, predictions=True)
    assert limited.images == 5 and limited.raw["predictions"] == per_image[:5].tolist()
    assert np.isfinite(limited.throughput_ips)


@pytest.mark.slow
def test_cpp_gpu_on_a_cpu_build_is_refused(cpp_lab, standin_model):  # noqa: F811
    settings = cpp_lab[0]
    with pytest.raises(LabError, match="CPU library"):
        run_latency(settings, standin_model, "fp32", device="gpu", runner="cpp", repeats=1)


@pytest.mark.slow
def test_cpp_bf16_reaches_the_demo_and_its_refusal_comes_back(cpp_lab, standin_model,
                                                               tmp_path, monkeypatch):
    """`run --bf16 --runner cpp`: past the CPU gate (a cpuinfo with amx_bf16 here, so the
    test does not depend on CI's CPU) the precision reaches trt_clas as --precision=bf16. The
    stand-in 2.x library has no EnableMkldnnBfloat16 (like Paddle < 2.1), so the demo refuses,
    and its refusal comes back as one LabError naming the call."""
    from toolchain.doctor import collectors

    settings, data, _images, _labels = cpp_lab
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16\n\n")
    monkeypatch.setattr(collectors, "CPUINFO", cpuinfo)
    with pytest.raises(LabError) as err:
        run_latency(settings, standin_model, "bf16", device="cpu", runner="cpp",
                    batch_size=2, warmup=1, repeats=2, threads=1, data_file=data)
    text = " ".join(str(x) for x in (err.value.message, err.value.where, err.value.hint))
    assert "EnableMkldnnBfloat16" in text, text
    assert "--precision=bf16" in text or "trt_clas" in text, text
