"""Task `bench`: FP32 vs INT8 latency and accuracy, interleaved, stable, recorded."""

from __future__ import annotations

from .. import flags
from ..cli import lab_task

HELP = {
    "models": "comma list of zoo names or folders with fp32/ and int8/ sub-folders "
              "(default: every model in <work_dir>/models)",
    "precisions": "comma list of fp32, fp16, int8, bf16 (default fp32,int8; bf16 runs the "
                  "fp32/ model through oneDNN's bfloat16 path)",
    "batch_sizes": "comma list of batch sizes (default 1)",
    "device": "auto, cpu or gpu",
    "repeats": "timed runs per measurement window, at least (default 50; fast models get "
               "more so that a window lasts about 0.5 s)",
    "warmup": "untimed runs before each window (default 10)",
    "threads": "CPU threads (default: the runner's)",
    "time_budget": "seconds per model and batch size before an unstable measurement "
                   "stops (default 60)",
    "tolerance": "stable = the p50 of 3 consecutive windows within this fraction "
                 "(default 0.05)",
    "data_file": "preprocessed dataset for accuracy (default <work_dir>/data/val.bin)",
    "limit": "score only the first N images",
    "out": "output folder (default <results_dir>/<UTC timestamp>)",
    "gate_top1_drop": "fail (exit 1) if a precision's top-1 is more than PTS points below "
                      "FP32's",
    "gate_speedup": "fail (exit 1) if a precision's p50 is less than X times faster than FP32's",
    "compare": "an earlier bench.json to show the change against",
    "backends": "comma list of CPU engines run on the same files, inputs and timer: paddle "
                "(always), openvino (reads the .pdmodel), onnxruntime (after paddle2onnx); "
                "the others need `pip install -e '.[backends]'` (default paddle)",
    **flags.help_for("runner", "json_"),
}


NUMBERS = {"batch_sizes": flags.BATCH_SIZES, "repeats": flags.REPEATS, "warmup": flags.WARMUP,
           "threads": flags.THREADS, "time_budget": flags.SECONDS,
           "tolerance": flags.TOLERANCE, "limit": flags.LIMIT,
           "gate_top1_drop": flags.TOP1_DROP, "gate_speedup": flags.SPEEDUP}


@lab_task(help=HELP, numbers=NUMBERS, auto_shortflags=False)
def bench(c, models=None, precisions=None, batch_sizes=None, runner=None, device=None,
          repeats=None, warmup=None, threads=None, time_budget=None, tolerance=None,
          data_file=None, limit=None, out=None, gate_top1_drop=None, gate_speedup=None,
          compare=None, backends=None, json_=False):
    """FP32 vs INT8 table (accuracy, latency percentiles, speed-up), with gates.

    For each model and batch size, FP32 and INT8 latency windows alternate (ABBA)
    on the same data and machine, repeated until the p50 of three consecutive
    windows agree within --tolerance or --time-budget ends (the result says
    which). Top-1/top-5 are scored on the dataset for trained models (the seeded
    zoo architectures are latency only). Writes bench.json (with provenance),
    bench.md, bench.csv and bench.png to results/<timestamp>/.

    Examples:
      invoke bench
      invoke bench --models mobilenet_v1,resnet50 --batch-sizes 1,8 --repeats 100
      invoke bench --gate-top1-drop 1 --gate-speedup 1.5      # CI: exit 1 on failure
      invoke bench --compare results/20260101-120000/bench.json
      invoke bench --backends paddle,openvino,onnxruntime --precisions fp32,int8,bf16
    """
    from invoke.exceptions import Exit

    from ..bench.render import StatusLine, render_report
    from ..bench.run import BenchRequest, parse_request, run_bench
    from ..cli import emit
    from ..settings import LabSettings

    settings = LabSettings.from_context(c)
    if batch_sizes is not None:
        batch_sizes = ",".join(map(str, batch_sizes))
    req = parse_request(models=models, precisions=precisions, batch_sizes=batch_sizes,
                        runner=runner, device=device, repeats=repeats, warmup=warmup,
                        threads=threads, time_budget=time_budget, tolerance=tolerance,
                        data_file=data_file, limit=limit, out=out,
                        gate_top1_drop=gate_top1_drop, gate_speedup=gate_speedup,
                        compare=compare, backends=backends,
                        defaults=BenchRequest.from_settings(settings))
    if json_:
        report = run_bench(settings, req)
    else:
        with StatusLine() as status:
            report = run_bench(settings, req, progress=status)
    emit(report, json_, render_report)
    if not report.passed:
        raise Exit(code=1)

