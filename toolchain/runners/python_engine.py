"""The Python runner: paddle.inference in this process, the same plan and timer as the demo.

Timer scope per batch (as in the C++ demo): input copy_from_cpu + run + output
copy_to_cpu. Statistics come from RunResult's LatencyStats.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ..backends.base import TimedEngine
from ..errors import LabError
from ..int8.finite import check_finite, find_nonfinite, nonfinite_error
from .configplan import Call

# Classic plan name -> names to try, newest first (Paddle 3.2+ renamed mkldnn -> onednn).
ALIASES = {
    "enable_mkldnn": ("enable_onednn", "enable_mkldnn"),
    "disable_mkldnn": ("disable_onednn", "disable_mkldnn"),
    "enable_mkldnn_int8": ("enable_onednn_int8", "enable_mkldnn_int8"),
    "enable_mkldnn_bfloat16": ("enable_onednn_bfloat16", "enable_mkldnn_bfloat16"),
}
CPU_WHEEL_HINT = ("install a GPU build of Paddle with TensorRT (`pip install paddlepaddle-gpu` "
                  "from Paddle's index for your CUDA, e.g. the cu118 or cu126 wheel) plus the "
                  "TensorRT it was built against; `invoke doctor` shows this machine's driver, "
                  "CUDA, cuDNN and TensorRT and which wheel fits (its `paddle_wheel` line shows "
                  "the installed one: cuda/tensorrt empty = CPU wheel). Or run with --device cpu")


def import_paddle():
    """paddle, imported without its ccache UserWarning (irrelevant to inference)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import paddle
        import paddle.inference  # noqa: F401
    return paddle


@contextlib.contextmanager
def quiet_stderr(enabled: bool = True):
    """Hold the engine's C++ stderr chatter (oneDNN INT8 passes print even with
    disable_glog_info) in a temp file; yields a callable returning what was held."""
    if not enabled or os.environ.get("PADDLE_TRT_LAB_DEBUG", "") not in ("", "0"):
        yield lambda: ""
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile("w+b") as held:
        os.dup2(held.fileno(), 2)
        try:
            yield lambda: (held.seek(0), held.read().decode(errors="replace"))[1]
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def paddle_info() -> dict[str, Any]:
    """Which paddle this process runs: version, commit, CUDA/TensorRT support."""
    import paddle
    import paddle.inference as pi

    info = {"paddle": paddle.__version__, "commit": getattr(paddle.version, "commit", ""),
            "with_cuda": bool(paddle.is_compiled_with_cuda()),
            "trt_compile": ".".join(map(str, pi.get_trt_compile_version()))}
    info["with_tensorrt"] = info["trt_compile"] not in ("0.0.0", "")
    return info


def resolve_call(config: Any, name: str) -> str:
    """The method the installed Paddle has for plan call `name` (the INT8 probe)."""
    for cand in ALIASES.get(name, (name,)):
        if hasattr(config, cand):
            return cand
    raise LabError(f"this paddle has no Config.{name} (tried {', '.join(ALIASES.get(name, (name,)))})",
                   hint="upgrade paddlepaddle (>= 2.3 for oneDNN INT8 on quantized models)")


def translate_error(err: Exception, call: str) -> LabError | None:
    """A clear LabError for known engine failures, else None."""
    text = str(err)
    if "compile with TENSORRT" in text or "compile with TensorRT" in text:
        return LabError("this paddlepaddle has no TensorRT (CPU wheel or a GPU build without "
                        f"TensorRT): {call} failed", hint=CPU_WHEEL_HINT)
    if "Tensor holds no memory" in text:
        return LabError("the engine failed on this model: \"Tensor holds no memory\" (seen with "
                        "quantized PIR .json models under oneDNN INT8)",
                        hint="quantize and run the legacy .pdmodel export instead "
                             "(`invoke models --export NAME` writes it to fp32/)")
    return None


