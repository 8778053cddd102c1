"""Device configuration as data: (device, precision, model kind, options) -> config calls.

Pure: no paddle import, no I/O. A plan is a list of calls on a
`paddle.inference.Config`, each a tuple `(method, *args)`; a single dict
argument means keyword arguments. Method names are the classic Python ones
(`enable_mkldnn`, `enable_mkldnn_int8`); the Python engine maps them to what the
installed Paddle has (`enable_onednn`, `enable_onednn_int8` in 3.x), the C++
demo to its own calls. Precision names inside a plan are PrecisionType members
("Float32", "Half", "Int8").

CPU: oneDNN on (INT8 through enable_mkldnn_int8 on a quantized model, BF16 through
enable_mkldnn_bfloat16 on the FP32 model), IR
optimization, math-library threads.
GPU: enable_use_gpu + TensorRT with the precision; use_calib_mode=False for
quantized models (the scales are in the model), True only to calibrate an FP32
model with TensorRT; use_static with an engine cache directory whose name is a
key over GPU name, TensorRT version, model sha256, precision and batch, so a
change of any of them builds a new engine instead of loading a stale one.
The key covers everything that changes an engine: GPU name and compute capability,
TensorRT version, library commit, model sha256, precision, batch, workspace,
min_subgraph_size, the dynamic-shape file's digest, the calibration data's digest and
the ops/subgraphs kept out of TensorRT.

Version-dependent TensorRT calls (inspector, exp_disable_tensorrt_ops/_subgraph,
use_cuda_graph) come from recipes/gpu_support.toml [paddle_trt_features]: a call the
library's Paddle version lacks is refused with the first version that has it. PIR
(.json) models do not use enable_tensorrt_engine: `pir_trt_plan` gives Paddle 3.x's
paddle.tensorrt.convert step instead (Python only).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any

from ..errors import LabError

DEVICES = ("cpu", "gpu")
PRECISIONS = ("fp32", "fp16", "int8", "bf16")
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
    gpu_cc: str = ""                 # compute capability, e.g. "9.0"
    lib_commit: str = ""             # version.txt GIT COMMIT ID of the library / wheel
    shape_sha256: str = ""           # digest of the collected dynamic-shape file
    calib_sha256: str = ""           # digest of the INT8 calibration data (TRT calibration)
    paddle_version: str = ""         # the library's; "" = unknown (no version checks)
    model_format: str = "legacy"     # "legacy" (.pdmodel) or "pir" (.json)
    trt_inspector: bool = False      # print engine info (layers, precision) after build/load
    trt_disable_ops: tuple[str, ...] = field(default_factory=tuple)       # op types
    trt_disable_subgraph: tuple[str, ...] = field(default_factory=tuple)  # output var names
    cuda_graph: bool = False


def engine_cache_key(gpu_name: str, trt_version: str, model_sha256: str, precision: str,
                     batch_size: int, *, gpu_cc: str = "", lib_commit: str = "",
                     workspace_mb: int = 0, min_subgraph_size: int = 0, shape_sha256: str = "",
                     calib_sha256: str = "", trt_disable: tuple[str, ...] = ()) -> str:
    """A short stable key; any change of its inputs gives a different key."""
    fields = ["paddle-trt-lab engine v2", gpu_name.strip(), gpu_cc.strip(),
              trt_version.strip(), lib_commit.strip().lower(), model_sha256.strip().lower(),
              precision, str(int(batch_size)), str(int(workspace_mb)),
              str(int(min_subgraph_size)), shape_sha256.strip().lower(),
              calib_sha256.strip().lower(), ",".join(trt_disable)]
    return hashlib.sha256("\n".join(fields).encode()).hexdigest()[:20]


def engine_cache_dir(opts: PlanOptions, precision: str) -> str:
    key = engine_cache_key(
        opts.gpu_name, opts.trt_version, opts.model_sha256, precision, opts.batch_size,
        gpu_cc=opts.gpu_cc, lib_commit=opts.lib_commit, workspace_mb=opts.workspace_mb,
        min_subgraph_size=opts.min_subgraph_size, shape_sha256=opts.shape_sha256,
        calib_sha256=opts.calib_sha256,
        trt_disable=(*sorted(opts.trt_disable_ops), "|", *sorted(opts.trt_disable_subgraph)))
    return str(PurePath(opts.cache_root or "trt_cache") / key)


def shape_file_path(opts: PlanOptions, precision: str) -> str:
    """Where the collection pass writes the shape ranges: the cache dir keyed without the
    shape digest (the engine's own dir includes it once the file exists)."""
    return str(PurePath(engine_cache_dir(replace(opts, shape_sha256=""), precision))
               / SHAPE_FILE)


def engine_start(cache_dir_listing: list[str]) -> str:
    """"load" when the cache dir already holds a serialized engine, else "build".

    Paddle saves engines as <optim cache dir>/trt_serialized_<engine key>
    (GetTrtEngineSerializedPath in paddle/fluid/inference/analysis/helper.h)."""
    return "load" if any(n.startswith("trt_serialized_") for n in cache_dir_listing) \
        else "build"


def _check(device: str, precision: str, model_kind: str, opts: PlanOptions) -> None:
    if device not in DEVICES:
        raise LabError(f"unknown device {device!r}", hint="use --device cpu or --device gpu")
    if precision not in PRECISIONS:
        raise LabError(f"unknown precision {precision!r}", hint="use --fp32, --fp16, --int8 or --bf16")
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
    if precision == "bf16" and model_kind == "quantized":
        raise LabError("BF16 runs the FP32 model through oneDNN's bfloat16 kernels; this "
                       "model is quantized (INT8)",
                       hint="pass the FP32 model's directory with --bf16, or run this one "
                            "with --int8")
    if precision in ("int8", "bf16") and not opts.onednn:
        raise LabError(f"{precision.upper()} on the CPU runs through oneDNN; it cannot be "
                       f"turned off for {precision.upper()}")
    plan: list[Call] = [("disable_gpu",), ("switch_ir_optim", bool(opts.ir_optim))]
    if opts.onednn:
        plan.append(("enable_mkldnn",))
        if precision == "int8":
            plan.append(("enable_mkldnn_int8",))
        elif precision == "bf16":
            plan.append(("enable_mkldnn_bfloat16",))
    else:
        plan.append(("disable_mkldnn",))
    plan.append(("set_cpu_math_library_num_threads", int(opts.threads)))
    return plan


def _features() -> dict:
    from ..doctor.verdicts import SUPPORT_PATH, load_rules

    return load_rules(SUPPORT_PATH).get("paddle_trt_features", {})


def _ver(text: str):
    from packaging.version import InvalidVersion, Version

    try:
        v = Version(str(text).strip().lstrip("vV")) if text else None
    except InvalidVersion:
        return None
    return None if v == Version("0") else v     # develop builds say 0.0.0: unknown


def require_feature(name: str, opts: PlanOptions, what: str) -> str:
    """The call name of feature `name`; LabError when the library's Paddle (or TensorRT)
    is known to be older than the first version that has it."""
    row = _features()[name]
    paddle, trt = _ver(opts.paddle_version), _ver(opts.trt_version)
    if paddle is not None and paddle < _ver(row["since"]):
        raise LabError(f"{what} needs Paddle >= {row['since']} ({row['call']}); the library "
                       f"is Paddle {opts.paddle_version}",
                       hint=f"fetch-lib --paddle {row['since']} (or newer), or drop the flag")
    if row.get("min_tensorrt") and trt is not None and trt < _ver(row["min_tensorrt"]):
        raise LabError(f"{what} needs TensorRT >= {row['min_tensorrt']}; the library has "
                       f"TensorRT {opts.trt_version}",
                       hint="use a library built with a newer TensorRT, or drop the flag")
    return row["call"]


def _check_gpu_options(opts: PlanOptions) -> None:
    if opts.model_format == "pir" and opts.tensorrt:
        raise LabError("a PIR (.json) model does not go through enable_tensorrt_engine: "
                       "Paddle 3.x converts it with paddle.tensorrt.convert first (Python "
                       "only, TensorRT >= 8.6)",
                       hint="convert it with the plan of configplan.pir_trt_plan and run the "
                            "converted model, export the model as .pdmodel "
                            "(FLAGS_enable_pir_api=0), or run --no-tensorrt --fp32")
    if opts.cuda_graph and opts.dynamic_shape:
        raise LabError("CUDA graph needs fixed input shapes; dynamic shapes are on",
                       hint="drop --cuda-graph or turn run.dynamic_shape off")


def gpu_plan(precision: str, model_kind: str, opts: PlanOptions) -> list[Call]:
    if precision == "bf16":
        raise LabError("BF16 runs on the CPU through oneDNN",
                       hint="on the GPU use --fp16 / --int8 with TensorRT, or pass "
                            "--device cpu --bf16")
    plan: list[Call] = [("enable_use_gpu", int(opts.gpu_memory_mb), int(opts.device_id)),
                        ("switch_ir_optim", True)]
    if not opts.tensorrt:
        if precision != "fp32":
            raise LabError(f"{precision} on the GPU runs through TensorRT",
                           hint="leave TensorRT on, or run --fp32")
        return plan
    _check_gpu_options(opts)
    cache_dir = engine_cache_dir(opts, precision)
    plan.append(("set_optim_cache_dir", cache_dir))
    trt = {
        "workspace_size": int(opts.workspace_mb) << 20,
        "max_batch_size": int(opts.batch_size),
        "min_subgraph_size": int(opts.min_subgraph_size),
        "precision_mode": TRT_PRECISION[precision],
        "use_static": True,
        "use_calib_mode": precision == "int8" and model_kind == "fp32",
    }
    if opts.cuda_graph:
        trt[require_feature("cuda_graph", opts, "--cuda-graph")] = True
    plan.append(("enable_tensorrt_engine", trt))
    if opts.dynamic_shape:
        plan.append(("enable_tuned_tensorrt_dynamic_shape", shape_file_path(opts, precision),
                     True))
    if opts.trt_disable_ops:
        plan.append((require_feature("disable_ops", opts, "--trt-disable-ops"),
                     list(opts.trt_disable_ops)))
    if opts.trt_disable_subgraph:
        plan.append((require_feature("disable_subgraph", opts, "--trt-disable-subgraph"),
                     list(opts.trt_disable_subgraph)))
    if opts.trt_inspector:
        plan.append((require_feature("inspector", opts, "--trt-inspector"), False))
    return plan


PIR_PRECISION = {"fp32": "FP32", "fp16": "FP16", "int8": "INT8"}


@dataclass(frozen=True)
class PirTrtPlan:
    """Paddle 3.x PIR-TensorRT: convert the .json model once, then run the converted one.

    convert: keyword arguments of paddle.tensorrt.TensorRTConfig (inputs given as
    paddle.tensorrt.Input shape triples); run: the config calls for the converted model.
    """

    model_prefix: str
    save_model_dir: str
    inputs: list[dict]
    convert: dict
    run: list[Call]


def pir_trt_plan(precision: str, model_kind: str, opts: PlanOptions, model_prefix: str,
                 input_shape: list[int]) -> PirTrtPlan:
    """The PIR-TRT steps for a .json model, or LabError naming what to do instead."""
    row = _features()["pir_trt"]
    paddle, trt = _ver(opts.paddle_version), _ver(opts.trt_version)
    if paddle is not None and paddle < _ver(row["since"]):
        raise LabError(f"a PIR (.json) model needs Paddle >= {row['since']}; the library is "
                       f"Paddle {opts.paddle_version}",
                       hint="fetch-lib a 3.x library, or export the model as .pdmodel")
    if trt is not None and trt < _ver(row["min_tensorrt"]):
        raise LabError(f"PIR-TensorRT needs TensorRT >= {row['min_tensorrt']}; the library "
                       f"has TensorRT {opts.trt_version}",
                       hint="fetch-lib a 3.x build with TensorRT 8.6 or 10.x "
                            "(invoke fetch-lib --list --paddle 3)")
    if precision == "bf16":
        gpu_plan(precision, model_kind, opts)       # the one BF16-on-the-GPU refusal
    if precision == "int8" and model_kind != "quantized":
        raise LabError("PIR-TensorRT INT8 needs a quantized model (Paddle's docs give no "
                       "TensorRT calibration for PIR)",
                       hint="quantize it first (`invoke quantize`), or run --fp16 / --fp32")
    cache_dir = engine_cache_dir(opts, precision)
    batch = int(opts.batch_size)
    shape = [batch, *[int(d) for d in input_shape[1:]]]
    inputs = [{"min_input_shape": [1, *shape[1:]], "optim_input_shape": shape,
               "max_input_shape": shape, "input_data_type": "float32"}]
    convert = {"min_subgraph_size": int(opts.min_subgraph_size),
               "save_model_dir": str(PurePath(cache_dir) / "trt_model"),
               "precision_mode": PIR_PRECISION[precision],
               "workspace_size": int(opts.workspace_mb) << 20}
    if opts.trt_disable_ops:
        convert["disable_ops"] = list(opts.trt_disable_ops)
    if opts.cuda_graph:
        convert["use_cuda_graph"] = True
    run: list[Call] = [("enable_use_gpu", int(opts.gpu_memory_mb), int(opts.device_id))]
    return PirTrtPlan(model_prefix=model_prefix, save_model_dir=convert["save_model_dir"],
                      inputs=inputs, convert=convert, run=run)


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
    return [("enable_use_gpu", int(opts.gpu_memory_mb), int(opts.device_id)),
            ("switch_ir_optim", True),
            ("collect_shape_range_info", shape_file_path(opts, precision))]


def plan_value(call: Call, name: str, default: Any = None) -> Any:
    """The keyword `name` of a dict-argument call (for tests and the cpp runner)."""
    for arg in call[1:]:
        if isinstance(arg, dict) and name in arg:
            return arg[name]
    return default
