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


KEY_BASE = dict(gpu_name="NVIDIA H200", trt_version="10.5.0.18", model_sha256="ab" * 32,
                precision="int8", batch_size=4, gpu_cc="9.0", lib_commit="0123abc",
                workspace_mb=1024, min_subgraph_size=3, shape_sha256="11" * 32,
                calib_sha256="22" * 32, trt_disable=("pool2d",))


@pytest.mark.parametrize("field, value", [
    ("gpu_name", "NVIDIA H100 80GB HBM3"), ("gpu_cc", "9.0a"), ("trt_version", "10.5.0.19"),
    ("lib_commit", "fedcba9"), ("model_sha256", "cd" * 32), ("precision", "fp16"),
    ("batch_size", 8), ("workspace_mb", 2048), ("min_subgraph_size", 30),
    ("shape_sha256", "33" * 32), ("calib_sha256", "44" * 32), ("trt_disable", ("conv2d",)),
])
def test_every_input_of_the_engine_changes_its_cache_key(field, value):
    assert engine_cache_key(**KEY_BASE) == engine_cache_key(**dict(KEY_BASE))
    assert engine_cache_key(**KEY_BASE) != engine_cache_key(**(KEY_BASE | {field: value}))


def test_plan_options_reach_the_cache_dir():
    base = PlanOptions(**GPU)
    for change in (dict(gpu_cc="9.0"), dict(lib_commit="abc"), dict(workspace_mb=2048),
                   dict(min_subgraph_size=30), dict(shape_sha256="1" * 64),
                   dict(calib_sha256="2" * 64), dict(trt_disable_ops=("pool2d",)),
                   dict(trt_disable_subgraph=("pool2d_2.tmp_0",))):
        assert engine_cache_dir(PlanOptions(**GPU | change), "int8") != \
            engine_cache_dir(base, "int8"), change


def test_the_shape_file_stays_put_when_its_digest_joins_the_key():
    collect = PlanOptions(**GPU | dict(dynamic_shape=True))
    tuned = PlanOptions(**GPU | dict(dynamic_shape=True, shape_sha256="5" * 64))
    shape_call = [c for c in config_plan("gpu", "fp16", "fp32", tuned)
                  if c[0] == "enable_tuned_tensorrt_dynamic_shape"][0]
    assert ("collect_shape_range_info", shape_call[1]) in shape_collection_plan(collect, "fp16")
    assert engine_cache_dir(tuned, "fp16") != engine_cache_dir(collect, "fp16")


def test_the_runner_puts_the_collected_shape_files_digest_into_the_key(tmp_path):
    from toolchain.runners.configplan import shape_file_path
    from toolchain.runners.run import _with_shape_digest

    opts = PlanOptions(**GPU | dict(dynamic_shape=True, cache_root=str(tmp_path)))
    assert _with_shape_digest(opts, "fp16") == opts          # nothing collected yet
    shape = tmp_path / shape_file_path(opts, "fp16")
    shape.parent.mkdir(parents=True, exist_ok=True)
    shape.write_text("ranges A")
    first = _with_shape_digest(opts, "fp16")
    shape.write_text("ranges B")
    second = _with_shape_digest(opts, "fp16")
    assert len({engine_cache_dir(o, "fp16") for o in (opts, first, second)}) == 3


def test_engine_start_build_or_load():
    from toolchain.runners.configplan import engine_start

    assert engine_start([]) == "build"
    assert engine_start(["shape_range_info.pbtxt"]) == "build"
    assert engine_start(["trt_serialized_1234567890"]) == "load"


@pytest.mark.parametrize("option, call, arg", [
    (dict(trt_disable_ops=("pool2d", "softmax")), "exp_disable_tensorrt_ops",
     ["pool2d", "softmax"]),
    (dict(trt_disable_subgraph=("pool2d_2.tmp_0",)), "exp_disable_tensorrt_subgraph",
     ["pool2d_2.tmp_0"]),
    (dict(trt_inspector=True), "enable_tensorrt_inspector", False),
])
def test_trt_debug_flags_map_to_the_versions_calls(option, call, arg):
    plan = config_plan("gpu", "fp16", "fp32",
                       PlanOptions(**GPU | dict(paddle_version="3.2.1") | option))
    assert [c for c in plan if c[0] == call] == [(call, arg)]
    assert names(plan).index("enable_tensorrt_engine") < names(plan).index(call)


@pytest.mark.parametrize("option, paddle, trt, first", [
    (dict(trt_disable_subgraph=("x",)), "2.6.2", "8.6.1.6", "3.0"),
    (dict(trt_disable_ops=("pool2d",)), "2.0.1", "7.2.3.4", "2.1"),
    (dict(trt_inspector=True), "2.2.2", "8.0.3.4", "2.3"),
    (dict(cuda_graph=True), "2.4.2", "8.4.2.4", "2.5"),
])
def test_a_call_the_version_lacks_is_refused_with_the_first_that_has_it(option, paddle, trt,
                                                                         first):
    opts = PlanOptions(**GPU | dict(paddle_version=paddle, trt_version=trt) | option)
    with pytest.raises(LabError, match=rf"Paddle >= {first}"):
        config_plan("gpu", "fp16", "fp32", opts)


