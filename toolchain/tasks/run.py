"""Tasks `run` (latency) and `test-acc` (top-1/top-5): one model through a runner."""

from __future__ import annotations

from .. import flags
from ..cli import emit, lab_task
from ..settings import LabSettings

_COMMON = flags.help_for(
    "int8", "fp16", "fp32", "bf16", "model_dir", "runner", "json_",
    batch_size="images per batch (default lab.run.batch_size, 1)",
    threads="CPU math-library threads (default lab.run.threads, 0)",
    device="auto (GPU when there is one), cpu or gpu (default lab.run.device)")
_NUMBERS = {"batch_size": flags.BATCH_SIZE, "threads": flags.RUN_THREADS}


def _note_batch(result, note: str | None, as_json: bool) -> None:
    """Keep the batch-vs-dataset warning in the result: the header shows it; with --json
    it is in provenance.batch_note and on stderr."""
    if note:
        result.provenance["batch_note"] = note
        if as_json:
            import sys

            print(f"warning: {note}", file=sys.stderr, flush=True)


def _header(con, r) -> None:
    from rich.markup import escape

    con.print(f"[bold]{escape(r.model)}[/] {r.precision} on {r.device}, batch {r.batch_size}, "
              f"{r.threads} thread(s), runner [bold]{r.runner}[/] ({escape(r.runner_reason)})")
    con.print(f"  model: {escape(r.model_dir)}")
    con.print(f"  inputs: {escape(inputs_text(r))}")
    for key in ("note", "batch_note"):
        note = r.provenance.get(key)
        if note:
            con.print(f"  [yellow]note: {escape(note)}[/]")


def inputs_text(r) -> str:
    """What was timed, in words (RunResult.inputs, input_count, input_seed)."""
    if r.inputs == "sample-set":
        return (f"sample set: {r.input_count} images of the data file, loaded before timing, "
                f"drawn in seeded order (seed {r.input_seed}), cycled")
    if r.inputs == "hot":
        return "hot: the data file's first batch, timed again and again (--hot)"
    if r.inputs == "seeded-noise":
        return "seeded noise, one batch timed again and again (no data file)"
    if r.inputs == "dataset":
        return f"the dataset, {r.input_count} images, each once"
    return r.inputs or "not reported by the runner"


def start_text(r) -> str:
    """Cold start and memory in one line ('-' for what the runner did not measure)."""
    def ms(v):
        return "-" if v is None else f"{v:.1f} ms"

    parts = [f"predictor created in {ms(r.create_ms)}", f"first inference {ms(r.first_run_ms)}",
             f"warm p50 {ms(r.warm_p50_ms)}"]
    if r.engine_cache:
        took = r.engine_build_ms if r.engine_cache == "built" else r.engine_load_ms
        parts.append(f"TensorRT engine {r.engine_cache} ({ms(took)})")
    rss = "-" if r.peak_rss_mb is None else f"{r.peak_rss_mb:.0f} MB"
    scope = {"process": " (whole process)", "child process": " (demo process)"}.get(
        r.peak_rss_scope, "")
    return "start: " + ", ".join(parts) + f"; peak RSS {rss}{scope}"


def render_latency(con, r) -> None:
    from rich.table import Table

    _header(con, r)
    lat = r.latency_ms
    table = Table(title=f"latency per batch, ms ({r.provenance.get('timer', '')}; "
                        f"{r.warmup} warm-up, {r.repeats} timed)")
    for col in ("min", "mean", "p50", "p90", "p99", "max", "images/s"):
        table.add_column(col, justify="right")
    table.add_row(*(f"{getattr(lat, k):.3f}" for k in ("min", "mean", "p50", "p90", "p99", "max")),
                  f"{r.throughput_ips:.1f}" if r.throughput_ips else "-")
    con.print(table)
    con.print(start_text(r))
    fb = r.first_batch
    if fb and fb.get("predicted"):
        ok = fb["predicted"][0] == fb["labels"][0]
        con.print(f"first image: predicted class {fb['predicted'][0]}, label {fb['labels'][0]} "
                  + ("[green](correct)[/]" if ok else "[red](wrong)[/]"))


def render_accuracy(con, r) -> None:
    from rich.table import Table

    _header(con, r)
    table = Table(title=f"accuracy on {r.provenance.get('data_file', '')}")
    for col in ("images", "top-1", "top-5", "images/s", "p50 ms/batch"):
        table.add_column(col, justify="right")
    table.add_row(str(r.images), f"{100 * r.top1:.2f} %", f"{100 * r.top5:.2f} %",
                  f"{r.throughput_ips:.1f}" if r.throughput_ips else "-",
                  f"{r.latency_ms.p50:.3f}" if r.latency_ms else "-")
    con.print(table)


