"""Device configuration as data: (device, precision, model kind, options) -> config calls.

Pure: no paddle import, no I/O. A plan is a list of calls on a
`paddle.inference.Config`, each a tuple `(method, *args)`; a single dict
argument means keyword arguments. Method names are the classic Python ones
(`enable_mkldnn`, `enable_mkldnn_int8`); the Python engine maps them to what the
installed Paddle has (`enable_onednn`, `enable_onednn_int8` in 3.x), the C++
demo to its own calls. Precision names inside a plan are PrecisionType members
("Float32", "Half", "Int8").

CPU: oneDNN on (INT8 through enable_mkldnn_int8 on a quantized model), IR
optimization, math-library threads.
GPU: enable_use_gpu + TensorRT with the precision; use_calib_mode=False for
quantized models (the scales are in the model), True only to calibrate an FP32
model with TensorRT; use_static with an engine cache directory whose name is a
key over GPU name, TensorRT version, model sha256, precision and batch, so a
change of any of them builds a new engine instead of loading a stale one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from ..errors import LabError

DEVICES = ("cpu", "gpu")
PRECISIONS = ("fp32", "fp16", "int8")
MODEL_KINDS = ("fp32", "quantized")
TRT_PRECISION = {"fp32": "Float32", "fp16": "Half", "int8": "Int8"}
SHAPE_FILE = "shape_range_info.pbtxt"

Call = tuple


@dataclass(frozen=True)
class PlanOptions:
    batch_size: int = 1
    threads: int = 1
    onednn: bool = True              # CPU: oneDNN kernels (needed for INT8)
    ir_optim: bool = True
    tensorrt: bool = True            # GPU: offload subgraphs to TensorRT
    gpu_memory_mb: int = 256         # enable_use_gpu's initial pool
    device_id: int = 0
    workspace_mb: int = 1024         # TensorRT builder workspace
    min_subgraph_size: int = 3
    dynamic_shape: bool = False      # collect_shape_range_info, then the tuned shape file
    cache_root: str = ""             # engine caches live in <cache_root>/<key>/
    gpu_name: str = ""
    trt_version: str = ""
    model_sha256: str = ""


def engine_cache_key(gpu_name: str, trt_version: str, model_sha256: str, precision: str,
                     batch_size: int) -> str:
    """A short stable key; any change of its inputs gives a different key."""
    text = "\n".join(["paddle-trt-lab engine v1", gpu_name.strip(), trt_version.strip(),
                      model_sha256.strip().lower(), precision, str(int(batch_size))])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def engine_cache_dir(opts: PlanOptions, precision: str) -> str:
    key = engine_cache_key(opts.gpu_name, opts.trt_version, opts.model_sha256, precision,
                           opts.batch_size)
    return str(PurePath(opts.cache_root or "trt_cache") / key)


def _check(device: str, precision: str, model_kind: str, opts: PlanOptions) -> None:
    if device not in DEVICES:
        raise LabError(f"unknown device {device!r}", hint="use --device cpu or --device gpu")
    if precision not in PRECISIONS:
        raise LabError(f"unknown precision {precision!r}", hint="use --fp32, --fp16 or --int8")
    if model_kind not in MODEL_KINDS:
        raise LabError(f"unknown model kind {model_kind!r}")
    if opts.batch_size < 1:
        raise LabError(f"batch size must be at least 1, got {opts.batch_size}")
    if opts.threads < 1:
        raise LabError(f"threads must be at least 1, got {opts.threads}")


def cpu_plan(precision: str, model_kind: str, opts: PlanOptions) -> list[Call]:
    if precision == "fp16":
        raise LabError("fp16 runs on the GPU (TensorRT) only",
                       hint="on the CPU use --fp32 or --int8 (oneDNN), or pass --device gpu")
    if precision == "int8" and model_kind != "quantized":
        raise LabError("INT8 on the CPU needs a quantized model (quantize/dequantize ops); "
                       "this one is FP32",
                       hint="make one with `invoke quantize --model-dir FP32_DIR --calib-data "
                            "DATA` and pass its directory, or run --fp32")
    if precision == "int8" and not opts.onednn:
        raise LabError("INT8 on the CPU runs through oneDNN; it cannot be turned off for INT8")
    plan: list[Call] = [("disable_gpu",), ("switch_ir_optim", bool(opts.ir_optim))]
    if opts.onednn:
        plan.append(("enable_mkldnn",))
        if precision == "int8":
            plan.append(("enable_mkldnn_int8",))
    else:
        plan.append(("disable_mkldnn",))
    plan.append(("set_cpu_math_library_num_threads", int(opts.threads)))
    return plan


def gpu_plan(precision: str, model_kind: str, opts: PlanOptions) -> list[Call]:
    plan: list[Call] = [("enable_use_gpu", int(opts.gpu_memory_mb), int(opts.device_id)),
                        ("switch_ir_optim", True)]
    if not opts.tensorrt:
        if precision != "fp32":
            raise LabError(f"{precision} on the GPU runs through TensorRT",
                           hint="leave TensorRT on, or run --fp32")
        return plan
    cache_dir = engine_cache_dir(opts, precision)
    plan.append(("set_optim_cache_dir", cache_dir))
    plan.append(("enable_tensorrt_engine", {
        "workspace_size": int(opts.workspace_mb) << 20,
        "max_batch_size": int(opts.batch_size),
        "min_subgraph_size": int(opts.min_subgraph_size),
        "precision_mode": TRT_PRECISION[precision],
        "use_static": True,
        "use_calib_mode": precision == "int8" and model_kind == "fp32",
    }))
    if opts.dynamic_shape:
        plan.append(("enable_tuned_tensorrt_dynamic_shape",
                     str(PurePath(cache_dir) / SHAPE_FILE), True))
    return plan


def config_plan(device: str, precision: str, model_kind: str,
                opts: PlanOptions | None = None) -> list[Call]:
    """The config calls for one run; LabError for a combination that cannot run."""
    opts = opts or PlanOptions()
    _check(device, precision, model_kind, opts)
    if device == "cpu":
        return cpu_plan(precision, model_kind, opts)
    return gpu_plan(precision, model_kind, opts)


def shape_collection_plan(opts: PlanOptions, precision: str) -> list[Call]:
    """The first, TensorRT-less pass that records input shape ranges to the shape file."""
    shape_file = str(PurePath(engine_cache_dir(opts, precision)) / SHAPE_FILE)
    return [("enable_use_gpu", int(opts.gpu_memory_mb), int(opts.device_id)),
            ("switch_ir_optim", True), ("collect_shape_range_info", shape_file)]


def plan_value(call: Call, name: str, default: Any = None) -> Any:
    """The keyword `name` of a dict-argument call (for tests and the cpp runner)."""
    for arg in call[1:]:
        if isinstance(arg, dict) and name in arg:
            return arg[name]
    return default