def test_inspector_needs_tensorrt_8_2():
    opts = PlanOptions(**GPU | dict(paddle_version="2.3.2", trt_version="8.0.3.4",
                                    trt_inspector=True))
    with pytest.raises(LabError, match="TensorRT >= 8.2"):
        config_plan("gpu", "fp16", "fp32", opts)


def test_cuda_graph_is_an_engine_argument_and_needs_fixed_shapes():
    call = trt_call(config_plan("gpu", "fp16", "fp32",
                                PlanOptions(**GPU | dict(paddle_version="2.6.2",
                                                         cuda_graph=True))))
    assert plan_value(call, "use_cuda_graph") is True
    assert plan_value(trt_call(config_plan("gpu", "fp16", "fp32", PlanOptions(**GPU))),
                      "use_cuda_graph") is None
    with pytest.raises(LabError, match="fixed input shapes"):
        config_plan("gpu", "fp16", "fp32",
                    PlanOptions(**GPU | dict(cuda_graph=True, dynamic_shape=True)))


def test_a_pir_model_is_refused_by_the_classic_path_with_what_to_do():
    with pytest.raises(LabError, match="paddle.tensorrt.convert") as err:
        config_plan("gpu", "fp16", "fp32", PlanOptions(**GPU | dict(model_format="pir")))
    assert "pir_trt_plan" in err.value.hint
    # FP32 on the GPU without TensorRT still runs a PIR model
    assert "enable_tensorrt_engine" not in names(config_plan(
        "gpu", "fp32", "fp32", PlanOptions(**GPU | dict(model_format="pir", tensorrt=False))))


def test_pir_trt_plan_for_paddle_3():
    from toolchain.runners.configplan import pir_trt_plan

    opts = PlanOptions(**GPU | dict(paddle_version="3.2.1", model_format="pir",
                                    trt_disable_ops=("pd_op.softmax",)))
    plan = pir_trt_plan("fp16", "fp32", opts, "/m/model", [1, 3, 224, 224])
    assert plan.convert["precision_mode"] == "FP16"
    assert plan.convert["disable_ops"] == ["pd_op.softmax"]
    assert plan.inputs[0]["optim_input_shape"] == [4, 3, 224, 224]
    assert plan.inputs[0]["min_input_shape"] == [1, 3, 224, 224]
    assert plan.save_model_dir.startswith(engine_cache_dir(opts, "fp16"))
    assert plan.run[0][0] == "enable_use_gpu"


@pytest.mark.parametrize("precision, kind, change, match", [
    ("fp16", "fp32", dict(paddle_version="2.6.2"), "Paddle >= 3.0"),
    ("fp16", "fp32", dict(paddle_version="3.0.0", trt_version="8.5.1.7"), "TensorRT >= 8.6"),
    ("int8", "fp32", dict(paddle_version="3.0.0"), "quantized model"),
])
def test_pir_trt_plan_refuses_what_cannot_run(precision, kind, change, match):
    from toolchain.runners.configplan import pir_trt_plan

    with pytest.raises(LabError, match=match):
        pir_trt_plan(precision, kind, PlanOptions(**GPU | change), "/m/model", [1, 3, 224, 224])


def test_run_flags_become_plan_options_and_calls():
    from toolchain.runners.request import trt_overrides

    over = trt_overrides(dict(trt_disable_ops="pool2d, softmax",
                              trt_disable_subgraph="pool2d_2.tmp_0", trt_inspector=True,
                              cuda_graph=False))
    assert over == dict(trt_disable_ops=("pool2d", "softmax"),
                        trt_disable_subgraph=("pool2d_2.tmp_0",), trt_inspector=True)
    assert trt_overrides(dict(trt_disable_ops=None, cuda_graph=False)) == {}
    plan = config_plan("gpu", "fp16", "fp32", PlanOptions(**GPU | over))
    assert {"exp_disable_tensorrt_ops", "exp_disable_tensorrt_subgraph",
            "enable_tensorrt_inspector"} <= set(names(plan))


def test_a_develop_build_version_is_not_checked():
    plan = config_plan("gpu", "fp16", "fp32", PlanOptions(**GPU | dict(
        paddle_version="0.0.0", trt_disable_subgraph=("x",))))
    assert "exp_disable_tensorrt_subgraph" in names(plan)


def test_run_request_fills_lab_run_defaults_and_refuses_a_missing_dataset(tmp_path):
    from toolchain.errors import LabError as Err
    from toolchain.runners.request import parse_request
    from toolchain.settings import LabSettings

    s = LabSettings.from_mapping({"work_dir": str(tmp_path / "w"),
                                  "run": {"device": "cpu", "batch_size": 4}})
    req = parse_request(dict(int8=True), s, "latency")
    assert (req.precision, req.device, req.runner, req.batch_size) == ("int8", "cpu", "auto", 4)
    assert req.model_dir == tmp_path / "w" / "models" / "small_cnn" / "int8"
    assert req.data_file is None                     # latency: seeded input without val.bin
    with pytest.raises(Err, match="dataset not found"):
        parse_request(dict(), s, "accuracy")
    with pytest.raises(Err, match="pick one precision"):
        parse_request(dict(int8=True, fp32=True), s, "latency")
