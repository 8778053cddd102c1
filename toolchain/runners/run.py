"""Runners: the cpp demo binaries and the in-process Python engine, one RunResult.

    run_latency(settings, model_dir, precision, ...)  -> RunResult (kind "latency")
    run_accuracy(settings, model_dir, data_file, precision, ...) -> RunResult ("accuracy")

Both pick the runner (`select.select_runner`), build the device configuration
plan (`configplan.config_plan`) and record why and what in the result.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import LabError
from ..progress import NO_PROGRESS, ProgressSink
from ..settings import LabSettings
from .result import LatencyStats, RunResult

CPP_OVERRIDES = {"onednn", "ir_optim"}     # plan options the demo has flags for
TIMER_SCOPE = "input copy + run + output copy, per batch"
def resolve_threads(threads: int | None, settings: LabSettings) -> int:
    value = int(threads if threads is not None else settings.run.threads)
    return value if value > 0 else max(1, os.cpu_count() or 1)


@dataclass
class _Prepared:
    files: Any
    model_kind: str
    model_name: str
    record: dict
    runner: str
    reason: str


def _prepare(settings: LabSettings, model_dir, precision: str, runner: str, program: str,
             device: str) -> _Prepared:
    from ..models.layout import find_model_files
    from .select import select_runner

    if precision not in ("fp32", "fp16", "int8", "bf16"):
        raise LabError(f"unknown precision {precision!r}",
                       hint="use --fp32, --fp16, --int8 or --bf16")
    if device not in ("auto", "cpu", "gpu"):
        raise LabError(f"unknown device {device!r}", hint="use --device auto, cpu or gpu")
    files = find_model_files(model_dir)
    quantized = files.quantized()
    if files.format == "pir" and (precision == "int8" or quantized or device == "gpu"):
        raise LabError(
            f"{files.program.name} is a PIR (.json) model: "
            + ("with paddlepaddle 3.3.1 a quantized .json model failed under oneDNN INT8 "
               "(\"Tensor holds no memory\")" if precision == "int8" or quantized else
               "the Paddle-TensorRT config API here runs legacy models"),
            where=str(files.program),
            hint="use the legacy .pdmodel model (`invoke models --export NAME` writes it to "
                 "<work_dir>/models/NAME/fp32/, `invoke quantize` writes int8/ from it)")
    record = files.record()
    name = record.get("name") or files.dir.name
    chosen, reason = select_runner(settings, runner, program)
    return _Prepared(files, "quantized" if quantized else "fp32", name, record, chosen, reason)


def _check_input_shape(prep: _Prepared, data_file: Path | None) -> None:
    """LabError before any engine starts when the images do not fit the model's input:
    the dataset's, or without one the C++ demo's seeded 3x224x224 input (the Python
    runner's seeded input takes the model's own static shape)."""
    from ..data.binfmt import IMAGE_SHAPE
    from ..models.inputs import check_dataset_fits_model, check_images_fit_model

    if data_file is not None:
        check_dataset_fits_model(prep.files, data_file)
    elif prep.runner == "cpp":
        check_images_fit_model(prep.files, IMAGE_SHAPE, "the C++ demo's seeded input")


def require_cpu_bf16(cpuinfo: Path | None = None) -> None:
    """LabError unless the CPU has avx512_bf16 or amx_bf16 (what oneDNN's BF16 needs)."""
    from ..doctor.collectors import BF16_FLAGS, CPUINFO, cpu_bf16_flags

    source = cpuinfo or CPUINFO
    if not cpu_bf16_flags(source):
        raise LabError(f"--bf16 needs a CPU with {' or '.join(BF16_FLAGS)}; {source} lists "
                       "neither", where=str(source),
                       hint="run --fp32, or --int8 with a quantized model (`invoke doctor` "
                            "shows the CPU's flags)")


def _plan_options(settings: LabSettings, prep: _Prepared, batch_size: int, threads: int,
                  device: str, precision: str, overrides: dict) -> Any:
    from .configplan import PlanOptions

    if precision == "bf16" and device == "cpu":
        require_cpu_bf16()
    rs = settings.run
    cache_root = rs.trt_cache_dir or str(settings.work_dir / "trt_cache")
    opts: dict[str, Any] = dict(batch_size=batch_size, threads=threads,
                                workspace_mb=rs.workspace_mb,
                                min_subgraph_size=rs.min_subgraph_size,
                                dynamic_shape=rs.dynamic_shape,
                                cache_root=str(cache_root))
    opts.update(overrides)
    if device == "gpu":
        gpu_name, trt_version = _gpu_identity(settings, prep.runner)
        opts.update(gpu_name=gpu_name, trt_version=trt_version,
                    model_sha256=prep.files.sha256(), model_format=prep.files.format,
                    **_engine_identity(settings, prep.runner))
    plan_opts = PlanOptions(**opts)
    if device == "gpu" and plan_opts.dynamic_shape:
        plan_opts = _with_shape_digest(plan_opts, precision)
    return plan_opts


def _with_shape_digest(opts, precision: str):
    """Once the collection pass has written the shape ranges, their digest joins the
    engine key: new ranges give a new engine folder, never a stale engine."""
    from dataclasses import replace
    from pathlib import Path

    from ..fsio import sha256_file
    from .configplan import shape_file_path

    shape_file = Path(shape_file_path(opts, precision))
    return replace(opts, shape_sha256=sha256_file(shape_file)) if shape_file.is_file() else opts


def _gpu_identity(settings: LabSettings, runner: str) -> tuple[str, str]:
    if runner == "python":
        from .python_engine import gpu_identity
        return gpu_identity()
    gpu, trt = "", ""
    try:
        import subprocess
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10).stdout.splitlines()[0]
    except (OSError, IndexError, Exception):
        gpu = ""
    try:
        from ..library.installed import inspect_library
        from ..state import demo_build
        lib = (demo_build(settings.work_dir) or {}).get("lib")
        info = inspect_library(Path(lib)).version if lib else None
        trt = (info.tensorrt_version or "") if info else ""
    except Exception:
        trt = ""
    return gpu.strip(), trt