def apply_plan(config: Any, plan: list[Call]) -> list[list]:
    """Call the plan on `config`; returns the calls as applied (resolved names)."""
    import paddle.inference as pi

    applied = []
    for call in plan:
        name, args = call[0], list(call[1:])
        method = resolve_call(config, name)
        kwargs: dict = {}
        if len(args) == 1 and isinstance(args[0], dict):
            kwargs = dict(args[0])
            args = []
            if "precision_mode" in kwargs:
                kwargs["precision_mode"] = getattr(pi.PrecisionType, kwargs["precision_mode"])
        if method == "set_optim_cache_dir" and args:
            Path(args[0]).mkdir(parents=True, exist_ok=True)
        try:
            getattr(config, method)(*args, **kwargs)
        except Exception as err:  # paddle raises RuntimeError / ValueError subclasses
            translated = translate_error(err, method)
            if translated:
                raise translated from err
            raise
        applied.append([method, *call[1:]])
    return applied


def check_device(device: str) -> str:
    """'auto' -> 'gpu' when this paddle and machine have one, else 'cpu'; LabError for
    a GPU asked where there is none."""
    paddle = import_paddle()
    with_cuda = paddle.is_compiled_with_cuda()
    count = paddle.device.cuda.device_count() if with_cuda else 0
    if device == "auto":
        return "gpu" if count > 0 else "cpu"
    if device == "gpu":
        if not with_cuda:
            raise LabError("--device gpu asked, but this Python has the CPU-only paddlepaddle "
                           "wheel", hint=CPU_WHEEL_HINT)
        if count == 0:
            raise LabError("--device gpu asked, but no NVIDIA GPU is visible",
                           hint="check `nvidia-smi` and `invoke doctor` (driver, "
                                "CUDA_VISIBLE_DEVICES), or run with --device cpu")
    return device


def gpu_identity(device_id: int = 0) -> tuple[str, str]:
    """(GPU name, TensorRT runtime version) for the engine-cache key."""
    import paddle
    import paddle.inference as pi

    name = paddle.device.cuda.get_device_name(device_id) if paddle.is_compiled_with_cuda() else ""
    return name, ".".join(map(str, pi.get_trt_runtime_version()))


def check_model_files(files) -> None:
    """Refuse a program file Paddle would crash on (it segfaults on some garbage)."""
    bad = None
    if files.format == "legacy":
        from paddle.base.proto import framework_pb2

        desc = framework_pb2.ProgramDesc()
        try:
            desc.ParseFromString(files.program.read_bytes())
            if not desc.blocks or not desc.blocks[0].ops:
                bad = "it holds no operators"
        except Exception as err:  # protobuf DecodeError
            bad = str(err)
    else:
        import json

        try:
            json.loads(files.program.read_text())
        except (ValueError, UnicodeDecodeError) as err:
            bad = f"not JSON ({err})"
    if bad is None and files.params.stat().st_size == 0:
        bad = f"{files.params.name} is empty"
    if bad:
        raise LabError(f"Paddle could not load the model: {files.program.name} is not a "
                       f"valid {files.format} program: {bad}", where=str(files.dir),
                       hint="re-export it (`invoke models --export NAME`) or point "
                            "--model-dir at a complete inference model")


def proc_status_kb(field: str, status_file: str = "/proc/self/status") -> int | None:
    """A kB field of /proc/<pid>/status (VmRSS, VmHWM), None where it cannot be read."""
    try:
        text = Path(status_file).read_text()
    except OSError:
        return None
    m = re.search(rf"^{field}:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(m.group(1)) if m else None


def rss_mb() -> float | None:
    """This process's resident set now, MB (MiB)."""
    kb = proc_status_kb("VmRSS")
    return None if kb is None else kb / 1024.0


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0 clear_refs 5);
    False where that is not possible (the peak then covers the whole process)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float | None:
    """The peak RSS since the last reset_peak_rss (else of the process), MB: VmHWM, or
    getrusage's ru_maxrss where /proc is not readable."""
    kb = proc_status_kb("VmHWM")
    if kb is None:
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0


def serialized_engines(plan: list[Call]) -> set[str] | None:
    """Paths of the TensorRT engines serialized in the plan's cache folder (None: the plan
    runs no TensorRT with a cache)."""
    names = [c[0] for c in plan]
    if "enable_tensorrt_engine" not in names or "set_optim_cache_dir" not in names:
        return None
    cache = Path(next(c[1] for c in plan if c[0] == "set_optim_cache_dir"))
    if not cache.is_dir():
        return set()
    return {str(p) for p in cache.rglob("*") if p.is_file() and "serialized" in p.name}


def engine_cache_state(before: set[str] | None, after: set[str] | None) -> str | None:
    """"built" when engines were serialized during start-up, "loaded" when the cache had
    them and none was added, None without TensorRT or when nothing was offloaded."""
    if before is None or after is None:
        return None
    if after - before:
        return "built"
    return "loaded" if after else None


