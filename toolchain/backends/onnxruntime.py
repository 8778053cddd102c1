"""ONNX Runtime on the CPU as a second opinion: the Paddle model through paddle2onnx (#17).

`load(files, precision, threads, cache_dir)` converts the model once (cached under
cache_dir by model sha256 and paddle2onnx version) and opens an ORT session on the CPU
execution provider; `CannotRun(reason)` says in one line why this backend cannot run a
model/precision (the bench prints it as the row).

paddle2onnx runs in a child process through its Python API (`paddle2onnx.export`): it
switches paddle's global IR mode and scope, prints a lot, and on some models aborts the
whole process from C++ (SIGABRT), none of which may reach the caller.

What paddle2onnx 2.1.0 does with the lab's models (paddlepaddle 3.3.1):
- FP32, legacy .pdmodel and PIR .json: converted (it translates .pdmodel to PIR first).
- INT8 from `invoke quantize` (quantize_linear/dequantize_linear, bit_length 8): not
  converted. Its quantize_linear/dequantize_linear mappers exist for opset 19 only and
  accept only FP8 ranges (qmax 448 = e4m3, 57344 = e5m2); qmax 127 fails the assertion
  "Only support e4m3 or e5m2 now" and the converter aborts.
- BF16: the ORT CPU execution provider has no bfloat16 kernels for these ops.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from ..errors import LabError
from ..fsio import current_umask, staged_directory
from .base import CannotRun, TimedEngine

PRECISIONS = ("fp32", "int8", "bf16")
ONNX_NAME = "model.onnx"
OPSET = 13                       # per-axis QDQ needs 13; paddle2onnx raises it where an op needs
CONVERT_TIMEOUT_S = 600.0
FP8_ONLY = "Only support e4m3 or e5m2"
# The child: paddle2onnx's Python API, writing argv[3]; exit 3 when it logged an error
# and wrote nothing (export() catches its own exceptions).
CONVERT_SCRIPT = """\
import sys, warnings
warnings.simplefilter("ignore")
import paddle2onnx
model, params, out = sys.argv[1:4]
paddle2onnx.export(model, params, out, opset_version=int(sys.argv[4]),
                   auto_upgrade_opset=True, enable_onnx_checker=True,
                   optimize_tool="none")
