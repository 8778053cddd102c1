"""The REAL Paddle Inference engine for the C++ demo, from the installed paddlepaddle wheel.

A thin client of the product code, toolchain/fetch/wheel.py (`invoke fetch-lib
--from-wheel`): `build_wheel_sdk(dest)` assembles and proves the wheel-derived
library there (declarations in toolchain/fetch/wheel_include/, every declared
symbol checked against libpaddle.so's exports, a probe's output compared bit for
bit with Python paddle.inference), without registering it anywhere. The demo
compiles unchanged against it and runs the real Paddle engine (CPU here), the very
binary the Python `paddle.inference` API of the same wheel runs: the right baseline
for benchmarks/demo_overhead.py and for comparing outputs with Python.

    from standin_sdk.wheel import build_wheel_sdk, wheel_sdk_unavailable
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from toolchain.errors import LabError
from toolchain.fetch.wheel import assemble_wheel_library, locate_wheel, plan_wheel_library

HERE = Path(__file__).resolve().parent


def wheel_sdk_unavailable() -> str | None:
    """Why the wheel-backed SDK cannot be built here, or None when it can."""
    for tool in ("nm", "g++"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        info = locate_wheel()
        if not Path(info.libpaddle).is_file():
            return f"{info.libpaddle} does not exist"
        plan_wheel_library(info, Path("/nonexistent"))
    except LabError as exc:
        return exc.message
    return None


def build_wheel_sdk(dest: Path) -> Path:
    """Assemble and prove the tree at `dest`; RuntimeError with the reason if impossible."""
    reason = wheel_sdk_unavailable()
    if reason:
        raise RuntimeError(reason)
    try:
        return Path(assemble_wheel_library(Path(dest)).path)
    except LabError as exc:
        raise RuntimeError(str(exc)) from None


def python_config(demo_json: dict):
    """The `paddle.inference.Config` the demo used, rebuilt from its JSON line's
    `config_calls` (each C++ call mapped to its Python twin), for comparisons with
    the Python API on exactly the same configuration."""
    from paddle import inference

    config = inference.Config(demo_json["model_file"], demo_json["params_file"])
    precisions = {"fp32": inference.PrecisionType.Float32, "fp16": inference.PrecisionType.Half,
                  "int8": inference.PrecisionType.Int8}
    for call in demo_json["config_calls"]:
        name, _, rest = call.partition("(")
        args = [a.strip() for a in rest.rstrip(")").split(",")] if rest.rstrip(")") else []
        if name in ("SetModel", "CreatePredictor", "CreatePaddlePredictor"):
            continue
        if name == "EnableTensorRtEngine":
            ws, mb, ms, prec, static, calib = args[:6]
            config.enable_tensorrt_engine(
                workspace_size=int(ws), max_batch_size=int(mb), min_subgraph_size=int(ms),
                precision_mode=precisions[prec], use_static=static == "1",
                use_calib_mode=calib == "1")
            continue
        python_name = {
            "EnableNewIR": "enable_new_ir", "DisableGpu": "disable_gpu",
            "SetCpuMathLibraryNumThreads": "set_cpu_math_library_num_threads",
            "EnableMKLDNN": "enable_mkldnn", "EnableONEDNN": "enable_onednn",
            "DisableMKLDNN": "disable_mkldnn", "EnableMkldnnInt8": "enable_mkldnn_int8",
            "EnableOnednnInt8": "enable_onednn_int8", "SwitchIrOptim": "switch_ir_optim",
            "EnableMkldnnBfloat16": "enable_mkldnn_bfloat16",
            "EnableOnednnBfloat16": "enable_onednn_bfloat16",
            "DisableGlogInfo": "disable_glog_info", "EnableUseGpu": "enable_use_gpu",
            "SetOptimCacheDir": "set_optim_cache_dir",
        }[name]
        values = []
        for a in args:
            values.append(int(a) if re.fullmatch(r"-?\d+", a) else a)
        if name in ("EnableNewIR", "SwitchIrOptim"):
            values = [bool(v) for v in values]
        getattr(config, python_name)(*values)
    return config


def export_test_model(model_dir: Path, legacy: bool = False) -> Path:
    """A real Paddle inference model to run through the real engine: MobileNetV1
    x0.25 with random weights (seed 0, no download), exported with paddle.jit.save
    in a subprocess. legacy=False: 3.x PIR (inference.json + .pdiparams);
    legacy=True: inference.pdmodel + .pdiparams (FLAGS_enable_pir_api=0)."""
    import sys

    model_dir = Path(model_dir)
    code = (
        "import sys, paddle\n"
        "paddle.seed(0)\n"
        "from paddle.vision.models import mobilenet_v1\n"
        "m = mobilenet_v1(scale=0.25, num_classes=1000)\n"
        "m.eval()\n"
        "spec = [paddle.static.InputSpec([None, 3, 224, 224], 'float32', 'x')]\n"
        "paddle.jit.save(m, sys.argv[1] + '/inference', input_spec=spec)\n")
    env = dict(os.environ)
    if legacy:
        env["FLAGS_enable_pir_api"] = "0"
    proc = subprocess.run([sys.executable, "-c", code, str(model_dir)], capture_output=True,
                          text=True, timeout=600, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"model export failed:\n{proc.stderr[-2000:]}")
    return model_dir