@lab_task(help={
    **_COMMON,
    "data_file": "dataset (bin file or slim-dir): batches are drawn from its first images "
                 "(see --sample-size) and the first timed image's prediction is shown "
                 "(default <work_dir>/data/val.bin when it exists, else seeded random input)",
    "warmup": "untimed runs before timing (default lab.run.warmup, 10)",
    "repeats": "timed runs (default lab.run.repeats, 100)",
    "hot": "time the data file's first batch again and again (cache-hot) instead of "
           "batches drawn from the sample set",
    "sample_size": "images of the data file loaded before timing and drawn from in seeded "
                   "order, cycled (default lab.run.sample_size, 1024; all when it has fewer)",
    "seed": "seed of the order the sample set is drawn in (default lab.run.seed, 0)",
    "expect_cache_hit": "fail when the TensorRT engine was built instead of loaded from its "
                        "cache (GPU only: refused on the CPU, which has no engine cache)",
    "trt_disable_ops": "GPU, Python runner: op types kept out of TensorRT, comma-separated "
                       "(exp_disable_tensorrt_ops, Paddle >= 2.1)",
    "trt_disable_subgraph": "GPU, Python runner: TensorRT sub-graphs to run natively, named by "
                            "an output var, comma-separated (exp_disable_tensorrt_subgraph, "
                            "Paddle >= 3.0)",
    "trt_inspector": "GPU, Python runner: log each engine's layers and precision "
                     "(enable_tensorrt_inspector, Paddle >= 2.3, TensorRT >= 8.2)",
    "cuda_graph": "GPU, Python runner: run the TensorRT engine as a CUDA graph (fixed shapes; "
                  "Paddle >= 2.5)",
}, numbers={**_NUMBERS, "warmup": flags.WARMUP, "repeats": flags.REPEATS,
            "sample_size": flags.SAMPLE_SIZE, "seed": flags.SEED})
def run(c, int8=False, fp16=False, fp32=False, model_dir=None, data_file=None,
        batch_size=None, warmup=None, repeats=None, threads=None, device=None, runner=None, hot=False,
        sample_size=None, seed=None, expect_cache_hit=False, trt_disable_ops=None,
        trt_disable_subgraph=None, trt_inspector=False, cuda_graph=False, bf16=False, json_=False):
    """Latency of one model: min/mean/p50/p90/p99/max per batch and images/s.

    The timer covers, per batch, the input copy, the run and the output copy (the
    same in the C++ demo and the Python runner). Without flags it runs what
    quickstart made: `invoke run --int8` times <work_dir>/models/<default>/int8
    on batches drawn in seeded order from the images of <work_dir>/data/val.bin
    (--hot: its first batch only). The result names the runner and why it was
    chosen, what inputs were timed, the start-up times and the peak RSS; models
    with seeded weights are latency-only.

    Examples:
        invoke run --int8
        invoke run --fp32 --model-dir .lab/models/resnet50/fp32 --batch-size 8 --threads 2
        invoke run --int8 --runner python --json
    """
    from ..runners.request import parse_request
    from ..runners.result import check_cache_hit
    from ..runners.run import batch_note, run_latency
    from .progress import progress_for

    settings = LabSettings.from_context(c)
    req = parse_request(dict(int8=int8, fp16=fp16, fp32=fp32, bf16=bf16, model_dir=model_dir,
                             data_file=data_file, batch_size=batch_size, device=device,
                             runner=runner, trt_disable_ops=trt_disable_ops,
                             trt_disable_subgraph=trt_disable_subgraph,
                             trt_inspector=trt_inspector, cuda_graph=cuda_graph),
                        settings, "latency")
    data = req.data_file
    result = run_latency(settings, req.model_dir, req.precision, device=req.device,
                         runner=req.runner, batch_size=req.batch_size, warmup=warmup,
                         repeats=repeats, threads=threads, data_file=data,
                         progress=progress_for(not json_), hot=hot, sample_size=sample_size,
                         seed=seed, **req.plan_overrides)
    _note_batch(result, batch_note(data, result.batch_size), json_)
    emit(result, json_, render_latency)
    if expect_cache_hit:
        check_cache_hit(result)


@lab_task(name="test-acc", help={
    **_COMMON,
    "data_file": "dataset to score (bin file or slim-dir with a matching <file>.json sidecar "
                 "from `invoke preprocess`; default <work_dir>/data/val.bin)",
    "limit": "score only the first N images (default all)",
}, numbers={**_NUMBERS, "limit": flags.LIMIT})
def test_acc(c, int8=False, fp16=False, fp32=False, model_dir=None, data_file=None,
             limit=None, batch_size=None, threads=None, device=None, runner=None, bf16=False, json_=False):
    """Top-1/top-5 accuracy of one model on a preprocessed dataset, with a progress bar.

    The dataset's sidecar (written by `invoke preprocess`) must match the file
    (size, count, sha256), or the task refuses it. images/s counts the whole
    scoring loop (after two warm-up batches). Seeded zoo models score at chance
    level: their accuracy means nothing (the result says so).

    Examples:
        invoke test-acc --int8
        invoke test-acc --fp32 --data-file .lab/data/val.bin --limit 50 --batch-size 10
    """
    from ..runners.request import parse_request
    from ..runners.run import batch_note, run_accuracy
    from .progress import progress_for

    settings = LabSettings.from_context(c)
    req = parse_request(dict(int8=int8, fp16=fp16, fp32=fp32, bf16=bf16, model_dir=model_dir,
                             data_file=data_file, batch_size=batch_size, device=device,
                             runner=runner), settings, "accuracy")
    data = req.data_file
    result = run_accuracy(settings, req.model_dir, data, req.precision, device=req.device,
                          runner=req.runner, batch_size=batch_size, limit=limit, threads=threads,
                          progress=progress_for(not json_))
    _note_batch(result, batch_note(data, result.batch_size, limit, kind="accuracy"), json_)
    emit(result, json_, render_accuracy)