import os
sys.exit(0 if os.path.isfile(out) else 3)
"""
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Conversions that failed in this process, by target path: a bench loads a model once per
# measurement window and the answer does not change (timeouts are not remembered).
FAILED: dict[Path, str] = {}


def available() -> str | None:
    """None when onnxruntime imports and paddle2onnx is installed; else why not.

    paddle2onnx is only looked up here, not imported (that imports paddle); it is
    imported in the conversion child, whose failure is a CannotRun.
    """
    import importlib
    import importlib.util

    try:
        importlib.import_module("onnxruntime")
    except ImportError as err:
        return f"onnxruntime is not installed ({err})"
    if importlib.util.find_spec("paddle2onnx") is None:
        return "paddle2onnx is not installed"
    return None


def version() -> str:
    """onnxruntime's version and the converter's: both decide what runs."""
    import onnxruntime

    return f"{onnxruntime.__version__} (paddle2onnx {paddle2onnx_version()})"


def paddle2onnx_version() -> str:
    return importlib.metadata.version("paddle2onnx")


def converted_path(files, cache_dir: Path) -> Path:
    """Where the ONNX twin of `files` lives: one folder per model sha256 and converter."""
    return Path(cache_dir) / f"{files.sha256()[:16]}-{paddle2onnx_version()}" / ONNX_NAME


def error_line(output: str) -> str:
    """The first line of what paddle2onnx said went wrong (its [ERROR] lines first)."""
    lines = [ANSI.sub("", line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        if "[ERROR]" in line:
            text = line.split("[ERROR]", 1)[1]
            return re.sub(r"^\s*(\[Paddle2ONNX\])?\s*(Paddle2ONNX:)?\s*", "", text).strip() or line
    for line in reversed(lines):
        if re.search(r"Error|error:", line):
            return line
    return lines[-1] if lines else "no output"


def conversion_failure(files, returncode: int, output: str, version: str) -> CannotRun:
    """The CannotRun for a failed paddle2onnx `version` child, naming what it said."""
    said = error_line(output)[:240]
    if FP8_ONLY in output and files.quantized():
        return CannotRun(f"paddle2onnx {version} cannot convert an INT8 model: it maps "
                         "quantize_linear/dequantize_linear to FP8 only (opset 19, "
                         f"e4m3/e5m2) and aborted with \"{said}\"")
    if files.format == "pir":
        return CannotRun(f"paddle2onnx {version} cannot convert a PIR (.json) model: {said}")
    signal = f" (killed by signal {-returncode})" if returncode < 0 else ""
    return CannotRun(f"paddle2onnx failed{signal}: {said}")


def convert(files, cache_dir: Path, timeout_s: float = CONVERT_TIMEOUT_S
            ) -> tuple[Path, float | None]:
    """The cached ONNX model of `files`, converting it first if needed.

    Returns (path, milliseconds the conversion took; None when it was cached). The model
    is written in a staged folder swapped into place, so a reader never sees half a file.
    """
    target = converted_path(files, cache_dir)
    if target.is_file():
        return target, None
    if target in FAILED:
        raise CannotRun(FAILED[target])
    t0 = time.perf_counter()
    try:
        run_conversion(files, target, timeout_s)
    except OSError as err:
        raise LabError(f"cannot write the converted model under {target.parent}: {err}",
                       where=str(target.parent),
                       hint="make the cache folder writable, or point it elsewhere") from err
    return target, (time.perf_counter() - t0) * 1000.0


def run_conversion(files, target: Path, timeout_s: float) -> None:
    """paddle2onnx in a child process, into a staged folder swapped in at `target.parent`."""
    with staged_directory(target.parent) as staged:
        cmd = [sys.executable, "-c", CONVERT_SCRIPT, str(files.program), str(files.params),
               str(staged / ONNX_NAME), str(OPSET)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                                  timeout=timeout_s, cwd=staged,
                                  env={**os.environ, "GLOG_minloglevel": "2"})
        except subprocess.TimeoutExpired as err:
            raise CannotRun(f"paddle2onnx did not finish within {timeout_s:.0f} s") from err
        if done.returncode != 0 or not (staged / ONNX_NAME).is_file():
            failure = conversion_failure(files, done.returncode,
                                         done.stdout + "\n" + done.stderr, paddle2onnx_version())
            FAILED[target] = failure.reason
            raise failure
        for extra in staged.iterdir():      # anything else it left beside the model
            if extra.name != ONNX_NAME and extra.is_file():
                extra.unlink()
        os.chmod(staged, 0o777 & ~current_umask())     # mkdtemp's 0700 would make it private


class OrtEngine(TimedEngine):
    """One ORT session on the CPU execution provider for a converted model.

    create_ms: session creation only (graph optimisation included, conversion not);
    convert_ms: the paddle2onnx run this load needed, None when it came from the cache.
    """

    def __init__(self, model: str, onnx_path: Path, threads: int,
                 convert_ms: float | None = None):
        import onnxruntime as ort

        self.model = model
        self.onnx_path = Path(onnx_path)
        self.convert_ms = convert_ms
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3          # errors only: no initializer-cleanup warnings
        self.applied = [["intra_op_num_threads", opts.intra_op_num_threads],
                        ["inter_op_num_threads", 1], ["execution_mode", "sequential"],
                        ["graph_optimization_level", "ORT_ENABLE_ALL"],
                        ["providers", ["CPUExecutionProvider"]]]
        t0 = time.perf_counter()
        try:
            self.session = ort.InferenceSession(str(self.onnx_path), sess_options=opts,
                                                providers=["CPUExecutionProvider"])
        except Exception as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise CannotRun(f"onnxruntime cannot load the converted model: {first[:240]}"
                            ) from err
        self.create_ms = (time.perf_counter() - t0) * 1000.0
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name

    def infer(self, images):
        """float32 NCHW batch -> logits (an array of its own, not ORT's buffer)."""
        import numpy as np

        batch = np.ascontiguousarray(images, dtype=np.float32)
        return self.session.run([self.output_name], {self.input_name: batch})[0]


def check_request(files, precision: str, threads: int) -> None:
    """Refuse what cannot run before converting anything."""
    if precision not in PRECISIONS:
        raise LabError(f"unknown precision {precision!r} for onnxruntime",
                       hint=f"use one of {', '.join(PRECISIONS)}")
    if threads < 1:
        raise LabError(f"threads must be at least 1, got {threads}")
    if precision == "bf16":
        raise CannotRun("onnxruntime has no bfloat16 kernels on the CPU")
    if precision == "int8" and not files.quantized():
        raise CannotRun("INT8 needs a quantized model (quantize/dequantize ops); "
                        "this one is FP32")


def load(files, precision: str, threads: int, cache_dir: Path) -> OrtEngine:
    """An OrtEngine for `files` (toolchain.models.layout.ModelFiles) at `precision`.

    Raises CannotRun (toolchain.backends.base) when onnxruntime cannot run this
    model/precision, including a missing package.
    """
    check_request(files, precision, threads)
    missing = available()
    if missing:
        raise CannotRun(missing)
    onnx_path, convert_ms = convert(files, cache_dir)
    return OrtEngine(str(files.dir), onnx_path, threads, convert_ms)
