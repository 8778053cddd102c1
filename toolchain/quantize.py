"""Post-training quantization: FP32 Paddle model + calibration images -> INT8 model.

Uses Paddle's own paddle.static.quantization.PostTrainingQuantization (what
PaddleSlim's quant_post_static wraps). The output is a legacy-format model with
quantize/dequantize ops carrying the scales; oneDNN (`enable_mkldnn_int8`) and
TensorRT (`precision=Int8, use_calib_mode=False`) both run it.

Measured with paddlepaddle 3.3.1: oneDNN INT8 runs on legacy models (.pdmodel,
exported with FLAGS_enable_pir_api=0); a PIR (.json) model with quantize ops
failed at run time ("Tensor holds no memory"). So quantization reads and writes
legacy models only, in a worker process started with FLAGS_enable_pir_api=0:

    FLAGS_enable_pir_api=0 python -m toolchain.quantize --model-dir FP32 \
        --calib-data train.bin --out INT8 [--algo KL] [--batch-size 10] [--batch-nums 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import LabError
from .fsio import staged_directory
from .models.worker import WorkerStep
from .progress import NO_PROGRESS, ProgressSink
from .results import JsonResult
from .settings import LabSettings
from .shellscript import ShellScript

ALGOS = ("abs_max", "avg", "hist", "KL", "mse")
# PostTrainingQuantization's own default set (conv, depthwise conv, fc/matmul).
OP_TYPES = ("conv2d", "depthwise_conv2d", "mul", "matmul", "matmul_v2")


@dataclass
class QuantizeResult(JsonResult):
    model_dir: Path             # the FP32 input
    output: Path                # the INT8 model dir
    algo: str
    calib_data: Path
    batch_size: int
    batch_nums: int
    calib_images: int
    quantized_ops: int          # quantize_linear ops in the written program
    scales_reshaped: int        # 0-D scales stored as [1] (see scales_as_vectors)
    sha256: str                 # of the INT8 program + params
    source_sha256: str
    seconds: float


def default_output(settings: LabSettings, model_dir: Path) -> Path:
    """<work_dir>/models/<name>/int8 beside a lab fp32 dir, else <model_dir>_int8."""
    from .models.layout import find_model_files

    model_dir = Path(model_dir)
    name = find_model_files(model_dir).record().get("name")
    if model_dir.name == "fp32":
        return model_dir.parent / "int8"
    if name:
        return settings.work_dir / "models" / name / "int8"
    return model_dir.with_name(model_dir.name + "_int8")


def check_quantizable(model_dir: Path):
    """The FP32 legacy model to quantize, or a LabError that says what to do."""
    from .models.layout import find_model_files

    files = find_model_files(model_dir)
    if files.format != "legacy":
        legacy = files.dir.parent if files.dir.name == "pir" else None
        raise LabError(
            f"{files.program.name} is a PIR (.json) model; INT8 needs the legacy format",
            where=str(files.program),
            hint=(f"quantize the legacy model beside it: --model-dir {legacy}" if legacy and
                  (legacy / "model.pdmodel").exists() else
                  "export it as .pdmodel: `invoke models --export NAME` writes both formats, "
                  "or save it with FLAGS_enable_pir_api=0 set before paddle is imported "
                  "(with paddle 3.3.1 oneDNN INT8 failed on a quantized .json model: "
                  "\"Tensor holds no memory\")"))
    if files.quantized():
        raise LabError(f"{files.program} is already quantized", where=str(files.program),
                       hint="pass the FP32 model directory")
    return files


@dataclass(frozen=True)
class QuantizePlan(JsonResult):
    """What `invoke quantize` will do, decided before the worker starts."""
    model_dir: Path             # the FP32 legacy model
    program: str                # its file names inside model_dir
    params: str
    calib_data: Path
    calib_images: int           # images in the calibration dataset
    output: Path                # the INT8 model dir (built beside it, then renamed)
    algo: str
    batch_size: int
    batch_nums: int             # at most what the dataset holds
    op_types: tuple[str, ...]
    keep_fp32: tuple[str, ...] = ()     # weights of ops PTQ leaves in FP32 (skip_tensor_list)

    def step(self, output: Path | None = None) -> WorkerStep:
        """The worker run; `output`: where it writes (default the plan's output)."""
        args = ["--model-dir", str(self.model_dir), "--program", self.program,
                "--params", self.params, "--calib-data", str(self.calib_data),
                "--out", str(output or self.output), "--algo", self.algo,
                "--batch-size", str(self.batch_size), "--batch-nums", str(self.batch_nums),
                "--op-types", ",".join(self.op_types),
                *(["--keep-fp32", ",".join(self.keep_fp32)] if self.keep_fp32 else [])]
        return WorkerStep("toolchain.quantize", tuple(args), pir=False, what="quantization")

    def script(self) -> str:
        sh = ShellScript("quantize --dry-run", "post-training quantization in a worker")
        sh.note("(the task writes to a temporary sibling of the output, then renames it)")
        sh.note(f"{self.batch_nums} batches of {self.batch_size} from the {self.calib_images} "
                f"images of {self.calib_data}")
        self.step().add_to(sh)
        return sh.render()


def plan_quantize(settings: LabSettings, model_dir: Path, calib_data: Path,
                  output: Path | None = None, algo: str = "KL", batch_size: int = 10,
                  batch_nums: int = 10, op_types: tuple[str, ...] | None = None,
                  keep_fp32: tuple[str, ...] = ()) -> QuantizePlan:
    """Check the model and the calibration data and decide the run; writes nothing.

    op_types: the op types to quantize (default OP_TYPES); more types let oneDNN
    keep more of the graph in INT8 (fewer reorders between INT8 and FP32).
    keep_fp32: weight names of ops to leave in FP32 (PTQ's skip_tensor_list skips
    every op that reads one; a weight is read by its op only)."""
    from .data.binfmt import DatasetReader
    from .models.inputs import check_dataset_fits_model

    if algo not in ALGOS:
        raise LabError(f"unknown --algo {algo!r}", hint=f"choose one of {', '.join(ALGOS)}")
    if batch_size < 1 or batch_nums < 1:
        raise LabError("--batch-size and --batch-nums must be at least 1")
    files = check_quantizable(Path(model_dir))
    calib_data = Path(calib_data)
    with DatasetReader(calib_data) as reader:
        available = reader.count
    if available == 0:
        raise LabError(f"{calib_data} holds no images", where=str(calib_data))
    if batch_size > available:
        raise LabError(f"--batch-size {batch_size} is larger than the {available} images of "
                       f"the calibration dataset", where=str(calib_data),
                       hint=f"pass --batch-size {available} or less (batches x batch size "
                            f"images are read, at most {available})")
    check_dataset_fits_model(files, calib_data)
    output = Path(output) if output else default_output(settings, files.dir)
    if output.resolve() == files.dir.resolve():
        raise LabError("--out must differ from --model-dir", where=str(output))
    return QuantizePlan(model_dir=files.dir, program=files.program.name,
                        params=files.params.name, calib_data=calib_data,
                        calib_images=available, output=output, algo=algo,
                        batch_size=batch_size,
                        batch_nums=min(batch_nums, max(1, available // batch_size)),
                        op_types=tuple(op_types or OP_TYPES), keep_fp32=tuple(keep_fp32))


def execute_quantize(plan: QuantizePlan, progress: ProgressSink = NO_PROGRESS
                     ) -> QuantizeResult:
    """Run the plan's worker into a staged sibling of the output, record it, swap it in."""
    from .models.layout import find_model_files, write_record

    files = find_model_files(plan.model_dir)
    src = files.record()
    source_sha = files.sha256()
    t0 = time.perf_counter()
    with progress.track(f"calibrating ({plan.algo})", unit="batches") as tracker, \
            staged_directory(plan.output) as staged:
        def on_progress(done: int, total: int, text: str) -> None:
            tracker.update(completed=done, total=total, note=text)

        res = plan.step(staged).run(on_progress)
        sha = find_model_files(staged).sha256()
        write_record(staged, {"name": src.get("name", files.dir.name), "kind": src.get("kind"),
                              "format": "legacy", "precision": "int8",
                              "num_classes": src.get("num_classes"), "sha256": sha,
                              "source_sha256": source_sha, "algo": plan.algo,
                              "calib_data": str(plan.calib_data), "note": src.get("note", ""),
                              **({"kept_fp32": list(plan.keep_fp32)} if plan.keep_fp32 else {})})
    return QuantizeResult(model_dir=plan.model_dir, output=plan.output, algo=plan.algo,
                          calib_data=plan.calib_data, batch_size=plan.batch_size,
                          batch_nums=plan.batch_nums, calib_images=res["calib_images"],
                          quantized_ops=res["quantized_ops"],
                          scales_reshaped=res["scales_reshaped"], sha256=sha,
                          source_sha256=source_sha, seconds=round(time.perf_counter() - t0, 2))


def quantize_model(settings: LabSettings, model_dir: Path, calib_data: Path,
                   output: Path | None = None, algo: str = "KL", batch_size: int = 10,
                   batch_nums: int = 10, progress: ProgressSink = NO_PROGRESS,
                   op_types: tuple[str, ...] | None = None,
                   keep_fp32: tuple[str, ...] = ()) -> QuantizeResult:
    """Quantize `model_dir` on the images of `calib_data` (bin or slim-dir dataset):
    plan_quantize, then execute_quantize."""
    return execute_quantize(plan_quantize(settings, model_dir, calib_data, output, algo,
                                          batch_size, batch_nums, op_types, keep_fp32),
                            progress)


# --- worker side (runs with FLAGS_enable_pir_api=0) -----------------------------------

def iterate_graph_nodes_by_id() -> None:
    """Make PostTrainingQuantization's graph passes visit nodes in node-id order.

    IrGraph.all_op_nodes() & co. return Python sets of fresh IrNode wrappers, which
    hash by memory address (PYTHONHASHSEED does not help): the passes that insert
    quantize/dequantize ops visited the ops in a different order each run and
    created the new ops in that order, and the saved program lists new ops that do
    not depend on each other (the quantize ops of a residual add's two inputs) in
    creation order, so the .pdmodel bytes changed from run to run (params did not).
    Node ids are given in creation order (the first ones in program order), so
    visiting by id makes the passes, and the saved program, reproducible. The set
    of ops written is the same; oneDNN INT8 outputs were bit-identical.
    """
    from paddle.base.framework import IrGraph

    class NodesById(set):
        def __iter__(self):
            return iter(sorted(set.__iter__(self), key=lambda node: node.id()))

    for name in ("all_nodes", "all_var_nodes", "all_persistable_nodes", "all_op_nodes"):
        unordered = getattr(IrGraph, name, None)
        if unordered is None or getattr(unordered, "by_id", False):
            continue

        def ordered(self, _unordered=unordered):
            return NodesById(_unordered(self))

        ordered.by_id = True
        ordered.__doc__ = unordered.__doc__
        setattr(IrGraph, name, ordered)


def scales_as_vectors(program, scope) -> int:
    """Store every 0-D quantization scale as the 1-element vector its variable declares.

    PTQ keeps per-tensor activation scales as 0-D tensors although their variables say
    shape [1]. Paddle reads either; OpenVINO's Paddle front end takes the rank from the
    stored tensor and refuses rank 0 ("Fail to convert dequantize_linear ... dims of
    scale should not be greater than 2"), so without this no OpenVINO reads our INT8 model.
    Returns how many were reshaped."""
    import numpy as np
    import paddle

    reshaped = 0
    for var in program.global_block().vars.values():
        if not (var.persistable and var.name.endswith("@scale")):
            continue
        held = scope.find_var(var.name)
        if held is None:
            continue
        tensor = held.get_tensor()
        value = np.array(tensor)
        if value.ndim == 0 and list(var.shape) == [1]:
            tensor.set(value.reshape(1), paddle.CPUPlace())
            reshaped += 1
    return reshaped


def _worker(args) -> dict:
    from .data.binfmt import DatasetReader
    from .models.worker import check_pir_flag, report_progress

    check_pir_flag(False)
    import paddle
    from paddle.static.quantization import PostTrainingQuantization

    iterate_graph_nodes_by_id()
    paddle.enable_static()
    exe = paddle.static.Executor(paddle.CPUPlace())
    scope = paddle.static.global_scope()
    model_dir = Path(args.model_dir)
    with paddle.static.scope_guard(scope):
        _, feed_names, _ = paddle.static.load_inference_model(
            str(model_dir), exe,
            model_filename=args.program, params_filename=args.params)
    feed = feed_names[0]
    seen = {"images": 0}
    passes = 2 if args.algo in ("KL", "hist") else 1

    def loader():
        done = 0
        with DatasetReader(args.calib_data) as reader:
            for images, _ in reader.iter_batches(args.batch_size,
                                                 limit=args.batch_size * args.batch_nums):
                done += 1
                seen["images"] = max(seen["images"], done * images.shape[0])
                seen["pass"] = seen.get("pass", 0) + (1 if done == 1 else 0)
                report_progress(done, args.batch_nums,
                                f"calibrating ({args.algo}) pass {seen['pass']}/{passes}")
                yield {feed: images}

    ptq = PostTrainingQuantization(
        executor=exe, model_dir=str(model_dir), scope=scope, model_filename=args.program,
        params_filename=args.params, data_loader=loader, batch_size=args.batch_size,
        batch_nums=args.batch_nums, algo=args.algo, onnx_format=True,
        quantizable_op_type=[t for t in args.op_types.split(",") if t],
        skip_tensor_list=[t for t in args.keep_fp32.split(",") if t] or None,
        is_use_cache_file=False)
    ptq.quantize()
    vectors = scales_as_vectors(ptq._program, scope)
    out = Path(args.out)
    ptq.save_quantized_model(str(out), model_filename="model.pdmodel",
                             params_filename="model.pdiparams")
    from .models.layout import strip_debug_attrs

    strip_debug_attrs(out / "model.pdmodel")    # same bytes from any checkout location
    program = (out / "model.pdmodel").read_bytes()
    return {"calib_images": seen["images"], "scales_reshaped": vectors,
            "quantized_ops": program.count(b"quantize_linear") - program.count(
                b"dequantize_linear")}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m toolchain.quantize")
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--program", default="model.pdmodel")
    ap.add_argument("--params", default="model.pdiparams")
    ap.add_argument("--calib-data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--algo", default="KL", choices=ALGOS)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--batch-nums", type=int, default=10)
    ap.add_argument("--op-types", default=",".join(OP_TYPES))
    ap.add_argument("--keep-fp32", default="")
    args = ap.parse_args(argv)
    from .models.worker import worker_main

    worker_main(lambda: _worker(args))


if __name__ == "__main__":
    main(sys.argv[1:])