def _engine_identity(settings: LabSettings, runner: str) -> dict[str, str]:
    """The rest of the engine-cache key and the version the TensorRT calls are checked
    against: compute capability, Paddle version and commit (the wheel's or the library's)."""
    import subprocess

    out = {"gpu_cc": "", "paddle_version": "", "lib_commit": ""}
    try:
        out["gpu_cc"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10).stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        pass
    try:
        if runner == "python":
            import paddle

            out["paddle_version"] = paddle.__version__
            out["lib_commit"] = getattr(paddle.version, "commit", "") or ""
        else:
            from ..library.installed import inspect_library
            from ..state import demo_build

            lib = (demo_build(settings.work_dir) or {}).get("lib")
            info = inspect_library(Path(lib)).version if lib else None
            if info:
                out["paddle_version"] = info.paddle_version or ""
                out["lib_commit"] = info.git_commit or ""
    except Exception:
        pass
    return out


def _cpp_device(settings: LabSettings, device: str) -> str:
    from ..state import demo_build

    gpu_build = bool((demo_build(settings.work_dir) or {}).get("gpu"))
    if device == "auto":
        return "gpu" if gpu_build and Path("/dev/nvidiactl").exists() else "cpu"
    if device == "gpu" and not gpu_build:
        raise LabError("--device gpu asked, but the demo was built against a CPU library",
                       hint="get a GPU library that fits this machine (`invoke fetch-lib --gpu "
                            "--auto`, or `invoke fetch-lib --from-wheel --gpu` with a "
                            "paddlepaddle-gpu wheel), then `invoke build-demo`; or run with "
                            "--device cpu")
    if device == "gpu" and not Path("/dev/nvidiactl").exists():
        raise LabError("--device gpu asked, but no NVIDIA GPU is visible on this machine",
                       hint="check `nvidia-smi` and `invoke doctor`, or run with --device cpu")
    return device