class Engine(TimedEngine):
    """One predictor with its input/output handles and the timed call.

    create_ms: predictor creation (analysis passes, and on a GPU the TensorRT engine
    build or cache load); engine_cache: see engine_cache_state."""

    def __init__(self, files, plan: list[Call], shape_collection: list[Call] | None = None,
                 sample: Any = None):
        import paddle.inference as pi

        if shape_collection and sample is not None:
            shape_file = next((c[1] for c in plan
                               if c[0] == "enable_tuned_tensorrt_dynamic_shape"), None)
            if shape_file and not Path(shape_file).exists():
                Path(shape_file).parent.mkdir(parents=True, exist_ok=True)
                collector = Engine(files, shape_collection)
                collector.infer(sample)
        check_model_files(files)
        self.model = str(files.dir)
        config = pi.Config(str(files.program), str(files.params))
        self.applied = apply_plan(config, plan)
        if hasattr(config, "disable_glog_info") and not os.environ.get("GLOG_v"):
            config.disable_glog_info()
        engines_before = serialized_engines(plan)
        try:
            with quiet_stderr() as held:
                try:
                    t0 = time.perf_counter()
                    self.predictor = pi.create_predictor(config)
                    self.create_ms = (time.perf_counter() - t0) * 1000.0
                except Exception:
                    self.engine_log = held()
                    raise
        except Exception as err:
            translated = translate_error(err, "create_predictor")
            if translated:
                raise translated from err
            log_tail = getattr(self, "engine_log", "").strip()[-600:]
            raise LabError(f"Paddle could not load the model: {str(err).strip()[:800]}"
                           + (f"\nengine log (end): {log_tail}" if log_tail else ""),
                           where=str(files.dir),
                           hint="check that the directory holds a complete inference model "
                                "(re-export it with `invoke models --export NAME`)") from err
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])
        self.engine_cache = engine_cache_state(engines_before, serialized_engines(plan))

    def infer(self, images) -> Any:
        self.input.reshape(list(images.shape))
        self.input.copy_from_cpu(images)
        try:
            self.predictor.run()
        except Exception as err:
            translated = translate_error(err, "run")
            if translated:
                raise translated from err
            raise
        return self.output.copy_to_cpu()


def seeded_noise(batch_size: int, shape: list[int]):
    """The input without a dataset: one seeded batch of standard-normal noise."""
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.standard_normal((batch_size, *shape)).astype("float32")


def sample_order(count: int, seed: int) -> list[int]:
    """The seeded order in which a sample set of `count` images is drawn (a permutation)."""
    import numpy as np

    return [int(i) for i in np.random.default_rng(seed).permutation(count)]


def batch_indices(order: list[int], batch_size: int, number: int) -> list[int]:
    """The images of batch `number` (0, 1, ...): the next batch_size of `order`, cycled."""
    start = number * batch_size
    return [order[(start + k) % len(order)] for k in range(batch_size)]


@dataclass
class SampleSet:
    """The timed inputs, in memory before any timing: `images` (N, C, H, W) float32,
    `labels` (N,) or None, drawn batch by batch in `order`. mode: "sample-set" (the first
    N images of the dataset), "hot" (one batch, the same every run) or "seeded-noise"."""

    mode: str
    images: Any
    labels: Any
    order: list[int]
    seed: int | None

    @property
    def count(self) -> int:
        return len(self.images)

    def batch(self, batch_size: int, number: int):
        """(images, labels|None, indices) of batch `number`; "hot" and noise repeat batch 0."""
        import numpy as np

        if self.mode != "sample-set":
            number = 0
        idx = batch_indices(self.order, batch_size, number)
        first = idx[0]
        if idx == list(range(first, first + batch_size)):     # contiguous: a view
            images = self.images[first:first + batch_size]
        else:
            images = np.take(self.images, idx, axis=0)
        labels = None if self.labels is None else self.labels[idx]
        return images, labels, idx


