"""Target: no leak in our own code: the Python runner's RSS stays flat over 200
create/run/destroy cycles of a small model (issue #16.5).

    python benchmarks/soak_flat.py [--model mobilenet_v1] [--cycles 200] [--batches 5]
        [--precision fp32] [--threads 1] [--max-slope-kb 64] [--work-dir DIR] [--json]

Exports the zoo model into <work-dir>/models (seeded weights: nothing to download
or train; `--model small_cnn` trains it, which needs `invoke sample-data` +
preprocess first) unless it is there, runs toolchain.soak.soak on seeded-noise
input and prints the RSS slope with its 95 % interval, the gate verdict and where
soak.png went. Exit 0 when the gate passes, 1 when it fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolchain.settings import LabSettings  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="mobilenet_v1")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "int8"))
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-slope-kb", type=float, default=64.0)
    ap.add_argument("--work-dir", default=str(ROOT / ".lab" / "bench-soak"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from toolchain.models.zoo import default_model_dir, export_model
    from toolchain.soak import soak

    work = Path(args.work_dir)
    settings = LabSettings.from_mapping({"work_dir": str(work), "lib_dir": str(work / "lib"),
                                         "results_dir": str(work / "results")})
    model = default_model_dir(settings, args.precision, args.model)
    if not model.exists():
        if args.precision != "fp32":
            print(f"no {model}: export and quantize it first", file=sys.stderr)
            return 2
        export_model(settings, args.model)
    t0 = time.perf_counter()
    r = soak(settings, model, args.precision, device="cpu", cycles=args.cycles,
             batches=args.batches, threads=args.threads, max_slope_kb=args.max_slope_kb)
    wall = time.perf_counter() - t0
    fit = r.rss_fit
    summary = {"model": r.model, "precision": r.precision, "cycles": r.cycles,
               "batches": r.batches, "warmup_cycles": r.warmup_cycles,
               "rss_first_mb": r.samples[0].rss_kb / 1024,
               "rss_last_mb": r.samples[-1].rss_kb / 1024,
               "slope_kb_per_cycle": fit.slope, "ci95_kb": [fit.low, fit.high],
               "stderr_kb": fit.stderr, "max_slope_kb": r.max_slope_kb, "passed": r.passed,
               "verdict": r.verdict, "wall_s": wall, "plot": r.files.get("plot")}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"soak {r.model} {r.precision} on cpu, {r.threads} thread(s): {r.cycles} cycles "
              f"x {r.batches} batches in {wall:.0f} s ({r.warmup_cycles} warm-up cycles not "
              "fitted)")
        print(f"  RSS {summary['rss_first_mb']:.1f} MB after cycle 1, "
              f"{summary['rss_last_mb']:.1f} MB after cycle {r.cycles}")
        print(f"  slope {fit.slope:+.2f} KB/cycle, 95 % interval [{fit.low:+.2f}, "
              f"{fit.high:+.2f}] (stderr {fit.stderr:.2f}, {fit.points} cycles)")
        print(f"  gate (lower bound <= {r.max_slope_kb:g} KB/cycle): "
              f"{'passed' if r.passed else 'FAILED'}: {r.verdict}")
        print(f"  plot: {r.files.get('plot')}")
    return 0 if r.passed else 1


if __name__ == "__main__":
    sys.exit(main())