def _provenance(prep: _Prepared, device: str, extra: dict | None = None) -> dict[str, Any]:
    prov: dict[str, Any] = {"timer": TIMER_SCOPE, "model_format": prep.files.format,
                            "model_sha256": prep.files.sha256(),
                            "model_kind": prep.record.get("kind") or "external",
                            "quantized": prep.model_kind == "quantized"}
    if prep.record.get("kind") == "seeded":
        from ..models.zoo import SEEDED_NOTE
        prov["note"] = SEEDED_NOTE
    try:
        from ..doctor import host_summary
        prov["host"] = host_summary()
    except Exception:
        pass
    if device == "cpu":
        try:
            flags = Path("/proc/cpuinfo").read_text().split()
            prov["avx512_vnni"] = "avx512_vnni" in flags
        except OSError:
            pass
    prov.update(extra or {})
    return prov


def _backend_runner(backend: str, runner: str, device: str) -> tuple[str, str]:
    """Another backend runs in this process on the CPU: (runner, device) for it."""
    if backend == "paddle":
        return runner, device
    from ..backends import BACKENDS

    if backend not in BACKENDS:
        raise LabError(f"unknown backend {backend!r}", hint=f"use one of {', '.join(BACKENDS)}")
    if runner == "cpp" or device == "gpu":
        raise LabError(f"backend {backend} runs in the Python process on the CPU; got "
                       f"--runner {runner} --device {device}",
                       hint="use --runner python (or auto) and --device cpu (or auto)")
    return "python", "cpu"


def _python_engine(settings: LabSettings, prep: _Prepared, backend: str, precision: str,
                   plan: list, opts: Any, sample: Any):
    """Paddle's predictor for `plan`, or another backend's engine on the same files."""
    if backend == "paddle":
        from .configplan import shape_collection_plan
        from .python_engine import Engine

        return Engine(prep.files, plan,
                      shape_collection_plan(opts, precision) if opts.dynamic_shape else None,
                      sample)
    from .. import backends

    return backends.load(backend, prep.files, precision, opts.threads,
                         settings.cache_dir / "backends")


def _engine_info(backend: str) -> dict[str, Any]:
    if backend == "paddle":
        from .python_engine import paddle_info

        return paddle_info()
    from .. import backends

    return {"name": backend, "version": backends.version(backend)}