def load_sample_set(data_file: Path | None, batch_size: int, shape: list[int], hot: bool,
                    size: int, seed: int) -> SampleSet:
    """The inputs of a latency run, read once: without a dataset seeded noise; with one
    its first batch (`hot`, today's C++ demo) or its first `size` images (all when it has
    fewer) in the order seeded by `seed`."""
    import numpy as np

    if data_file is None:
        return SampleSet("seeded-noise", seeded_noise(batch_size, shape), None,
                         list(range(batch_size)), None)
    from ..data.binfmt import DatasetReader

    with DatasetReader(data_file) as reader:
        if reader.count == 0:
            raise LabError(f"{data_file} holds no images", where=str(data_file))
        n = min(batch_size if hot else size, reader.count)
        images = np.ascontiguousarray(reader.images(0, n), dtype="float32")
        labels = np.asarray(reader.labels[:n])
    if hot:
        return SampleSet("hot", images, labels, list(range(n)), None)
    return SampleSet("sample-set", images, labels, sample_order(n, seed), seed)


@dataclass
class LatencyRun:
    """What measure_latency measured: the timed ms, the first inference's ms, and the first
    timed batch (labels, indices into the sample set, output)."""

    samples: list[float]
    first_run_ms: float
    first_labels: Any
    first_indices: list[int]
    first_output: Any


def measure_latency(engine: Engine, inputs: SampleSet, batch_size: int, warmup: int,
                    repeats: int, tick: Callable[[], None] | None = None) -> LatencyRun:
    """`warmup` untimed then `repeats` timed batches, drawn from `inputs` one after the
    other (picking a batch is outside the timer)."""
    number = 0
    first_run_ms = None
    for _ in range(max(0, warmup)):
        images, _labels, _idx = inputs.batch(batch_size, number)
        number += 1
        _out, ms = engine.timed(images)
        first_run_ms = ms if first_run_ms is None else first_run_ms
    samples: list[float] = []
    first = None
    for _ in range(max(1, repeats)):
        images, labels, idx = inputs.batch(batch_size, number)
        number += 1
        out, ms = engine.timed(images)
        check_finite(out, engine.model)
        samples.append(ms)
        if first is None:
            first = (labels, idx, out)
        if tick:
            tick()
    assert first is not None
    return LatencyRun(samples, samples[0] if first_run_ms is None else first_run_ms, *first)


def prefetched(batches: Iterator) -> Iterator:
    """Read the next batch in a thread while the engine runs this one (the engine
    releases the GIL), so reading the dataset does not add to the scoring time."""
    import numpy as np

    def load():
        item = next(batches, None)
        return None if item is None else (np.ascontiguousarray(item[0], dtype="float32"),
                                          item[1])

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(load)
        while True:
            item = pending.result()
            if item is None:
                return
            pending = pool.submit(load)
            yield item


def measure_accuracy(engine: Engine, reader, batch_size: int, limit: int | None, warmup: int,
                     tick: Callable[[int], None] | None = None) -> dict:
    """top-1/top-5, per-batch latency and images/s over the dataset (wall time of the
    scoring loop; the first batch is read before the clock starts, the next ones are
    read while the engine runs)."""
    import numpy as np

    total = reader.count if limit is None else min(limit, reader.count)
    if total == 0:
        raise LabError("no images to score", hint="check --limit and the data file")
    first = reader.images(0, min(batch_size, total))
    for _ in range(max(0, warmup)):
        engine.infer(first)
    samples, preds = [], []
    top1 = top5 = 0
    batches = prefetched(reader.iter_batches(batch_size, limit=total))
    first = next(batches)            # read before the clock starts, like the warm-up
    t0 = time.perf_counter()
    try:
        for images, labels in itertools.chain([first], batches):
            logits, ms = engine.timed(images)
            bad = find_nonfinite(logits, first_image=len(preds))
            if bad:
                raise nonfinite_error(bad, engine.model)
            samples.append(ms)
            logits = logits.reshape(logits.shape[0], -1)
            k = min(5, logits.shape[1])
            best = np.argsort(-logits, axis=1, kind="stable")[:, :k]
            top1 += int((best[:, 0] == labels).sum())
            top5 += int((best == labels[:, None]).any(axis=1).sum())
            preds.extend(int(p) for p in best[:, 0])
            if tick:
                tick(len(labels))
    finally:
        batches.close()     # the reading thread stops before the caller closes the reader
    wall = time.perf_counter() - t0
    return {"images": total, "top1": top1 / total, "top5": top5 / total, "samples": samples,
            "throughput_ips": total / wall if wall > 0 else None, "predictions": preds,
            "wall_s": wall}
