"""The device configuration plan: a pure function, tested directly (CPU and GPU/TensorRT)."""

from __future__ import annotations

import pytest

from toolchain.errors import LabError
from toolchain.runners.configplan import (PlanOptions, config_plan, engine_cache_dir,
                                          engine_cache_key, plan_value, shape_collection_plan)

GPU = dict(gpu_name="NVIDIA H100 80GB HBM3", trt_version="10.5.0.18", model_sha256="ab" * 32,
           cache_root="/lab/trt_cache", batch_size=4)


def names(plan):
    return [c[0] for c in plan]


def trt_call(plan):
    calls = [c for c in plan if c[0] == "enable_tensorrt_engine"]
    assert len(calls) == 1
    return calls[0]


def test_cpu_fp32_plan_turns_onednn_on_with_threads():
    plan = config_plan("cpu", "fp32", "fp32", PlanOptions(threads=2))
    assert plan == [("disable_gpu",), ("switch_ir_optim", True), ("enable_mkldnn",),
                    ("set_cpu_math_library_num_threads", 2)]


def test_cpu_int8_plan_on_quantized_model_enables_mkldnn_int8_after_onednn():
    plan = config_plan("cpu", "int8", "quantized", PlanOptions(threads=1))
    assert names(plan).index("enable_mkldnn") < names(plan).index("enable_mkldnn_int8")
    assert ("set_cpu_math_library_num_threads", 1) in plan
    assert not any("tensorrt" in n or "gpu" == n[:3] for n in names(plan))


def test_cpu_options_for_the_fp32_search():
    plan = config_plan("cpu", "fp32", "fp32", PlanOptions(onednn=False, ir_optim=False))
    assert ("disable_mkldnn",) in plan and ("switch_ir_optim", False) in plan
    assert "enable_mkldnn" not in names(plan)


@pytest.mark.parametrize("precision,kind,words", [
    ("int8", "fp32", "quantized model"),     # oneDNN INT8 needs the scales in the model
    ("fp16", "fp32", "GPU"),
    ("fp16", "quantized", "GPU"),
])
def test_cpu_plans_that_cannot_run_say_why(precision, kind, words):
    with pytest.raises(LabError) as err:
        config_plan("cpu", precision, kind)
    assert words in err.value.message
    assert err.value.hint


def test_int8_without_onednn_is_refused():
    with pytest.raises(LabError, match="oneDNN"):
        config_plan("cpu", "int8", "quantized", PlanOptions(onednn=False))


@pytest.mark.parametrize("bad", [dict(device="tpu"), dict(precision="bf8"),
                                 dict(model_kind="odd")])
def test_unknown_inputs(bad):
    args = dict(device="cpu", precision="fp32", model_kind="fp32") | bad
    with pytest.raises(LabError):
        config_plan(args["device"], args["precision"], args["model_kind"])


def test_batch_and_threads_must_be_positive():
    with pytest.raises(LabError):
        config_plan("cpu", "fp32", "fp32", PlanOptions(batch_size=0))
    with pytest.raises(LabError):
        config_plan("cpu", "fp32", "fp32", PlanOptions(threads=0))


def test_gpu_int8_on_quantized_model_uses_trt_int8_without_calibration():
    plan = config_plan("gpu", "int8", "quantized", PlanOptions(**GPU))
    assert plan[0] == ("enable_use_gpu", 256, 0)
    call = trt_call(plan)
    assert plan_value(call, "precision_mode") == "Int8"
    assert plan_value(call, "use_calib_mode") is False
    assert plan_value(call, "use_static") is True
    assert plan_value(call, "max_batch_size") == 4
    assert plan_value(call, "workspace_size") == 1024 << 20
    assert plan_value(call, "min_subgraph_size") == 3
    assert "disable_gpu" not in names(plan) and "enable_mkldnn" not in names(plan)


def test_gpu_int8_on_fp32_model_calibrates_with_tensorrt():
    call = trt_call(config_plan("gpu", "int8", "fp32", PlanOptions(**GPU)))
    assert plan_value(call, "use_calib_mode") is True


@pytest.mark.parametrize("precision,trt", [("fp32", "Float32"), ("fp16", "Half")])
def test_gpu_float_precisions_never_calibrate(precision, trt):
    call = trt_call(config_plan("gpu", precision, "fp32", PlanOptions(**GPU)))
    assert plan_value(call, "precision_mode") == trt
    assert plan_value(call, "use_calib_mode") is False


def test_gpu_workspace_min_subgraph_and_device_are_options():
    opts = PlanOptions(**GPU | dict(workspace_mb=256, min_subgraph_size=30, device_id=1,
                                    gpu_memory_mb=500))
    plan = config_plan("gpu", "fp16", "fp32", opts)
    assert plan[0] == ("enable_use_gpu", 500, 1)
    assert plan_value(trt_call(plan), "workspace_size") == 256 << 20
    assert plan_value(trt_call(plan), "min_subgraph_size") == 30


def test_engine_cache_dir_is_in_the_plan_under_the_cache_root():
    plan = config_plan("gpu", "int8", "quantized", PlanOptions(**GPU))
    cache = [c for c in plan if c[0] == "set_optim_cache_dir"][0][1]
    assert cache == engine_cache_dir(PlanOptions(**GPU), "int8")
    assert cache.startswith("/lab/trt_cache/")
    assert names(plan).index("set_optim_cache_dir") < names(plan).index("enable_tensorrt_engine")


@pytest.mark.parametrize("change", [
    dict(gpu_name="Tesla T4"), dict(trt_version="8.6.1.6"), dict(model_sha256="cd" * 32),
    dict(precision="fp16"), dict(batch_size=8),
])
def test_a_change_of_any_key_input_gives_a_new_engine_cache(change):
    base = dict(gpu_name=GPU["gpu_name"], trt_version=GPU["trt_version"],
                model_sha256=GPU["model_sha256"], precision="int8", batch_size=4)
    assert engine_cache_key(**base) == engine_cache_key(**dict(base))     # stable
    assert engine_cache_key(**base) != engine_cache_key(**(base | change))


def test_gpu_plan_differs_by_cache_dir_when_the_model_changes():
    a = config_plan("gpu", "int8", "quantized", PlanOptions(**GPU))
    b = config_plan("gpu", "int8", "quantized", PlanOptions(**GPU | dict(model_sha256="0" * 64)))
    assert a != b


def test_dynamic_shapes_use_the_tuned_shape_file_of_the_collection_pass():
    opts = PlanOptions(**GPU | dict(dynamic_shape=True))
    plan = config_plan("gpu", "fp16", "fp32", opts)
    tuned = [c for c in plan if c[0] == "enable_tuned_tensorrt_dynamic_shape"]
    assert len(tuned) == 1 and tuned[0][2] is True
    collect = shape_collection_plan(opts, "fp16")
    assert ("collect_shape_range_info", tuned[0][1]) in collect
    assert "enable_tensorrt_engine" not in names(collect)
    assert "enable_tuned_tensorrt_dynamic_shape" not in names(
        config_plan("gpu", "fp16", "fp32", PlanOptions(**GPU)))


def test_gpu_without_tensorrt_runs_fp32_only():
    plan = config_plan("gpu", "fp32", "fp32", PlanOptions(tensorrt=False))
    assert "enable_tensorrt_engine" not in names(plan)
    with pytest.raises(LabError, match="TensorRT"):
        config_plan("gpu", "int8", "quantized", PlanOptions(tensorrt=False))
