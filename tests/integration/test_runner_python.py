"""The Python runner on the real paddle.inference engine (CPU), on a real trained model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from support.lab import lab_env, lab_settings
from toolchain.data.binfmt import DatasetReader
from toolchain.errors import LabError
from toolchain.runners.run import run_accuracy, run_latency
from toolchain.runners.configplan import PlanOptions, config_plan
from toolchain.runners.python_engine import (apply_plan, batch_indices, engine_cache_state,
                                             import_paddle, peak_rss_mb, reset_peak_rss,
                                             resolve_call, rss_mb, sample_order,
                                             serialized_engines)
from toolchain.runners.result import RunResult, check_cache_hit, measured_fields



def test_the_int8_call_is_probed_on_the_installed_paddle():
    pi = import_paddle().inference
    config = pi.Config()
    expected = "enable_onednn_int8" if hasattr(config, "enable_onednn_int8") \
        else "enable_mkldnn_int8"
    assert resolve_call(config, "enable_mkldnn_int8") == expected

    class OldConfig:             # a 2.x-era Config: only the mkldnn names
        def enable_mkldnn_int8(self):
            pass

    assert resolve_call(OldConfig(), "enable_mkldnn_int8") == "enable_mkldnn_int8"
    with pytest.raises(LabError, match="no Config.enable_mkldnn_int8"):
        resolve_call(object(), "enable_mkldnn_int8")


def test_the_cpu_wheels_tensorrt_refusal_becomes_a_clear_error():
    paddle = import_paddle()
    if paddle.inference.get_trt_compile_version() != (0, 0, 0):
        pytest.skip("this paddle has TensorRT: the CPU-wheel message cannot be produced here")
    plan = config_plan("gpu", "int8", "quantized",
                       PlanOptions(cache_root="/nonexistent-not-created", model_sha256="0"))
    plan = [c for c in plan if c[0] != "set_optim_cache_dir"]
    with pytest.raises(LabError) as err:
        apply_plan(paddle.inference.Config(), plan)
    assert "no TensorRT" in err.value.message
    assert "paddlepaddle-gpu" in err.value.hint and "invoke doctor" in err.value.hint


@pytest.mark.slow
def test_fp32_and_int8_latency_on_the_real_engine(trained_lab):
    lab = trained_lab
    for precision, model in (("fp32", lab.fp32), ("int8", lab.int8)):
        r = run_latency(lab.settings, model, precision, device="cpu", runner="auto",
                        warmup=2, repeats=7, threads=1, data_file=lab.val)
        assert (r.kind, r.runner, r.device, r.precision) == ("latency", "python", "cpu", precision)
        assert r.latency_ms.count == 7
        lat = r.latency_ms
        assert 0 < lat.min <= lat.p50 <= lat.p90 <= lat.p99 <= lat.max
        assert r.throughput_ips == pytest.approx(1000.0 / lat.mean)
        assert "no demo build" in r.runner_reason
        applied = [c[0] for c in r.config_calls]
        assert applied[:2] == ["disable_gpu", "switch_ir_optim"]
        if precision == "int8":
            assert applied[-2] in ("enable_onednn_int8", "enable_mkldnn_int8")
        with DatasetReader(lab.val) as reader:
            assert r.first_batch["labels"] == [int(reader.labels[0])]
        assert r.provenance["model_sha256"] and r.provenance["timer"].startswith("input copy")


@pytest.mark.slow
def bare_predictions(model_dir, images):
    pi = import_paddle().inference
    config = pi.Config(str(model_dir / "model.pdmodel"), str(model_dir / "model.pdiparams"))
    config.disable_glog_info()
    pred = pi.create_predictor(config)
    h = pred.get_input_handle(pred.get_input_names()[0])
    h.reshape(list(images.shape))
    h.copy_from_cpu(images)
    pred.run()
    return pred.get_output_handle(pred.get_output_names()[0]).copy_to_cpu().argmax(1).tolist()


def test_first_batch_prediction_equals_a_bare_engine_call(trained_lab):
    lab = trained_lab
    r = run_latency(lab.settings, lab.fp32, "fp32", device="cpu", runner="python", warmup=0,
                    repeats=1, threads=1, batch_size=4, data_file=lab.val, hot=True)
    with DatasetReader(lab.val) as reader:
        images = reader.images(0, 4)
        labels = reader.labels[:4]
    assert r.inputs == "hot" and r.input_count == 4 and r.input_seed is None
    assert r.first_batch == {"predicted": bare_predictions(lab.fp32, images),
                             "labels": labels.tolist()}


def test_the_sample_order_is_a_seeded_permutation_drawn_cycled():
    order = sample_order(100, 0)
    assert sorted(order) == list(range(100)) and order != list(range(100))
    assert sample_order(100, 0) == order and sample_order(100, 1) != order
    # batches follow the order and wrap around it
    assert batch_indices(order, 3, 0) == order[:3]
    assert batch_indices(order, 3, 33) == [order[99], order[0], order[1]]
    assert [i for n in range(100) for i in batch_indices(order, 1, n)] == order


@pytest.mark.slow
def test_latency_batches_come_from_the_seeded_sample_set(trained_lab):
    lab = trained_lab
    runs = {seed: run_latency(lab.settings, lab.fp32, "fp32", device="cpu", runner="python",
                              warmup=3, repeats=5, threads=1, batch_size=4, data_file=lab.val,
                              seed=seed)
            for seed in (0, 0, 7)}
    r = runs[0]
    with DatasetReader(lab.val) as reader:
        count = reader.count
        idx = r.first_batch["indices"]
        images, labels = reader.images(0, count)[idx], reader.labels[idx]
    assert (r.inputs, r.input_count, r.input_seed) == ("sample-set", count, 0)
    # the first timed batch follows the 3 warm-up batches: 4 of the 100 images, not the
    # file's first 4, and the reported prediction is the engine's for exactly those images
    assert len(set(idx)) == 4 and idx != [0, 1, 2, 3] and max(idx) < count
    assert r.first_batch["labels"] == labels.tolist()
    assert r.first_batch["predicted"] == bare_predictions(lab.fp32, images)
    assert runs[7].first_batch["indices"] != idx
    small = run_latency(lab.settings, lab.fp32, "fp32", device="cpu", runner="python",
                        warmup=0, repeats=30, threads=1, data_file=lab.val, sample_size=5)
    assert small.input_count == 5 and max(small.first_batch["indices"]) < 5


@pytest.mark.slow
def test_cold_start_and_peak_memory_are_measured(trained_lab):
    lab = trained_lab
    r = run_latency(lab.settings, lab.fp32, "fp32", device="cpu", runner="python",
                    warmup=2, repeats=5, threads=1, data_file=lab.val)
    assert r.create_ms > 0 and r.first_run_ms > 0
    assert r.warm_p50_ms == r.latency_ms.p50
    # the first inference runs the graph's first-use work: slower than a warm one
    assert r.first_run_ms > r.latency_ms.min
    assert (r.engine_cache, r.engine_build_ms, r.engine_load_ms) == (None, None, None)
    # the peak covers the sample set held in memory (100 images of 602112 bytes)
    assert r.peak_rss_scope == "run"
    assert r.peak_rss_mb >= r.input_count * 602112 / 2 ** 20
    with pytest.raises(LabError, match="on the cpu"):
        check_cache_hit(r)
    acc = run_accuracy(lab.settings, lab.fp32, lab.val, "fp32", device="cpu",
                       runner="python", batch_size=10, limit=20)
    assert acc.inputs == "dataset" and acc.input_count == 20 and acc.create_ms > 0
    assert acc.peak_rss_mb > 0


def test_the_peak_rss_is_reset_per_run():
    if not reset_peak_rss():
        pytest.skip("this kernel does not let a process reset its peak RSS")
    base = rss_mb()
    block = np.ones(200 * 2 ** 20 // 8)          # 200 MB, touched
    assert peak_rss_mb() >= base + 190
    del block
    assert reset_peak_rss()
    assert peak_rss_mb() < base + 100


def test_engine_cache_state_from_the_serialized_engines(tmp_path):
    plan = [("enable_use_gpu", 256, 0), ("set_optim_cache_dir", str(tmp_path / "cache")),
            ("enable_tensorrt_engine", {})]
    assert serialized_engines([("disable_gpu",)]) is None
    before = serialized_engines(plan)
    assert before == set()
    engine = tmp_path / "cache" / "_opt_cache" / "trt_serialized_abc_0"
    engine.parent.mkdir(parents=True)
    engine.write_bytes(b"engine")
    after = serialized_engines(plan)
    assert after == {str(engine)}
    assert engine_cache_state(before, after) == "built"
    assert engine_cache_state(after, serialized_engines(plan)) == "loaded"
    assert engine_cache_state(set(), set()) is None and engine_cache_state(None, None) is None


def _gpu_result(**fields) -> RunResult:
    return RunResult(kind="latency", runner="python", model="m", model_dir="/m", device="gpu",
                     precision="fp16", batch_size=1, threads=1, **fields)


def test_expect_cache_hit_fails_on_a_rebuilt_engine():
    check_cache_hit(_gpu_result(engine_cache="loaded", engine_load_ms=12.0))
    with pytest.raises(LabError, match="was built in 4200 ms") as err:
        check_cache_hit(_gpu_result(engine_cache="built", engine_build_ms=4200.0))
    assert "cache key" in err.value.hint
    with pytest.raises(LabError, match="did not say"):
        check_cache_hit(_gpu_result())


def test_the_demo_json_fills_the_measured_fields_when_present():
    line = {"create_ms": 812.5, "first_run_ms": 40.0, "warm_p50_ms": 1.5, "peak_rss_mb": 300,
            "engine_cache": "loaded", "engine_load_ms": 700.0, "inputs": "sample-set",
            "input_count": 1024, "input_seed": 0, "unrelated": 1}
    fields = measured_fields(line)
    assert fields == {k: v for k, v in line.items() if k != "unrelated"}
    assert measured_fields({"latency_ms": {}}) == {}
    for bad in ({"engine_cache": "maybe"}, {"create_ms": -1}, {"input_count": "12"},
                {"peak_rss_mb": float("nan")}):
        with pytest.raises(LabError, match="bad"):
            measured_fields(bad)


@pytest.mark.slow
def test_accuracy_fp32_and_int8_on_held_out_images(trained_lab):
    lab = trained_lab
    res = {}
    for precision, model in (("fp32", lab.fp32), ("int8", lab.int8)):
        r = run_accuracy(lab.settings, model, lab.val, precision, device="cpu",
                         runner="python", batch_size=10, threads=2,
                         predictions=True)
        assert r.kind == "accuracy" and r.images == 100
        assert r.top1 <= r.top5 <= 1.0
        assert len(r.raw["predictions"]) == 100
        assert r.throughput_ips > 0 and r.latency_ms.count == 10
        res[precision] = r
    # a real classifier on held-out real images: far above the 10 % of chance
    assert res["fp32"].top1 >= 0.8
    assert res["int8"].top1 >= res["fp32"].top1 - 0.03
    agree = np.mean(np.array(res["fp32"].raw["predictions"]) ==
                    np.array(res["int8"].raw["predictions"]))
    assert agree >= 0.9


@pytest.mark.slow
def test_limit_and_odd_batch_sizes_score_every_image_once(trained_lab):
    lab = trained_lab
    r = run_accuracy(lab.settings, lab.fp32, lab.val, "fp32", device="cpu", runner="python",
                     batch_size=7, limit=23, predictions=True)
    assert r.images == 23 and len(r.raw["predictions"]) == 23
    full = run_accuracy(lab.settings, lab.fp32, lab.val, "fp32", device="cpu",
                        runner="python", batch_size=1, limit=23,
                        predictions=True)
    assert full.raw["predictions"] == r.raw["predictions"]


@pytest.mark.slow
def test_int8_on_an_fp32_model_and_pir_int8_are_refused(trained_lab):
    lab = trained_lab
    with pytest.raises(LabError, match="needs a quantized model"):
        run_latency(lab.settings, lab.fp32, "int8", device="cpu", runner="python", repeats=1)
    with pytest.raises(LabError) as err:
        run_latency(lab.settings, lab.fp32 / "pir", "int8", device="cpu", runner="python",
                    repeats=1)
    assert "PIR" in err.value.message and "legacy" in err.value.hint


@pytest.mark.slow
def test_the_pir_export_runs_fp32_with_the_same_predictions(trained_lab):
    lab = trained_lab
    legacy = run_accuracy(lab.settings, lab.fp32, lab.val, "fp32", device="cpu",
                          runner="python", batch_size=10, limit=30,
                          predictions=True)
    pir = run_accuracy(lab.settings, lab.fp32 / "pir", lab.val, "fp32", device="cpu",
                       runner="python", batch_size=10, limit=30,
                       predictions=True)
    assert pir.provenance["model_format"] == "pir"
    assert pir.raw["predictions"] == legacy.raw["predictions"]


@pytest.mark.slow
def test_a_data_file_whose_sidecar_does_not_match_is_refused(trained_lab, tmp_path):
    lab = trained_lab
    data = tmp_path / "val.bin"
    shutil.copy(lab.val, data)
    shutil.copy(lab.val.with_name("val.bin.json"), tmp_path / "val.bin.json")
    with open(data, "r+b") as f:          # same size, one image byte changed
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(LabError):
        run_accuracy(lab.settings, lab.fp32, data, "fp32", device="cpu", runner="python")
    (tmp_path / "val.bin.json").unlink()
    with pytest.raises(LabError):
        run_accuracy(lab.settings, lab.fp32, data, "fp32", device="cpu", runner="python")


def test_a_broken_model_file_is_one_clear_error(tmp_path):
    (tmp_path / "model.pdmodel").write_bytes(b"not a program")
    (tmp_path / "model.pdiparams").write_bytes(b"\0" * 64)
    with pytest.raises(LabError) as err:
        run_latency(lab_settings(lab_env(tmp_path)), tmp_path, "fp32", device="cpu",
                    runner="python", repeats=1)
    assert "could not load the model" in err.value.message
    assert err.value.where == str(tmp_path)


def test_the_demo_process_peak_rss_is_its_own():
    import sys

    from toolchain.runners.cpp import run_demo_measured

    grow = """import time; b = bytearray(150 * 2 ** 20); time.sleep(0.3); print('{"ok": 1}')"""
    out, peak = run_demo_measured(Path(sys.executable), ["-c", grow], 60)
    assert out.strip() == '{"ok": 1}' and peak >= 150
    # a small child of a large parent: its own peak, not the parent's carried over exec
    held = np.ones(300 * 2 ** 20 // 8)
    out, peak_small = run_demo_measured(Path(sys.executable),
                                        ["-c", "import time; time.sleep(0.2); print('{}')"], 60)
    assert held[-1] == 1 and peak_small < 100
    with pytest.raises(LabError, match="failed \\(exit 3\\): boom"):
        run_demo_measured(Path(sys.executable),
                          ["-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"], 60)
    with pytest.raises(LabError, match="ran longer than 1 s"):
        run_demo_measured(Path(sys.executable), ["-c", "import time; time.sleep(30)"], 1)