def run_latency(settings: LabSettings, model_dir, precision: str = "fp32", device: str = "auto",
                runner: str = "auto", batch_size: int = 1, warmup: int | None = None,
                repeats: int | None = None, threads: int | None = None,
                data_file: Path | None = None, progress: ProgressSink = NO_PROGRESS,
                hot: bool = False, sample_size: int | None = None, seed: int | None = None,
                backend: str = "paddle", **plan_overrides: Any) -> RunResult:
    """Latency of `model_dir` at `precision` (per-batch ms stats + images/s).

    With a data file the Python runner times batches drawn in a seeded order from the
    file's first `sample_size` images (lab.run.sample_size, 1024; all when fewer), read
    into memory before timing (the cpp runner passes the same order to trt_clas as an
    --order_file); `hot` times its first batch again and again. The result says which
    (inputs, input_count, input_seed).
    `plan_overrides` (python runner only): PlanOptions fields such as onednn=False,
    ir_optim=False, for finding the best FP32 configuration.
    `backend`: another engine on the same files, inputs and timer (toolchain.backends;
    the Python runner on the CPU).
    """
    from .configplan import config_plan

    warmup = settings.run.warmup if warmup is None else int(warmup)
    repeats = settings.run.repeats if repeats is None else int(repeats)
    threads = resolve_threads(threads, settings)
    sample_size = settings.run.sample_size if sample_size is None else int(sample_size)
    seed = settings.run.seed if seed is None else int(seed)
    if repeats < 1 or warmup < 0 or batch_size < 1:
        raise LabError("--repeats and --batch-size must be at least 1, --warmup at least 0")
    if sample_size < 1:
        raise LabError(f"the sample set needs at least 1 image, got {sample_size}",
                       hint="set --sample-size (or lab.run.sample_size) to 1 or more")
    if data_file is not None:
        from ..data.binfmt import DatasetReader
        DatasetReader(data_file).close()     # exists and is a dataset, or a clear error
    runner, device = _backend_runner(backend, runner, device)
    prep = _prepare(settings, model_dir, precision, runner, "trt_clas", device)
    _check_input_shape(prep, data_file)
    if prep.runner == "cpp" and set(plan_overrides) - CPP_OVERRIDES:
        raise LabError(f"options {sorted(set(plan_overrides) - CPP_OVERRIDES)} need "
                       "--runner python")
    if prep.runner == "cpp":
        dev = _cpp_device(settings, device)
        opts = _plan_options(settings, prep, batch_size, threads, dev, precision,
                             plan_overrides)
        plan = config_plan(dev, precision, prep.model_kind, opts)
        return _run_cpp(settings, "latency", prep, dev, precision, plan, opts,
                        warmup=warmup, repeats=repeats, data_file=data_file,
                        sample=None if hot else (sample_size, seed))

    from .python_engine import (check_device, load_sample_set, measure_latency, peak_rss_mb,
                                reset_peak_rss)

    dev = check_device(device)
    opts = _plan_options(settings, prep, batch_size, threads, dev, precision, plan_overrides)
    plan = config_plan(dev, precision, prep.model_kind, opts)
    from ..data.binfmt import IMAGE_SHAPE
    from ..models.inputs import static_image_shape

    peak_scope = "run" if reset_peak_rss() else "process"
    # seeded input (no dataset): the model's own static image size, else the dataset's
    inputs = load_sample_set(data_file, batch_size,
                             list(static_image_shape(prep.files) or IMAGE_SHAPE), hot,
                             sample_size, seed)
    engine = _python_engine(settings, prep, backend, precision, plan, opts,
                            inputs.batch(batch_size, 0)[0])
    with progress.track("timing", total=repeats, unit="batches") as bar:
        m = measure_latency(engine, inputs, batch_size, warmup, repeats, tick=bar.advance)
    lat = LatencyStats.from_samples(m.samples)
    first = None
    if m.first_labels is not None:
        out = m.first_output
        pred = out.reshape(out.shape[0], -1).argmax(axis=1)
        first = {"predicted": [int(p) for p in pred], "labels": [int(x) for x in m.first_labels]}
        if inputs.mode == "sample-set":       # which images of the data file the batch held
            first["indices"] = m.first_indices
    create_ms = engine.create_ms
    return RunResult(kind="latency", runner="python", model=prep.model_name,
                     model_dir=str(prep.files.dir), device=dev, precision=precision,
                     batch_size=batch_size, threads=threads, warmup=warmup, repeats=repeats,
                     latency_ms=lat, throughput_ips=batch_size * 1000.0 / lat.mean,
                     first_batch=first, inputs=inputs.mode, input_count=inputs.count,
                     input_seed=inputs.seed, create_ms=create_ms,
                     first_run_ms=m.first_run_ms, warm_p50_ms=lat.p50,
                     engine_cache=engine.engine_cache,
                     engine_build_ms=create_ms if engine.engine_cache == "built" else None,
                     engine_load_ms=create_ms if engine.engine_cache == "loaded" else None,
                     peak_rss_mb=peak_rss_mb(), peak_rss_scope=peak_scope,
                     config_calls=engine.applied, runner_reason=prep.reason,
                     # every timed batch, for bench's pooled tails and per-window CoV
                     raw={"samples_ms": [round(x, 6) for x in m.samples]}, backend=backend,
                     provenance=_provenance(prep, dev, {"engine": _engine_info(backend),
                                                        "data_file": str(data_file or "")}))


