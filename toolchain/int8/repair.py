"""The repair loop (`invoke repair-int8`): quantize, measure the top-1 drop on held-out
images, and when it is over the limit keep the most harmful ops in FP32.

    1. FP32 top-1 on the held-out images; the INT8 model quantized with every op
       (with --algo auto: one per algorithm on the same calibration budget, the
       smallest drop wins).
    2. Over the limit: compare-layers ranks the quantized ops (own error, worst
       first); bisection finds the smallest k such that the model quantized with
       the k worst ops kept in FP32 (PTQ's skip_tensor_list) meets the limit.
       Keeping every op in FP32 is the FP32 model itself (drop 0, not quantized):
       if only that meets the limit, the loop says it cannot.
    3. The latency (p50, oneDNN) of FP32, full INT8 and the repaired model, and of
       each kept op: the model with that op alone kept in FP32, against full INT8.

Bisection assumes that keeping more of the ranking in FP32 never makes the drop
larger; it re-quantizes at most ceil(log2 N) + 1 times after the full INT8 model.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import LabError
from ..progress import NO_PROGRESS, ProgressSink
from ..results import JsonResult
from ..settings import LabSettings

MAX_COST_PROBES = 4        # kept ops whose latency cost is measured one by one


def smallest_meeting(n: int, meets: Callable[[int], bool]) -> int | None:
    """The smallest k in 1..n with meets(k) for a monotone `meets` (False.. then True..),
    or None when meets(n) is False. Each k is asked at most once."""
    if n < 1:
        return None
    asked: dict[int, bool] = {}

    def ask(k: int) -> bool:
        if k not in asked:
            asked[k] = meets(k)
        return asked[k]

    lo, hi = 1, n
    while lo < hi:
        mid = (lo + hi) // 2
        if ask(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo if ask(lo) else None


@dataclass
class Attempt:
    kept_fp32: list[str]        # weight names of the ops kept in FP32
    algo: str
    top1: float
    drop: float                 # points below FP32's top-1
    meets: bool
    quantized: bool = True      # False: every op in FP32 = the FP32 model, not measured


@dataclass
class KeptOp:
    op_type: str
    output: str
    weight: str
    own_error: float
    relative_error: float
    latency_cost_ms: float | None     # p50 with this op alone in FP32 minus full INT8's


@dataclass
class RepairResult(JsonResult):
    model_dir: Path
    output: Path | None             # the INT8 model written (None: the limit cannot be met)
    algo: str
    max_top1_drop: float
    held_out: Path
    images: int
    fp32_top1: float
    top1: float | None
    drop: float | None
    met: bool
    kept: list[KeptOp]
    attempts: list[Attempt]
    quantizations: int              # re-quantizations after the first full INT8 model
    ranking: list[dict] = field(default_factory=list)     # compare-layers, worst first
    algo_trials: list[dict] = field(default_factory=list)
    latency_p50_ms: dict = field(default_factory=dict)   # fp32, int8_full, repaired
    cost_probes: int = 0
    message: str = ""


def drop_points(fp32_top1: float, top1: float) -> float:
    return round((fp32_top1 - top1) * 100.0, 4)


class _Lab:
    """The measuring edge of the loop: quantize into a scratch folder, score, time."""

    def __init__(self, settings: LabSettings, model_dir: Path, calib_data: Path,
                 held_out: Path, scratch: Path, batch_size: int, batch_nums: int,
                 limit: int | None, latency_repeats: int):
        self.settings, self.model_dir, self.calib_data = settings, model_dir, calib_data
        self.held_out, self.scratch, self.limit = held_out, scratch, limit
        self.batch_size, self.batch_nums = batch_size, batch_nums
        self.latency_repeats = latency_repeats
        self.count = 0

    def quantize(self, algo: str, keep: tuple[str, ...]) -> Path:
        from ..quantize import quantize_model

        self.count += 1
        out = self.scratch / f"q{self.count}"
        quantize_model(self.settings, self.model_dir, self.calib_data, out, algo=algo,
                       batch_size=self.batch_size, batch_nums=self.batch_nums,
                       keep_fp32=keep)
        return out

    def top1(self, model: Path, precision: str) -> tuple[float, int]:
        from ..runners.run import run_accuracy

        r = run_accuracy(self.settings, model, self.held_out, precision, device="cpu",
                         runner="python", limit=self.limit)
        return r.top1, r.images

    def p50(self, model: Path, precision: str) -> float:
        from ..runners.run import run_latency

        r = run_latency(self.settings, model, precision, device="cpu", runner="python",
                        batch_size=1, warmup=5, repeats=self.latency_repeats,
                        data_file=self.held_out)
        return round(r.latency_ms.p50, 4)


def repair_int8(settings: LabSettings, model_dir: Path, calib_data: Path, held_out: Path,
                output: Path | None = None, max_top1_drop: float = 1.0, algo: str = "KL",
                batch_size: int = 10, batch_nums: int = 10, limit: int | None = None,
                compare_images: int = 32, latency_repeats: int = 30,
                progress: ProgressSink = NO_PROGRESS) -> RepairResult:
    from ..fsio import swap_in_directory
    from ..models.layout import find_model_files, write_record
    from ..quantize import check_quantizable, default_output
    from .algos import algos_to_try, best_trial
    from .compare import compare_layers

    if max_top1_drop < 0:
        raise LabError(f"--max-top1-drop must be 0 or more, got {max_top1_drop}")
    tried = algos_to_try(algo)
    files = check_quantizable(Path(model_dir))
    output = Path(output) if output else default_output(settings, files.dir)
    if output.resolve() == files.dir.resolve():
        raise LabError("--out must differ from --model-dir", where=str(output))
    output.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{output.name}.repair-", dir=output.parent))
    lab = _Lab(settings, files.dir, Path(calib_data), Path(held_out), scratch, batch_size,
               batch_nums, limit, latency_repeats)
    try:
        with progress.track("repair-int8", total=None, unit="steps") as step:
            step.update(note="FP32 top-1")
            fp32_top1, images = lab.top1(files.dir, "fp32")
            trials, models = [], {}
            for name in tried:
                step.update(note=f"quantizing ({name})")
                models[name] = lab.quantize(name, ())
                top1, _ = lab.top1(models[name], "int8")
                trials.append({"algo": name, "top1": top1, "drop": drop_points(fp32_top1, top1)})
            chosen = best_trial(trials)
            algo = chosen["algo"]
            full = models[algo]
            attempts = [Attempt([], algo, chosen["top1"], chosen["drop"],
                                chosen["drop"] <= max_top1_drop)]
            first_count = lab.count     # re-quantizations are counted from here
            result = RepairResult(model_dir=files.dir, output=None, algo=algo,
                                  max_top1_drop=max_top1_drop, held_out=Path(held_out),
                                  images=images, fp32_top1=fp32_top1, top1=chosen["top1"],
                                  drop=chosen["drop"], met=attempts[0].meets, kept=[],
                                  attempts=attempts, quantizations=0,
                                  algo_trials=trials if len(trials) > 1 else [])
            chosen_dir, layers = full, []
            if not result.met:
                step.update(note="comparing layers")
                comparison = compare_layers(files.dir, full, Path(held_out), compare_images)
                layers = comparison.layers
                result.ranking = [{"op_type": x.op_type, "output": x.output, "weight": x.weight,
                                   "own_error": x.own, "relative_error": x.relative}
                                  for x in layers]
                ranking = [x.weight for x in layers]
                dirs: dict[int, Path] = {}

                def meets(k: int) -> bool:
                    if k == len(ranking):
                        attempts.append(Attempt(ranking, algo, fp32_top1, 0.0,
                                                max_top1_drop >= 0, quantized=False))
                        return attempts[-1].meets
                    step.update(note=f"{k} op(s) in FP32")
                    dirs[k] = lab.quantize(algo, tuple(ranking[:k]))
                    top1, _ = lab.top1(dirs[k], "int8")
                    drop = drop_points(fp32_top1, top1)
                    attempts.append(Attempt(ranking[:k], algo, top1, drop,
                                            drop <= max_top1_drop))
                    return attempts[-1].meets

                k = smallest_meeting(len(ranking), meets)
                result.quantizations = lab.count - first_count
                if k is None or k == len(ranking):
                    result.message = (f"cannot meet --max-top1-drop {max_top1_drop}: the INT8 "
                                      f"model drops {chosen['drop']:.2f} points, and only "
                                      f"keeping all {len(ranking)} quantized ops in FP32 (the "
                                      "FP32 model) meets the limit")
                    result.top1 = result.drop = None
                    result.met = False
                    return result
                chosen_dir = dirs[k]
                best = next(a for a in attempts if a.quantized and len(a.kept_fp32) == k
                            and a.meets)
                result.top1, result.drop, result.met = best.top1, best.drop, True
                layers = layers[:k]
            step.update(note="timing")
            lat = {"fp32": lab.p50(files.dir, "fp32"), "int8_full": lab.p50(full, "int8")}
            lat["repaired"] = lab.p50(chosen_dir, "int8") if layers else lat["int8_full"]
            result.latency_p50_ms = lat
            for i, layer in enumerate(layers):
                cost = None
                if len(layers) == 1:
                    cost = round(lat["repaired"] - lat["int8_full"], 4)
                elif i < MAX_COST_PROBES:
                    result.cost_probes += 1
                    cost = round(lab.p50(lab.quantize(algo, (layer.weight,)), "int8")
                                 - lat["int8_full"], 4)
                result.kept.append(KeptOp(layer.op_type, layer.output, layer.weight, layer.own,
                                          layer.relative, cost))
            if layers:
                record = find_model_files(chosen_dir).record()
                write_record(chosen_dir, {**record, "repair": {
                    "max_top1_drop": max_top1_drop, "held_out": str(held_out),
                    "fp32_top1": fp32_top1, "top1": result.top1}})
            swap_in_directory(chosen_dir, output)
            result.output = output
            if not result.message:
                result.message = (f"kept {len(layers)} op(s) in FP32" if layers else
                                  "every quantizable op stays in INT8")
            return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
