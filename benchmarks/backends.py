"""Paddle Inference (the tool's CPU plans) against OpenVINO and ONNX Runtime on the same files (#17).

Each (model, precision, backend) is timed in a fresh worker process: batch 1 (or
--batch-size: a larger batch shows how much of a gap is per-call cost), the same seeded
sample set of distinct inputs (cycled), the same warm-up and the same timer scope (input
copy + run + output copy). Two rounds in ABBA order; the p50 (ms per call) is over both
rounds' samples and the spread between the rounds' p50s is printed beside it.

  python benchmarks/backends.py --models-dir .lab/models              # after `invoke quickstart`
  python benchmarks/backends.py --models-dir DIR --models resnet50 --runs 60 --json

DIR holds NAME/fp32 (legacy .pdmodel, `invoke models --export NAME --formats legacy`) and
NAME/int8 (`invoke quantize --model-dir DIR/NAME/fp32 ...`). OpenVINO and ONNX Runtime
(after paddle2onnx, converted once into a temporary folder before any timing) are loaded
through toolchain.backends, as `invoke bench --backends` loads them; they come with the
`backends` extra: pip install -c constraints.txt -e '.[backends]'.
"""

from __future__ import annotations

import argparse
import json
import statistics
import shutil
import subprocess
import tempfile
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BACKENDS = ("paddle", "openvino", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "int8")


def paddle_infer(model_dir: Path, precision: str, threads: int):
    from toolchain.errors import LabError
    from toolchain.models.layout import find_model_files
    from toolchain.runners.configplan import PlanOptions, cpu_plan
    from toolchain.runners.python_engine import Engine

    files = find_model_files(model_dir)
    opts = PlanOptions(threads=threads)
    kind = "quantized" if precision == "int8" else "fp32"
    try:
        plan = cpu_plan(precision, kind, opts)
    except LabError:
        if precision != "bf16":
            raise
        plan = cpu_plan("fp32", kind, opts) + [("enable_mkldnn_bfloat16",)]
    return Engine(files, plan).infer


def other_infer(backend: str, model_dir: Path, precision: str, threads: int, cache: Path):
    """OpenVINO or ONNX Runtime through toolchain.backends (what `invoke bench --backends`
    runs): the engine's own precision settings, explicit."""
    from toolchain import backends
    from toolchain.models.layout import find_model_files

    return backends.load(backend, find_model_files(model_dir), precision, threads, cache).infer


def worker(spec: dict) -> dict:
    import numpy as np

    model_dir = Path(spec["model_dir"])
    try:
        t0 = time.perf_counter()
        if spec["backend"] == "paddle":
            infer = paddle_infer(model_dir, spec["precision"], spec["threads"])
        else:
            infer = other_infer(spec["backend"], model_dir, spec["precision"], spec["threads"],
                                Path(spec["cache"]))
        load_ms = (time.perf_counter() - t0) * 1000
    except Exception as err:  # a backend that cannot load the model is a row saying why
        return {"error": " ".join(str(getattr(err, "message", err)).split())[:300]}
    rng = np.random.default_rng(0)
    shape = (spec["batch_size"], 3, 224, 224)
    inputs = [rng.standard_normal(shape, dtype=np.float32) for _ in range(32)]
    for i in range(spec["warmup"]):
        infer(inputs[i % len(inputs)])
    samples, finite = [], True
    for i in range(spec["runs"]):
        t = time.perf_counter()
        out = infer(inputs[i % len(inputs)])
        samples.append((time.perf_counter() - t) * 1000)
        finite = finite and bool(np.isfinite(out).all())
    return {"samples_ms": samples, "load_ms": round(load_ms, 1), "finite": finite}