@dataclass
class PythonEngineSpec:
    """What the Python runner needs to create a predictor (soak creates many)."""

    files: Any
    plan: list
    device: str
    threads: int
    model_name: str
    reason: str
    provenance: dict


def python_engine_spec(settings: LabSettings, model_dir, precision: str = "fp32",
                       device: str = "auto", batch_size: int = 1,
                       threads: int | None = None) -> PythonEngineSpec:
    """The Python runner's model files and config plan, checked as run_latency checks them."""
    from .configplan import config_plan
    from .python_engine import check_device, paddle_info

    threads = resolve_threads(threads, settings)
    prep = _prepare(settings, model_dir, precision, "python", "trt_clas", device)
    dev = check_device(device)
    opts = _plan_options(settings, prep, batch_size, threads, dev, precision, {})
    return PythonEngineSpec(prep.files, config_plan(dev, precision, prep.model_kind, opts), dev,
                            threads, prep.model_name, prep.reason,
                            _provenance(prep, dev, {"engine": paddle_info()}))


def run_accuracy(settings: LabSettings, model_dir, data_file, precision: str = "fp32",
                 device: str = "auto", runner: str = "auto", batch_size: int | None = None,
                 limit: int | None = None, threads: int | None = None,
                 progress: ProgressSink = NO_PROGRESS, warmup: int = 2,
                 predictions: bool = False, backend: str = "paddle") -> RunResult:
    """top-1/top-5 of `model_dir` on a dataset whose sidecar matches it.

    images/s = images / wall time of the scoring loop (after `warmup` batches).
    predictions=True keeps the top-1 class of every image in result.raw["predictions"].
    """
    from ..data.binfmt import DatasetReader
    from ..data.sidecar import verify_sidecar
    from .configplan import config_plan

    batch_size = settings.run.batch_size if batch_size is None else int(batch_size)
    threads = resolve_threads(threads, settings)
    if batch_size < 1:
        raise LabError("--batch-size must be at least 1")
    if limit is not None and limit < 1:
        raise LabError("--limit must be at least 1")
    data_file = Path(data_file)
    DatasetReader(data_file).close()
    verify_sidecar(data_file)
    runner, device = _backend_runner(backend, runner, device)
    prep = _prepare(settings, model_dir, precision, runner, "test_acc", device)
    _check_input_shape(prep, data_file)
    if prep.runner == "cpp":
        dev = _cpp_device(settings, device)
        opts = _plan_options(settings, prep, batch_size, threads, dev, precision, {})
        plan = config_plan(dev, precision, prep.model_kind, opts)
        return _run_cpp(settings, "accuracy", prep, dev, precision, plan, opts, warmup=warmup,
                        repeats=0, data_file=data_file, limit=limit, predictions=predictions,
                        progress=progress)

    from .python_engine import check_device, measure_accuracy, peak_rss_mb, reset_peak_rss

    dev = check_device(device)
    opts = _plan_options(settings, prep, batch_size, threads, dev, precision, {})
    plan = config_plan(dev, precision, prep.model_kind, opts)
    peak_scope = "run" if reset_peak_rss() else "process"
    with DatasetReader(data_file) as reader:
        total = reader.count if limit is None else min(limit, reader.count)
        engine = _python_engine(settings, prep, backend, precision, plan, opts,
                                reader.images(0, min(batch_size, max(total, 1))))
        with progress.track("scoring", total=total, unit="images") as bar:
            m = measure_accuracy(engine, reader, batch_size, limit, warmup, tick=bar.advance)
    lat = LatencyStats.from_samples(m["samples"])
    raw = {"wall_s": m["wall_s"]}
    if predictions:
        raw["predictions"] = m["predictions"]
    return RunResult(kind="accuracy", runner="python", model=prep.model_name,
                     model_dir=str(prep.files.dir), device=dev, precision=precision,
                     batch_size=batch_size, threads=threads, warmup=warmup,
                     repeats=len(m["samples"]), latency_ms=lat,
                     throughput_ips=m["throughput_ips"], images=m["images"], top1=m["top1"],
                     top5=m["top5"], inputs="dataset", input_count=m["images"],
                     create_ms=engine.create_ms, warm_p50_ms=lat.p50,
                     engine_cache=engine.engine_cache,
                     engine_build_ms=engine.create_ms if engine.engine_cache == "built" else None,
                     engine_load_ms=engine.create_ms if engine.engine_cache == "loaded" else None,
                     peak_rss_mb=peak_rss_mb(), peak_rss_scope=peak_scope,
                     config_calls=engine.applied, runner_reason=prep.reason, backend=backend,
                     provenance=_provenance(prep, dev, {"engine": _engine_info(backend),
                                                        "data_file": str(data_file)}),
                     raw=raw)


