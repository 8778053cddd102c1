"""The Python runner on the real paddle.inference engine (CPU), on a real trained model."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from runner_helpers import lab_settings, trained_lab  # noqa: F401
from toolchain.data.binfmt import DatasetReader
from toolchain.errors import LabError
from toolchain.runners import run_accuracy, run_latency
from toolchain.runners.configplan import PlanOptions, config_plan
from toolchain.runners.python_engine import apply_plan, import_paddle, resolve_call


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
def test_first_batch_prediction_equals_a_bare_engine_call(trained_lab):
    lab = trained_lab
    r = run_latency(lab.settings, lab.fp32, "fp32", device="cpu", runner="python", warmup=0,
                    repeats=1, threads=1, batch_size=4, data_file=lab.val)
    pi = import_paddle().inference
    config = pi.Config(str(lab.fp32 / "model.pdmodel"), str(lab.fp32 / "model.pdiparams"))
    config.disable_glog_info()
    pred = pi.create_predictor(config)
    with DatasetReader(lab.val) as reader:
        images = reader.images(0, 4)
        labels = reader.labels[:4]
    h = pred.get_input_handle(pred.get_input_names()[0])
    h.reshape(list(images.shape))
    h.copy_from_cpu(images)
    pred.run()
    out = pred.get_output_handle(pred.get_output_names()[0]).copy_to_cpu()
    assert r.first_batch == {"predicted": out.argmax(1).tolist(), "labels": labels.tolist()}


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
        run_latency(lab_settings(tmp_path / "work"), tmp_path, "fp32", device="cpu",
                    runner="python", repeats=1)
    assert "could not load the model" in err.value.message
    assert err.value.where == str(tmp_path)
