"""Per-layer comparison of an INT8 model against its FP32 twin (`invoke compare-layers`).

Both legacy programs run on the same images in a worker (paddle.static Executor,
FLAGS_enable_pir_api=0): the INT8 program executes its quantize/dequantize ops,
so each op's output carries the INT8 rounding of its inputs and weights. The
quantize pass renames an op's inputs (X -> X.quantized.dequantized) but keeps
its output names, so each quantized op is matched to the FP32 op that writes
the same variable, and both are fetched by that name.

Per quantized op, over all compared images: max |int8 - fp32|, relative error
||int8 - fp32|| / ||fp32||, cosine similarity, and the *own* error: the relative
error minus the largest relative error of the compared tensors that feed it. The
total error accumulates downstream (every op after a broken one looks broken);
the own error points at the op where it starts, so the ranking is by own error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LabError
from ..results import JsonResult

# Op types PostTrainingQuantization quantizes (its own default set), and the op that
# ends an activation's fake quantization in onnx_format.
QUANTIZABLE = ("conv2d", "depthwise_conv2d", "conv2d_transpose", "mul", "matmul",
               "matmul_v2")
DEQUANTIZE = "dequantize_linear"


# --- pure core ------------------------------------------------------------------------

@dataclass(frozen=True)
class OpInfo:
    type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class ComparedOp:
    """A quantized op: its type, the output compared, the weight that names it for PTQ."""
    type: str
    output: str
    weight: str


def quantized_ops(fp32_ops: list[OpInfo], fp32_weights: set[str],
                  int8_ops: list[OpInfo]) -> list[ComparedOp]:
    """The FP32 program's quantizable ops (with a weight) whose output the INT8 program
    writes with an op that reads its weight dequantized; in FP32 program order. (A dequantized
    activation alone does not make an op INT8: PTQ also puts quantize/dequantize pairs on
    the outputs of batch norm and relu, in front of an op it kept in FP32.)"""
    dequantized = {out for op in int8_ops if op.type == DEQUANTIZE
                   and any(i in fp32_weights for i in op.inputs) for out in op.outputs}
    quantized_outputs = {out for op in int8_ops if op.type in QUANTIZABLE
                         and any(i in dequantized for i in op.inputs) for out in op.outputs}
    found = []
    for op in fp32_ops:
        weights = [i for i in op.inputs if i in fp32_weights]
        if op.type not in QUANTIZABLE or not weights or not op.outputs:
            continue
        if op.outputs[0] in quantized_outputs:
            found.append(ComparedOp(op.type, op.outputs[0], weights[0]))
    return found


def feeding_compared(ops: list[OpInfo], compared: set[str], weights: set[str]
                     ) -> dict[str, set[str]]:
    """For each compared tensor, the nearest compared tensors upstream of it (through
    ops that are not compared: relu, batch norm, pools, adds ...)."""
    producer = {out: op for op in ops for out in op.outputs}
    memo: dict[str, set[str]] = {}

    def sources(var: str, seen: frozenset) -> set[str]:
        if var in memo:
            return memo[var]
        op = producer.get(var)
        found: set[str] = set()
        if op is not None and var not in seen:
            for name in op.inputs:
                if name in weights:
                    continue
                found |= {name} if name in compared else sources(name, seen | {var})
        memo[var] = found
        return found

    result = {}
    for var in compared:
        op = producer.get(var)
        inputs = [] if op is None else [i for i in op.inputs if i not in weights]
        result[var] = set().union(*({i} if i in compared else sources(i, frozenset({var}))
                                    for i in inputs)) if inputs else set()
    return result


@dataclass
class ErrorSums:
    """Running sums for the error of one tensor over many batches (numpy arrays in)."""
    max_abs: float = 0.0
    diff_sq: float = 0.0
    ref_sq: float = 0.0
    got_sq: float = 0.0
    dot: float = 0.0

    def add(self, ref, got) -> None:
        import numpy as np

        ref = np.asarray(ref, dtype="float64").ravel()
        got = np.asarray(got, dtype="float64").ravel()
        if ref.shape != got.shape:
            raise LabError(f"FP32 and INT8 tensors differ in size ({ref.size} vs {got.size})",
                           hint="compare an INT8 model with the FP32 model it was quantized "
                                "from")
        diff = got - ref
        if diff.size:
            self.max_abs = max(self.max_abs, float(np.abs(diff).max()))
        self.diff_sq += float(diff @ diff)
        self.ref_sq += float(ref @ ref)
        self.got_sq += float(got @ got)
        self.dot += float(ref @ got)

    @property
    def relative(self) -> float:
        if self.ref_sq == 0:
            return 0.0 if self.diff_sq == 0 else math.inf
        return math.sqrt(self.diff_sq / self.ref_sq)

    @property
    def cosine(self) -> float:
        if self.ref_sq == 0 or self.got_sq == 0:
            return 1.0 if self.ref_sq == self.got_sq else 0.0
        return self.dot / math.sqrt(self.ref_sq * self.got_sq)


@dataclass
class LayerError:
    op_type: str
    output: str                 # the variable compared (the op's output)
    weight: str                 # its weight: what repair-int8 keeps in FP32
    max_abs: float
    relative: float             # ||int8 - fp32|| / ||fp32||
    cosine: float
    own: float                  # relative - the largest relative error feeding it
    fed_by: list[str]
    nonfinite: int = 0          # NaN/Inf values in the INT8 tensor
    first_bad_image: int | None = None


@dataclass
class LayerComparison(JsonResult):
    fp32_dir: Path
    int8_dir: Path
    data_file: Path
    images: int
    layers: list[LayerError]        # worst first (own error), at most `top`
    total_layers: int
    output: LayerError              # the model output (logits)
    top1_agreement: float           # share of images whose INT8 top-1 is FP32's
    # tensors with NaN/Inf: {tensor, model ("fp32"|"int8"), count, first_image}
    nonfinite: list[dict] = field(default_factory=list)

    @property
    def ranking(self) -> list[str]:
        return [layer.weight for layer in self.layers]


def layer_errors(ops: list[ComparedOp], sums: dict[str, ErrorSums],
                 fed_by: dict[str, set[str]], bad: dict[str, dict]) -> list[LayerError]:
    """One LayerError per compared op, worst first (own error, then relative error)."""
    rel = {op.output: sums[op.output].relative for op in ops}
    rows = []
    for op in ops:
        s = sums[op.output]
        upstream = sorted(fed_by.get(op.output, ()))
        base = max((rel[u] for u in upstream), default=0.0)
        rows.append(LayerError(op.type, op.output, op.weight, s.max_abs, s.relative, s.cosine,
                               max(0.0, s.relative - base), upstream,
                               bad.get(op.output, {}).get("count", 0),
                               bad.get(op.output, {}).get("first_image")))
    rows.sort(key=lambda r: (-_sort_key(r.own), -_sort_key(r.relative), r.output))
    return rows


def _sort_key(value: float) -> float:
    return value if not math.isnan(value) else math.inf


# --- edge: the worker ------------------------------------------------------------------

def twin_fp32_dir(int8_dir: Path) -> Path:
    """Where the FP32 model of an INT8 one sits by the quantize defaults: fp32/ beside
    int8/, or NAME beside NAME_int8."""
    int8_dir = Path(int8_dir)
    if int8_dir.name == "int8":
        return int8_dir.parent / "fp32"
    if int8_dir.name.endswith("_int8"):
        return int8_dir.with_name(int8_dir.name[:-len("_int8")])
    return int8_dir.parent / "fp32"


def check_pair(fp32_dir: Path | None, int8_dir: Path):
    """(fp32 files, int8 files): legacy, the INT8 one quantized and made from the FP32 one."""
    from ..models.inputs import read_model_inputs
    from ..models.layout import find_model_files

    int8 = find_model_files(int8_dir)
    if not int8.quantized():
        raise LabError(f"{int8.program} holds no quantize ops: it is not an INT8 model",
                       where=str(int8.dir),
                       hint="pass the model `invoke quantize` wrote as --int8-dir")
    given = fp32_dir is not None
    fp32_dir = Path(fp32_dir) if given else twin_fp32_dir(int8.dir)
    if not fp32_dir.is_dir():
        raise LabError(f"the FP32 twin of {int8.dir} is missing: no {fp32_dir}",
                       where=str(int8.dir),
                       hint="pass the FP32 model it was quantized from as --fp32-dir")
    fp32 = find_model_files(fp32_dir)
    for files in (fp32, int8):
        if files.format != "legacy":
            raise LabError(f"{files.program.name} is a PIR (.json) model; the layer "
                           "comparison reads legacy (.pdmodel) programs", where=str(files.dir),
                           hint="pass the legacy export (fp32/ beside fp32/pir/)")
    if fp32.quantized():
        raise LabError(f"{fp32.program} is quantized: --fp32-dir must be the FP32 model",
                       where=str(fp32.dir))
    source = int8.record().get("source_sha256")
    if source and source != fp32.sha256():
        raise LabError(f"{int8.dir} was not quantized from {fp32.dir} (its record names "
                       f"FP32 sha256 {source[:16]}, the folder holds {fp32.sha256()[:16]})",
                       where=str(fp32.dir),
                       hint="pass the FP32 model the INT8 one was made from, or re-quantize")
    a, b = read_model_inputs(fp32), read_model_inputs(int8)
    if a is not None and b is not None and a != b:
        raise LabError(f"the models have different inputs: FP32 {_inputs(a)}, INT8 "
                       f"{_inputs(b)}", where=f"{fp32.dir} vs {int8.dir}",
                       hint="compare an INT8 model with the FP32 model it was quantized from")
    return fp32, int8


def _inputs(inputs) -> str:
    return ", ".join(f"{i.name}{list(i.shape)}" for i in inputs)


def compare_layers(fp32_dir: Path | None, int8_dir: Path, data_file: Path, images: int = 32,
                   top: int | None = None, batch_size: int = 8) -> LayerComparison:
    """Run both models on the first `images` images of `data_file` and compare every
    quantized op's output (see the module docstring)."""
    from ..data.binfmt import DatasetReader
    from ..models.inputs import check_dataset_fits_model
    from ..models.worker import run_worker

    if images < 1 or batch_size < 1:
        raise LabError("--images and the batch size must be at least 1")
    fp32, int8 = check_pair(fp32_dir, int8_dir)
    data_file = Path(data_file)
    with DatasetReader(data_file) as reader:
        available = reader.count
    if available == 0:
        raise LabError(f"{data_file} holds no images", where=str(data_file))
    check_dataset_fits_model(fp32, data_file)
    images = min(images, available)
    raw = run_worker("toolchain.int8.compare_worker",
                     ["--fp32", str(fp32.dir), "--fp32-program", fp32.program.name,
                      "--fp32-params", fp32.params.name, "--int8", str(int8.dir),
                      "--int8-program", int8.program.name, "--int8-params", int8.params.name,
                      "--data", str(data_file), "--images", str(images),
                      "--batch-size", str(min(batch_size, images))],
                     pir=False, what="layer comparison")
    return comparison_from_worker(raw, fp32.dir, int8.dir, data_file, top)


def comparison_from_worker(raw: dict, fp32_dir: Path, int8_dir: Path, data_file: Path,
                           top: int | None) -> LayerComparison:
    ops = [ComparedOp(**op) for op in raw["ops"]]
    sums = {name: ErrorSums(**value) for name, value in raw["sums"].items()}
    fed_by = {name: set(value) for name, value in raw["fed_by"].items()}
    bad = {b["tensor"]: b for b in raw["nonfinite"] if b["model"] == "int8"}
    rows = layer_errors(ops, sums, fed_by, bad)
    out_name = raw["output"]
    out = sums[out_name]
    out_bad = bad.get(out_name, {})
    output = LayerError("output", out_name, "", out.max_abs, out.relative, out.cosine,
                        out.relative, [], out_bad.get("count", 0), out_bad.get("first_image"))
    return LayerComparison(fp32_dir=fp32_dir, int8_dir=int8_dir, data_file=data_file,
                           images=raw["images"], layers=rows[:top] if top else rows,
                           total_layers=len(rows), output=output,
                           top1_agreement=raw["top1_agreement"], nonfinite=raw["nonfinite"])