def _run_cpp(settings: LabSettings, kind: str, prep: _Prepared, device: str, precision: str,
             plan: list, opts: Any, warmup: int, repeats: int, data_file: Path | None,
             limit: int | None = None, predictions: bool = False,
             progress: ProgressSink = NO_PROGRESS,
             sample: tuple[int, int] | None = None) -> RunResult:
    """Run a demo binary; `sample` (sample_size, seed), for trt_clas with a data file: time
    batches drawn in the Python runner's seeded order (an --order_file), else its first batch."""
    from ..state import demo_build
    from .configplan import engine_cache_dir
    from .cpp import (demo_args, parse_demo_output, read_predictions, result_from_demo,
                      run_demo_measured, write_order_file)
    from .select import demo_binaries

    program = "trt_clas" if kind == "latency" else "test_acc"
    binary = demo_binaries(demo_build(settings.work_dir))[program]
    with tempfile.TemporaryDirectory(prefix="lab-demo-") as tmp:
        pred_file = Path(tmp) / "predictions.txt" if predictions else None
        order_file = None
        if program == "trt_clas" and data_file is not None and sample is not None:
            order_file = Path(tmp) / "order.i64"
            write_order_file(order_file, data_file, *sample)
        args = demo_args(program, prep.files, device, precision, opts.batch_size, opts.threads,
                         warmup, repeats, data_file=data_file, limit=limit,
                         trt_cache_dir=engine_cache_dir(opts, precision) if device == "gpu"
                         else None, workspace_mb=opts.workspace_mb if device == "gpu" else None,
                         min_subgraph_size=opts.min_subgraph_size if device == "gpu" else None,
                         predictions_out=pred_file, onednn=opts.onednn,
                         ir_optim=opts.ir_optim, order_file=order_file,
                         seed=sample[1] if order_file is not None else None)
        if device == "gpu":
            Path(engine_cache_dir(opts, precision)).mkdir(parents=True, exist_ok=True)
        with progress.track(f"running {program}", unit=""):
            stdout, child_peak_mb = run_demo_measured(binary, args, settings.run.timeout)
        data = parse_demo_output(stdout, program)
        preds = read_predictions(pred_file) if pred_file and pred_file.exists() else None
    result = result_from_demo(data, kind, prep.model_name, prep.files.dir, prep.reason,
                              [list(c) for c in plan],
                              _provenance(prep, device, {"binary": str(binary),
                                                         "args": args,
                                                         "data_file": str(data_file or "")}))
    if preds is not None:
        result.raw = {**result.raw, "predictions": preds}
    if not result.inputs:        # an older demo that does not say: it times its first batch
        result.inputs = ("dataset" if kind == "accuracy" else
                         "hot" if data_file is not None else "seeded-noise")
    if result.peak_rss_mb is None and child_peak_mb is not None:   # an older demo's, polled
        result.peak_rss_mb = child_peak_mb
    if result.peak_rss_mb is not None:        # the demo process's VmHWM, either way
        result.peak_rss_scope = "child process"
    if result.warm_p50_ms is None and result.latency_ms is not None:
        result.warm_p50_ms = result.latency_ms.p50
    return result