def run_worker(spec: dict, timeout: float) -> dict:
    try:
        done = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return json.loads(lines[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-dir", type=Path, default=ROOT / ".lab" / "models")
    ap.add_argument("--models", default="resnet50,mobilenet_v1")
    ap.add_argument("--precisions", default=",".join(PRECISIONS))
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=1,
                    help="images per call (a larger batch shows what is per-call cost)")
    ap.add_argument("--runs", type=int, default=60, help="timed runs per round (2 rounds)")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=600, help="seconds per worker")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    for name in ("batch_size", "runs", "threads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.warmup < 0:
        ap.error(f"--warmup must be 0 or more, got {args.warmup}")
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    backends = [b for b in args.backends.split(",") if b]
    from toolchain import backends as engines
    from toolchain.errors import LabError

    try:
        engines.require_installed(backends)
    except LabError as err:
        print(f"benchmarks/backends.py: {err.message}; {err.hint}", file=sys.stderr)
        return 2
    cache = Path(tempfile.mkdtemp(prefix="bench-backends-onnx-"))   # conversions, this run
    cells = []
    for model in [m for m in args.models.split(",") if m]:
        for precision in [p for p in args.precisions.split(",") if p]:
            sub = "int8" if precision == "int8" else "fp32"
            model_dir = args.models_dir / model / sub
            if not model_dir.is_dir():
                print(f"benchmarks/backends.py: no {model_dir}; make it with `invoke models "
                      f"--export {model} --formats legacy`"
                      + (" and `invoke quantize`" if sub == "int8" else ""), file=sys.stderr)
                return 2
            for backend in backends:
                cells.append({"model": model, "precision": precision, "backend": backend,
                              "model_dir": str(model_dir), "threads": args.threads,
                              "batch_size": args.batch_size,
                              "runs": args.runs, "warmup": args.warmup,
                              "cache": str(cache)})
    rounds = [cells, list(reversed(cells))]     # ABBA: drift hits every cell alike
    results: dict[int, list[dict]] = {i: [] for i in range(len(cells))}
    try:
        for r, order in enumerate(rounds):
            for spec in order:
                i = cells.index(spec)
                print(f"round {r + 1}/2: {spec['model']} {spec['precision']} "
                      f"{spec['backend']}", file=sys.stderr, flush=True)
                results[i].append(run_worker(spec, args.timeout))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    rows = []
    for i, spec in enumerate(cells):
        got = results[i]
        err = next((g["error"] for g in got if "error" in g), None)
        row = {k: spec[k] for k in ("model", "precision", "backend")}
        if err:
            row["error"] = err
        else:
            allsamples = [s for g in got for s in g["samples_ms"]]
            per_round = [statistics.median(g["samples_ms"]) for g in got]
            row.update(p50_ms=round(statistics.median(allsamples), 3),
                       p90_ms=round(statistics.quantiles(allsamples, n=10)[-1], 3),
                       round_spread_pct=round(100 * (max(per_round) - min(per_round))
                                              / min(per_round), 1),
                       samples=len(allsamples), finite=all(g["finite"] for g in got),
                       load_ms=got[0]["load_ms"])
        rows.append(row)
    if args.json:
        print(json.dumps({"threads": args.threads, "batch_size": args.batch_size, "rows": rows}, indent=2))
        return 0
    print(f"batch {args.batch_size}, {args.threads} threads, p50 over 2 rounds x {args.runs} runs "
          "(spread: between the rounds' p50s)")
    print(f"{'model':<14}{'precision':<10}" + "".join(f"{b + ' p50 ms':>22}" for b in backends)
          + "  fastest")
    by = {(r["model"], r["precision"], r["backend"]): r for r in rows}
    for model in dict.fromkeys(r["model"] for r in rows):
        for precision in dict.fromkeys(r["precision"] for r in rows if r["model"] == model):
            line, timed = f"{model:<14}{precision:<10}", {}
            for b in backends:
                r = by[(model, precision, b)]
                if "error" in r:
                    line += f"{'cannot run':>22}"
                else:
                    timed[b] = r["p50_ms"]
                    line += f"{r['p50_ms']:>12.2f} (±{r['round_spread_pct']:>4.1f}%)  "
            if len(timed) > 1:
                best = min(timed, key=timed.get)
                other = max(timed, key=timed.get)
                line += f"  {best} {timed[other] / timed[best]:.2f}x"
            print(line)
        for b in backends:
            base = by.get((model, "fp32", b))
            if base and "error" not in base:
                ratios = [f"{p} {base['p50_ms'] / by[(model, p, b)]['p50_ms']:.2f}x"
                          for p in PRECISIONS if p != "fp32" and (model, p, b) in by
                          and "error" not in by[(model, p, b)]]
                print(f"  {b}: speed-up over its own FP32: {', '.join(ratios) or 'n/a'}")
        best = {b: min((by[(model, p, b)]["p50_ms"], p) for p in PRECISIONS
                       if (model, p, b) in by and "error" not in by[(model, p, b)])
                for b in backends
                if any((model, p, b) in by and "error" not in by[(model, p, b)]
                       for p in PRECISIONS)}
        if len(best) > 1:
            (fast_ms, fast_p), fast_b = min((v, k) for k, v in best.items())
            summary = ", ".join(f"{b} {ms:.2f} ms ({p})" for b, (ms, p) in best.items())
            print(f"  best of each: {summary}; fastest {fast_b} {fast_p}")
    for r in rows:
        if "error" in r:
            print(f"  {r['model']} {r['precision']} {r['backend']}: cannot run: {r['error']}")
        elif not r["finite"]:
            print(f"  {r['model']} {r['precision']} {r['backend']}: NaN/Inf in the outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
