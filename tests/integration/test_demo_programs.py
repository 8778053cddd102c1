"""The C++ demo (demo/) compiled unchanged with real cmake/g++ against the stand-in
Paddle Inference SDK in both API shapes, run with LD_LIBRARY_PATH unset.

Accuracy is checked against numpy (tests/standin_sdk standin_predict) on datasets
the tests write in both formats; bad input through the real binaries.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from support.demo import (NUM_CLASSES, cmake_build, expected_accuracy, last_json, make_images,
                          run_demo, write_bin, write_slim_dir)
from standin_sdk import build_standin_sdk, standin_predict, write_standin_model

pytestmark = pytest.mark.slow

LATENCY_KEYS = {"count", "min", "mean", "p50", "p90", "p99", "max"}


@pytest.fixture(params=["2.x", "1.x"])
def demo(request, demo_2x, demo_1x):
    return demo_2x if request.param == "2.x" else demo_1x


@pytest.fixture(scope="module")
def datasets(tmp_path_factory, standin_model):
    root = tmp_path_factory.mktemp("data")
    images, labels = make_images(23, standin_model, seed=3)
    return {"images": images, "labels": labels,
            "bin": write_bin(root / "val.bin", images, labels),
            "slim": write_slim_dir(root / "imagenet-eval-binary", images, labels)}


def rpath_of(binary: Path) -> tuple[str, list[str]]:
    out = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(r"\((RPATH|RUNPATH)\)\s+Library r(?:un)?path: \[(.*)\]", out)
    assert m, out
    return m.group(1), m.group(2).split(":")


def test_build_by_hand_detects_layout_abi_and_sets_rpath(demo_2x, demo_1x):
    cache2 = (demo_2x.build_dir / "CMakeCache.txt").read_text()
    assert "PADDLE_LIB:PATH=" in cache2 and "CMAKE_BUILD_TYPE:STRING=Release" in cache2
    kind, paths = rpath_of(demo_2x.trt_clas)
    assert kind == "RPATH"          # DT_RPATH also serves the library's own dependencies
    assert "" not in paths          # an empty entry would mean the current directory
    assert str(demo_2x.lib / "paddle" / "lib") in paths
    assert str(demo_2x.lib / "third_party" / "install" / "mklml" / "lib") in paths
    # include-only third_party dirs add no library path
    assert not any("protobuf" in p for p in paths)
    kind, paths = rpath_of(demo_1x.test_acc)
    assert paths == [str(demo_1x.lib / "paddle" / "lib")]
    # The ABI each library was built with was detected from its symbols (the 1.x
    # stand-in uses ABI 0; linking fails otherwise, see test_wrong_abi_fails_to_link).
    assert "-D_GLIBCXX_USE_CXX11_ABI=1" in compile_flags(demo_2x.build_dir)
    assert "-D_GLIBCXX_USE_CXX11_ABI=0" in compile_flags(demo_1x.build_dir)
    assert "-DPADDLE_API_1X=1" in compile_flags(demo_1x.build_dir)
    assert "-DPADDLE_TRT_SIGNATURE=3" in compile_flags(demo_2x.build_dir)
    assert "-DPADDLE_TRT_SIGNATURE=1" in compile_flags(demo_1x.build_dir)


def compile_flags(build_dir: Path) -> str:
    """The compile definitions CMake generated (Ninja or Makefiles)."""
    files = [build_dir / "build.ninja", *build_dir.rglob("flags.make")]
    return "\n".join(f.read_text() for f in files if f.is_file())


@pytest.mark.parametrize("fmt", ["bin", "slim"])
def test_trt_clas_latency_and_first_batch(demo, datasets, standin_model, fmt):
    proc = run_demo(demo.trt_clas, f"--model_dir={standin_model}", f"--data_file={datasets[fmt]}",
                    "--batch_size", "4", "--warmup=2", "--repeats=30", "--threads=2")
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc.stdout)
    assert out["program"] == "trt_clas" and out["paddle_api"] == demo.api
    assert (out["device"], out["precision"], out["batch_size"], out["threads"],
            out["warmup"], out["repeats"]) == ("cpu", "fp32", 4, 2, 2, 30)
    lat = out["latency_ms"]
    assert set(lat) == LATENCY_KEYS and lat["count"] == 30
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert lat["min"] <= lat["mean"] <= lat["max"]
    assert out["throughput_ips"] == pytest.approx(4 * 1000 / lat["mean"], rel=1e-6)
    logits = standin_predict(datasets["images"][:4], standin_model)
    assert out["first_batch"]["predicted"] == logits.argmax(1).tolist()
    assert out["first_batch"]["labels"] == datasets["labels"][:4].tolist()
    assert out["num_classes"] == NUM_CLASSES
    assert "p50" in proc.stdout and "input copy + run + output copy" in proc.stdout
    assert "label" in proc.stdout


def test_trt_clas_reports_cold_start_and_peak_rss(demo_2x, datasets, standin_model):
    proc = run_demo(demo_2x.trt_clas, f"--model_dir={standin_model}",
                    f"--data_file={datasets['bin']}", "--batch_size=4", "--warmup=3",
                    "--repeats=10")
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc.stdout)
    assert out["create_ms"] > 0 and out["first_run_ms"] > 0
    assert out["warm_p50_ms"] == out["latency_ms"]["p50"]
    # VmHWM of the process: at least the batch it holds (4 images of 602112 bytes)
    assert out["peak_rss_mb"] > 4 * 602112 / 2**20
    assert out.get("engine_cache") is None            # no TensorRT engine on CPU
    assert (out["inputs"], out["input_count"]) == ("hot", 4)
    assert "input_seed" not in out and "indices" not in out["first_batch"]
    assert "first run" in proc.stdout
    noise = last_json(run_demo(demo_2x.trt_clas, f"--model_dir={standin_model}", "--repeats=2",
                               "--warmup=0", "--json_only").stdout)
    assert noise["inputs"] == "seeded-noise" and "input_count" not in noise
    # warm-up 0: the first run is the first timed batch
    assert noise["latency_ms"]["min"] <= noise["first_run_ms"] <= noise["latency_ms"]["max"]


def _write_order(path: Path, order) -> Path:
    np.asarray(order, dtype="<i8").tofile(path)
    return path


@pytest.mark.parametrize("fmt", ["bin", "slim"])
def test_trt_clas_order_file_draws_the_named_images(demo, datasets, standin_model, fmt,
                                                    tmp_path):
    images, labels = datasets["images"], datasets["labels"]
    order = [9, 2, 14, 0, 5, 11, 7, 3, 1, 12, 4, 8, 6, 13, 10]      # images 0..14 of 23
    order_file = _write_order(tmp_path / "order.i64", order)
    proc = run_demo(demo.trt_clas, f"--model_dir={standin_model}", f"--data_file={datasets[fmt]}",
                    f"--order_file={order_file}", "--seed=41", "--batch_size=4", "--warmup=3",
                    "--repeats=5")
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc.stdout)
    assert (out["inputs"], out["input_count"], out["input_seed"]) == ("sample-set", 15, 41)
    # warm-up batches 0..2 take order[0:12]; the first timed batch is the next 4, cycled
    expected = [order[i % len(order)] for i in range(12, 16)]
    first = out["first_batch"]
    assert first["indices"] == expected == [6, 13, 10, 9]
    assert first["predicted"] == standin_predict(images[expected], standin_model).argmax(1).tolist()
    assert first["labels"] == labels[expected].tolist()
    assert out["latency_ms"]["count"] == 5 and out["create_ms"] > 0
    # the images are held in memory: at least the 15 of the sample set
    assert out["peak_rss_mb"] > 15 * 602112 / 2**20


def test_trt_clas_bad_order_file(demo_2x, datasets, standin_model, tmp_path):
    run = lambda *a: run_demo(demo_2x.trt_clas, f"--model_dir={standin_model}",  # noqa: E731
                              "--repeats=1", *a)
    data = f"--data_file={datasets['bin']}"
    _assert_one_clear_error(run(data, f"--order_file={tmp_path / 'none.i64'}"),
                            "does not exist", "--order_file")
    ragged = tmp_path / "ragged.i64"
    ragged.write_bytes(b"\0" * 12)
    _assert_one_clear_error(run(data, f"--order_file={ragged}"), "not a non-empty multiple of 8")
    far = _write_order(tmp_path / "far.i64", [0, 23])
    _assert_one_clear_error(run(data, f"--order_file={far}"), "names image 23 (entry 1)",
                            "has 23 images")
    _assert_one_clear_error(run(f"--order_file={far}"), "--order_file needs a dataset", code=2)
    _assert_one_clear_error(run(data, f"--order_file={far}", "--seed=-1"), "out of range",
                            code=2)


def test_trt_clas_help_says_what_the_timer_covers(demo_2x):
    proc = run_demo(demo_2x.trt_clas, "--help")
    assert proc.returncode == 0
    assert "input copy" in proc.stdout and "output copy" in proc.stdout
    for flag in ("--model_dir", "--repeats, --repeat_times", "--use_int8, --int8", "--use_calib",
                 "--data_file, --data_dir", "--trt_cache_dir", "--workspace_mb",
                 "--min_subgraph_size", "--json_only", "--device", "--precision",
                 "--order_file", "--seed"):
        assert flag in proc.stdout, flag
    acc = run_demo(demo_2x.test_acc, "--help")
    assert "--limit" in acc.stdout and "--predictions_out" in acc.stdout


def test_trt_clas_tutorial_command_line(demo, datasets, standin_model):
    """tools/run.sh of the PaddleSlim tutorial, on CPU (its GPU flags are accepted)."""
    proc = run_demo(demo.trt_clas, f"--model_dir={standin_model}", "--batch_size=1",
                    "--use_calib=false", "--use_int8=true",
                    f"--data_file={datasets['slim'] / '0.data'}", "--repeat_times=1")
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc.stdout)
    assert out["precision"] == "int8" and out["repeats"] == 1
    assert out["first_batch"]["labels"] == [int(datasets["labels"][0])]
    calls = out["config_calls"]
    assert "EnableMKLDNN()" in calls and "DisableGpu()" in calls
    if demo.api == "2.x":
        assert "EnableMkldnnInt8()" in calls
    else:
        assert "SwitchUseFeedFetchOps(0)" in calls and "EnableMkldnnInt8()" not in calls
        assert "EnableMkldnnInt8" in proc.stderr     # the note about Paddle < 2.3


def test_trt_clas_without_data_uses_synthetic_input(demo_2x, standin_model):
    proc = run_demo(demo_2x.trt_clas, f"--model_dir={standin_model}", "--repeats=5",
                    "--warmup=0", "--json_only")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 1
    out = last_json(proc.stdout)
    assert out["input"] == "synthetic" and "first_batch" not in out


@pytest.mark.parametrize("fmt", ["bin", "slim"])
def test_test_acc_matches_numpy(demo, datasets, standin_model, fmt, tmp_path):
    images, labels = datasets["images"], datasets["labels"]
    preds = tmp_path / "preds.txt"
    proc = run_demo(demo.test_acc, f"--model_dir={standin_model}",
                    f"--data_file={datasets[fmt]}", "--batch_size=5", "--progress_every=10",
                    f"--predictions_out={preds}")
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc.stdout)
    top1, top5, per_image = expected_accuracy(images, labels, standin_model)
    assert 0 < top1 < 1 and top1 < top5
    assert out["images"] == 23 and out["dataset_images"] == 23
    assert out["top1"] == pytest.approx(top1, abs=1e-9)
    assert out["top5"] == pytest.approx(top5, abs=1e-9)
    assert out["data_format"] == fmt
    # 23 images in batches of 5: four full batches are timed, the short last one is not
    assert out["latency_ms"]["count"] == 4 and out["repeats"] == 4
    rows = [tuple(map(int, ln.split())) for ln in preds.read_text().splitlines()]
    assert rows == [(i, int(per_image[i]), int(labels[i])) for i in range(23)]
    progress = [ln for ln in proc.stderr.splitlines() if re.search(r"\d+/23 images", ln)]
    assert len(progress) == 3 and progress[-1].split()[1] == "23/23"
    assert "top1 acc" in proc.stdout


def test_test_acc_limit_and_tutorial_flags(demo, datasets, standin_model):
    images, labels = datasets["images"][:10], datasets["labels"][:10]
    proc = run_demo(demo.test_acc, f"--model_dir={standin_model}",
                    f"--data_dir={datasets['slim']}", "--int8=True", "--limit", "10",
                    "--json_only")
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc.stdout)
    top1, top5, _ = expected_accuracy(images, labels, standin_model)
    assert (out["images"], out["precision"]) == (10, "int8")
    assert out["top1"] == pytest.approx(top1) and out["top5"] == pytest.approx(top5)


@pytest.mark.parametrize("layout", ["pdmodel", "json", "combined", "dir"])
def test_model_dir_discovery(demo_2x, datasets, tmp_path, layout):
    model = write_standin_model(tmp_path / layout, num_classes=NUM_CLASSES, seed=11,
                                layout=layout)
    proc = run_demo(demo_2x.test_acc, f"--model_dir={model}", f"--data_file={datasets['bin']}",
                    "--json_only")
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc.stdout)
    expect = {"dir": "__model__"}.get(layout, layout)
    assert out["model_layout"] == expect
    top1, _, _ = expected_accuracy(datasets["images"], datasets["labels"], model)
    assert out["top1"] == pytest.approx(top1)
    if layout == "json":
        assert "EnableNewIR(1)" in out["config_calls"]


def test_model_dir_named_model_beside_a_sidecar(demo_2x, datasets, tmp_path):
    """<name>.json + <name>.pdiparams next to another .json (the lab's lab_model.json
    sidecar, as `invoke models` writes it): the sidecar has no .pdiparams, so the model
    is still found; two complete models in one folder are refused with a fix."""
    src = write_standin_model(tmp_path / "src", num_classes=NUM_CLASSES, seed=5, layout="json")
    named = tmp_path / "named"
    named.mkdir()
    shutil.copy(src / "inference.json", named / "model.json")
    shutil.copy(src / "inference.pdiparams", named / "model.pdiparams")
    (named / "lab_model.json").write_text('{"name": "x"}')
    proc = run_demo(demo_2x.test_acc, f"--model_dir={named}", f"--data_file={datasets['bin']}",
                    "--json_only")
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc.stdout)
    assert out["model_layout"] == "json" and out["model_file"].endswith("/model.json")
    top1, _, _ = expected_accuracy(datasets["images"], datasets["labels"], src)
    assert out["top1"] == pytest.approx(top1)
    shutil.copy(src / "inference.json", named / "other.json")
    shutil.copy(src / "inference.pdiparams", named / "other.pdiparams")
    _assert_one_clear_error(run_demo(demo_2x.trt_clas, f"--model_dir={named}", "--repeats=1"),
                            "several models", "model.json", "other.json", "--model_file")


def test_model_and_params_file_flags(demo_1x, datasets, tmp_path):
    model = write_standin_model(tmp_path / "m", num_classes=NUM_CLASSES, seed=2,
                                layout="combined")
    proc = run_demo(demo_1x.trt_clas, f"--model_file={model / 'model'}",
                    f"--params_file={model / 'params'}", f"--data_file={datasets['bin']}",
                    "--repeats=2", "--json_only")
    assert proc.returncode == 0, proc.stderr
    assert last_json(proc.stdout)["model_layout"] == "files"
    # an uncombined 1.x model named by its __model__ file (what the cpp runner passes)
    old = write_standin_model(tmp_path / "old", num_classes=NUM_CLASSES, seed=2, layout="dir")
    proc = run_demo(demo_1x.trt_clas, f"--model_dir={old}", f"--model_file={old / '__model__'}",
                    "--params_file=", "--repeats=1", "--json_only")
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc.stdout)
    assert out["model_layout"] == "__model__" and f"SetModel({old})" in out["config_calls"]


def _assert_one_clear_error(proc, *needles, code=None):
    assert proc.returncode != 0
    if code is not None:
        assert proc.returncode == code
    err = proc.stderr
    assert "error:" in err, err
    for needle in needles:
        assert needle in err, err
    assert "terminate called" not in err and "Traceback" not in err
    assert "{" not in proc.stdout          # no JSON line for a failed run


def test_bad_model_input(demo, tmp_path, datasets):
    run = lambda *a: run_demo(demo.trt_clas, *a, "--repeats=1")  # noqa: E731
    _assert_one_clear_error(run(f"--model_dir={tmp_path / 'missing'}"), "does not exist", "fix:")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README").write_text("not a model")
    _assert_one_clear_error(run(f"--model_dir={empty}"), "no model found", "README")
    # params file missing next to the program file
    half = write_standin_model(tmp_path / "half", num_classes=3, seed=1)
    (half / "inference.pdiparams").unlink()
    _assert_one_clear_error(run(f"--model_dir={half}"), "inference.pdiparams does not exist")
    # unreadable: a folder where the params file should be
    (half / "inference.pdiparams").mkdir()
    _assert_one_clear_error(run(f"--model_dir={half}"), "is not a file")
    # readable but not a model: the library's own exception, caught and explained
    bad = write_standin_model(tmp_path / "bad", num_classes=3, seed=1)
    (bad / "inference.pdmodel").write_text("garbage\n")
    _assert_one_clear_error(run(f"--model_dir={bad}"), "could not load the model")
    _assert_one_clear_error(run_demo(demo.trt_clas), "no model given", code=2)


def test_bad_data_input(demo, tmp_path, standin_model, datasets):
    acc = lambda *a: run_demo(demo.test_acc, f"--model_dir={standin_model}", *a)  # noqa: E731
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(datasets["bin"].read_bytes()[:-100])
    _assert_one_clear_error(acc(f"--data_file={truncated}"), "header says 23 images",
                            "truncated")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(np.int64(0).tobytes())
    _assert_one_clear_error(acc(f"--data_file={empty}"), "empty")
    empty_dir = tmp_path / "nodata"
    empty_dir.mkdir()
    _assert_one_clear_error(acc(f"--data_dir={empty_dir}"), "no <i>.data files")
    gap = tmp_path / "gap"
    write_slim_dir(gap, datasets["images"][:3], datasets["labels"][:3])
    (gap / "1.data").unlink()
    _assert_one_clear_error(acc(f"--data_dir={gap}"), "1.data is missing")
    _assert_one_clear_error(acc(f"--data_file={tmp_path / 'nope.bin'}"), "does not exist")
    _assert_one_clear_error(acc(), "no dataset given", code=2)
    _assert_one_clear_error(acc(f"--data_file={datasets['bin']}", "--bogus_flag=1"),
                            "unknown flag '--bogus_flag=1'", code=2)
    _assert_one_clear_error(acc(f"--data_file={datasets['bin']}", "--batch_size=zero"),
                            "--batch_size wants an integer", code=2)
    _assert_one_clear_error(acc(f"--data_file={datasets['bin']}", "--device=tpu"),
                            "not one of cpu|gpu", code=2)
    _assert_one_clear_error(acc(f"--data_file={datasets['bin']}", "--precision=fp8"),
                            "--precision=fp8 is not one of fp32|fp16|int8|bf16", code=2)
    # a failed run leaves no half-written predictions file
    out = tmp_path / "preds.txt"
    _assert_one_clear_error(acc(f"--data_file={truncated}", f"--predictions_out={out}"))
    assert not out.exists() and not list(tmp_path.glob("preds.txt.tmp*"))


def test_gpu_requests_on_a_cpu_library_are_refused(demo_2x, standin_model):
    proc = run_demo(demo_2x.trt_clas, f"--model_dir={standin_model}", "--device=gpu")
    _assert_one_clear_error(proc, "built without GPU support", "--device cpu")
    proc = run_demo(demo_2x.trt_clas, f"--model_dir={standin_model}", "--precision=fp16")
    _assert_one_clear_error(proc, "fp16 runs only on GPU", code=2)


@pytest.fixture(scope="module")
def demo_gpu(tmp_path_factory):
    """The stand-in with a GPU version.txt; the demo built with -DWITH_GPU=ON when a
    CUDA toolkit is here (CMake's CUDAToolkit; no GPU needed to link cudart)."""
    root = tmp_path_factory.mktemp("demo_gpu")
    lib = build_standin_sdk(root / "paddle_inference", api="2.x", with_gpu=True)
    have_cuda = shutil.which("nvcc") is not None or Path("/usr/local/cuda").is_dir()
    proc = cmake_build(lib, root / "build", f"-DWITH_GPU={'ON' if have_cuda else 'OFF'}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root / "build", have_cuda


def test_gpu_tensorrt_config_calls(demo_gpu, standin_model, tmp_path):
    """The GPU/TensorRT configuration the demo applies, as the (stand-in) library saw it.
    No GPU is needed: the stand-in records the calls and computes on the CPU."""
    build_dir, have_cuda = demo_gpu
    trace = tmp_path / "trace.txt"
    cache = tmp_path / "trt_cache"
    proc = run_demo(build_dir / "trt_clas", f"--model_dir={standin_model}", "--device", "gpu",
                    "--precision=int8", "--batch_size=8", "--workspace_mb=256",
                    "--min_subgraph_size=5", f"--trt_cache_dir={cache}", "--repeats=2",
                    env={"PADDLE_STANDIN_TRACE": str(trace)})
    assert proc.returncode == 0, proc.stderr
    calls = trace.read_text().splitlines()
    # int8 = Precision::kInt8 (1); quantized model: use_calib false; cache: use_static true
    assert f"EnableTensorRtEngine({256 << 20}, 8, 5, 1, 1, 0, 0)" in calls
    assert f"SetOptimCacheDir({cache})" in calls
    assert any(c.startswith("EnableUseGpu(500, 0") for c in calls)
    assert "DisableGpu()" not in calls and calls[-1] == "CreatePredictor"
    out = last_json(proc.stdout)
    assert out["device"] == "gpu" and out["use_trt"] is True and out["use_calib"] is False
    assert out.get("engine_cache") is None    # the stand-in serializes no engine: none to tell
    # an engine already in the cache (and none added by the stand-in): it was loaded
    (cache / "sub").mkdir(parents=True, exist_ok=True)
    (cache / "sub" / "trt_serialized_0").write_bytes(b"engine")
    again = run_demo(build_dir / "trt_clas", f"--model_dir={standin_model}", "--device=gpu",
                     f"--trt_cache_dir={cache}", "--repeats=1", "--json_only")
    assert again.returncode == 0, again.stderr
    loaded = last_json(again.stdout)
    assert loaded["engine_cache"] == "loaded" and loaded["engine_load_ms"] == loaded["create_ms"]
    assert "engine_build_ms" not in loaded
    proc = run_demo(build_dir / "trt_clas", f"--model_dir={standin_model}", "--device=gpu",
                    "--use_int8", "--use_calib", "--repeats=1", "--json_only",
                    env={"PADDLE_STANDIN_TRACE": str(tmp_path / "t2.txt")})
    assert proc.returncode == 0, proc.stderr
    assert f"EnableTensorRtEngine({1024 << 20}, 1, 3, 1, 0, 1, 0)" in \
        (tmp_path / "t2.txt").read_text().splitlines()
    if have_cuda:
        ldd = subprocess.run(["ldd", str(build_dir / "trt_clas")], capture_output=True,
                             text=True).stdout
        assert "libcudart" in ldd and "not found" not in ldd
    else:
        print("no CUDA toolkit here: built with WITH_GPU=OFF (runtime GPU path still checked)")


def test_gpu_soak_cycles_report_the_gpus_used_memory(demo_gpu, standin_model):
    """trt_clas --device gpu --soak_cycles: each cycle's line carries the GPU's used memory
    (cudaMemGetInfo) or why it could not be read; a CPU soak line has neither. Here there is
    no GPU, so a CUDA build says what the CUDA runtime said (the capture in
    tests/fixtures/demo_gpu_soak, which test_soak.py reads, came from this build)."""
    import json

    build_dir, have_cuda = demo_gpu
    proc = run_demo(build_dir / "trt_clas", f"--model_dir={standin_model}", "--device=gpu",
                    "--soak_cycles=3", "--repeats=1")
    assert proc.returncode == 0, proc.stderr
    cycles = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith('{"soak_cycle"')]
    assert [c["soak_cycle"] for c in cycles] == [1, 2, 3]
    for c in cycles:
        assert ("gpu_used_mb" in c) != ("gpu_error" in c), c
        if "gpu_used_mb" in c:
            assert c["gpu_used_mb"] > 0
        elif have_cuda:
            assert c["gpu_error"].startswith("cudaMemGetInfo: "), c
        else:
            assert "without WITH_GPU" in c["gpu_error"], c
    cpu = run_demo(build_dir / "trt_clas", f"--model_dir={standin_model}", "--soak_cycles=2",
                   "--repeats=1")
    assert cpu.returncode == 0, cpu.stderr
    assert '"soak_cycle": 2' in cpu.stdout and "gpu_" not in cpu.stdout


def test_cmake_configure_errors_and_tensorrt_root(tmp_path, demo_2x):
    def configure(*args):
        return subprocess.run(["cmake", "-S", str(demo_helpers_source()), "-B",
                               str(tmp_path / f"b{len(list(tmp_path.iterdir()))}"), *args],
                              capture_output=True, text=True, timeout=120)

    proc = configure()
    assert proc.returncode != 0 and "PADDLE_LIB is not set" in proc.stderr
    proc = configure(f"-DPADDLE_LIB={demo_2x.lib.parent}")
    assert proc.returncode != 0
    assert f"use -DPADDLE_LIB={demo_2x.lib}" in " ".join(proc.stderr.split())
    proc = configure(f"-DPADDLE_LIB={demo_2x.lib}", "-DWITH_GPU=ON", "-DWITH_TENSORRT=ON",
                     f"-DTENSORRT_ROOT={tmp_path / 'no-trt'}", "-DCUDA_ROOT=/usr/local/cuda")
    assert proc.returncode != 0
    if "CUDAToolkit found no CUDA toolkit" in proc.stderr:
        print("no CUDA toolkit here: the TensorRT configure path is not reached")
        return
    assert "libnvinfer.so was not found" in proc.stderr
    # A TensorRT root (a STAND-IN: any shared object named libnvinfer.so; TensorRT
    # cannot be had here) goes on the RPATH, its headers on the include path.
    trt = tmp_path / "TensorRT-stand-in"
    (trt / "lib").mkdir(parents=True)
    (trt / "include").mkdir()
    (trt / "include" / "NvInfer.h").write_text("// stand-in\n")
    shutil.copy(demo_2x.lib / "paddle" / "lib" / "libcommon.so", trt / "lib" / "libnvinfer.so")
    proc = configure(f"-DPADDLE_LIB={demo_2x.lib}", "-DWITH_GPU=ON", "-DWITH_TENSORRT=ON",
                     f"-DTENSORRT_ROOT={trt}", "-DCUDA_ROOT=/usr/local/cuda")
    assert proc.returncode == 0, proc.stderr
    rpath_line = next(ln for ln in proc.stdout.splitlines() if "RPATH:" in ln)
    assert str(trt / "lib") in rpath_line and "cuda" in rpath_line


def test_cmake_module_alone_gives_a_usable_target(demo_2x, tmp_path):
    """A project of its own that includes only demo/cmake/PaddleInference.cmake and
    links PaddleInference::paddle_inference compiles (include dirs), links (ABI
    definition), and runs with no LD_LIBRARY_PATH (its RPATH also serves the
    library's own libcommon.so and libstandin_mklml.so)."""
    project = tmp_path / "consumer"
    project.mkdir()
    module = demo_helpers_source() / "cmake" / "PaddleInference.cmake"
    (project / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.16)\n"
        "project(consumer LANGUAGES CXX)\n"
        f'include("{module}")\n'
        "add_executable(version main.cc)\n"
        "target_link_libraries(version PRIVATE PaddleInference::paddle_inference)\n"
        "set_target_properties(version PROPERTIES BUILD_WITH_INSTALL_RPATH TRUE)\n")
    (project / "main.cc").write_text(
        '#include <cstdio>\n#include "paddle_inference_api.h"\n'
        'int main() { std::printf("%s\\n", paddle_infer::GetVersion().c_str()); }\n')
    build = tmp_path / "build"
    conf = subprocess.run(["cmake", "-S", str(project), "-B", str(build),
                           f"-DPADDLE_LIB={demo_2x.lib}"], capture_output=True, text=True,
                          timeout=120)
    assert conf.returncode == 0, conf.stdout + conf.stderr
    proc = subprocess.run(["cmake", "--build", str(build)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kind, paths = rpath_of(build / "version")
    assert kind == "RPATH"
    assert paths == [str(demo_2x.lib / "paddle" / "lib"),
                     str(demo_2x.lib / "third_party" / "install" / "mklml" / "lib")]
    run = run_demo(build / "version")
    assert run.returncode == 0 and "standin" in run.stdout, run.stderr


def test_wrong_abi_fails_to_link(demo_1x, tmp_path):
    """Why the ABI detection matters: forcing ABI 1 against the ABI-0 library breaks the link."""
    build = tmp_path / "b"
    conf = subprocess.run(["cmake", "-S", str(demo_helpers_source()), "-B", str(build),
                           f"-DPADDLE_LIB={demo_1x.lib}", "-DPADDLE_CXX11_ABI=1"],
                          capture_output=True, text=True, timeout=120)
    assert conf.returncode == 0, conf.stderr
    proc = subprocess.run(["cmake", "--build", str(build), "--target", "trt_clas"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "undefined reference" in proc.stdout + proc.stderr


def demo_helpers_source() -> Path:
    from support.demo import DEMO_SOURCE

    return DEMO_SOURCE


def test_runs_from_another_directory_without_ld_library_path(demo_2x, standin_model, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    proc = subprocess.run([str(demo_2x.trt_clas), f"--model_dir={standin_model}", "--repeats=1",
                           "--json_only"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