@dataclass
class CppSoak:
    """What trt_clas --soak_cycles printed: one dict per cycle (soak_cycle, rss_kb,
    create_ms, batch_p50_ms), and the run's identity."""

    cycles: list[dict]
    model_name: str
    model_dir: str
    device: str
    threads: int
    provenance: dict


def run_cpp_soak(settings: LabSettings, model_dir, precision: str, device: str,
                 batch_size: int, threads: int | None, cycles: int, batches: int,
                 data_file: Path | None, sample: tuple[int, int],
                 progress: ProgressSink = NO_PROGRESS) -> CppSoak:
    """The C++ demo's soak: trt_clas creates, runs `batches` batches and destroys the
    predictor `cycles` times in one process, with the plan run_latency would use."""
    from ..state import demo_build
    from .configplan import config_plan
    from .cpp import demo_args, run_demo, write_order_file
    from .select import demo_binaries

    threads = resolve_threads(threads, settings)
    prep = _prepare(settings, model_dir, precision, "cpp", "trt_clas", device)
    _check_input_shape(prep, data_file)
    dev = _cpp_device(settings, device)
    opts = _plan_options(settings, prep, batch_size, threads, dev, precision, {})
    plan = config_plan(dev, precision, prep.model_kind, opts)
    binary = demo_binaries(demo_build(settings.work_dir))["trt_clas"]
    with tempfile.TemporaryDirectory(prefix="lab-soak-") as tmp:
        order_file = None
        if data_file is not None:
            order_file = Path(tmp) / "order.i64"
            write_order_file(order_file, data_file, *sample)
        args = demo_args("trt_clas", prep.files, dev, precision, batch_size, threads, 0,
                         batches, data_file=data_file, order_file=order_file,
                         seed=sample[1] if order_file else None, onednn=opts.onednn,
                         ir_optim=opts.ir_optim) + [f"--soak_cycles={cycles}"]
        with progress.track(f"trt_clas: {cycles} soak cycles", unit=""):
            stdout = run_demo(binary, args, settings.run.timeout * max(1, cycles))
    import json

    found = [json.loads(ln) for ln in stdout.splitlines() if ln.startswith('{"soak_cycle"')]
    if len(found) != cycles:
        raise LabError(f"trt_clas printed {len(found)} soak cycles, not {cycles}",
                       where=str(binary),
                       hint="rebuild the demo (`invoke build-demo`): an older build has no "
                            "--soak_cycles")
    return CppSoak(found, prep.model_name, str(prep.files.dir), dev, threads,
                   _provenance(prep, dev, {"binary": str(binary), "args": args,
                                           "config_calls": [list(c) for c in plan]}))


def batch_note(data_file: Path | None, batch_size: int, limit: int | None = None,
               kind: str = "latency") -> str | None:
    """A warning when --batch-size exceeds the images the dataset gives (None when it fits).

    Latency: the first batch then repeats the dataset's images to fill the batch;
    accuracy: one (partial) batch scores all of them.
    """
    if data_file is None or not Path(data_file).exists():
        return None
    from ..data.binfmt import DatasetReader

    with DatasetReader(Path(data_file)) as reader:
        count = reader.count
    available = count if limit is None else min(limit, count)
    if available < 1 or batch_size <= available:
        return None
    what = f"the {count} images of {data_file}" if available == count else \
        f"the {available} images scored (--limit {limit})"
    if kind == "latency":
        return (f"--batch-size {batch_size} is larger than {what}: the timed batch repeats "
                f"them; pass --batch-size {available} or less to time distinct images")
    return (f"--batch-size {batch_size} is larger than {what}: one batch of {available} "
            f"scores them all")
