"""Quickstart targets: under 5 minutes from a fresh work dir; a second run reproduces.

Runs the real CLI twice in a fresh, isolated lab (work, cache, results dirs under
a temporary folder): first `invoke quickstart` exactly as README's first command
runs it (its screen output is kept in <lab>/first_run.txt and printed), then
`invoke quickstart --json`. Prints:
- wall time of the first (fresh) run against the 300 s target, and of the second;
- whether accuracy numbers and dataset and model sha256 are identical;
- per model and precision, the p50 change between the runs against the noise the
  stability rule reported (the larger spread of the two runs).

    python benchmarks/quickstart_time.py [--models small_cnn,...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 300.0


def run(env: dict, as_json: bool = True) -> tuple[float, dict | str]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(ROOT),
                           "quickstart", *(["--json"] if as_json else [])], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"quickstart failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                 f"{proc.stderr[-3000:]}")
    return wall, (json.loads(proc.stdout) if as_json else proc.stdout + proc.stderr)


def numbers(result: dict) -> dict:
    bench = result["bench"]
    out = {"dataset": bench["provenance"]["dataset"].get("sha256"),
           "models": bench["provenance"]["models"], "rows": {}}
    for row in bench["rows"]:
        for prec, res in row["results"].items():
            out["rows"][(row["model"], prec)] = {
                "top1": res["top1"], "top5": res["top5"], "p50": res["latency_ms"]["p50"],
                "spread": res["stability"]["spread"], "stable": res["stability"]["stable"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", help="lab.quickstart.models for this run (default: invoke.yaml)")
    ap.add_argument("--keep", help="use this folder for the lab instead of a temporary one")
    args = ap.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="qs-bench-"))
    env = dict(os.environ)
    env.update({"INVOKE_LAB_WORK_DIR": str(base / "work"),
                "INVOKE_LAB_CACHE_DIR": str(base / "cache"),
                "INVOKE_LAB_LIB_DIR": str(base / "work" / "lib"),
                "INVOKE_LAB_RESULTS_DIR": str(base / "results"),
                "INVOKE_LAB_LOCK_FILE": str(base / "lab.lock.toml")})
    if args.models:
        env["INVOKE_LAB_QUICKSTART_MODELS"] = args.models
    first_s, text = run(env, as_json=False)
    (base / "first_run.txt").write_text(text)
    benches = sorted((base / "results").glob("*/bench.json"), key=lambda p: p.stat().st_mtime)
    first = {"bench": json.loads(benches[-1].read_text())}
    second_s, second = run(env)
    a, b = numbers(first), numbers(second)
    print(f"first run's output ({base / 'first_run.txt'}):\n{text}")
    print(f"machine: {os.cpu_count()} cores; lab in {base}")
    print(f"first (fresh) run: {first_s:.1f} s = {first_s / TARGET_S:.2f} x the "
          f"{TARGET_S:.0f} s target -> {'PASS' if first_s < TARGET_S else 'FAIL'}")
    reused = [s["name"] for s in second["steps"] if s["status"] == "reused"]
    print(f"second run: {second_s:.1f} s ({second_s / first_s:.2f} x the first); "
          f"reused {len(reused)} steps: {', '.join(reused)}")
    same_acc = all(a["rows"][k]["top1"] == b["rows"][k]["top1"]
                   and a["rows"][k]["top5"] == b["rows"][k]["top5"] for k in a["rows"])
    print(f"identical accuracy: {same_acc}; identical dataset sha256: "
          f"{a['dataset'] == b['dataset']}; identical model sha256: {a['models'] == b['models']}")
    for key in a["rows"]:
        x, y = a["rows"][key], b["rows"][key]
        change = abs(y["p50"] / x["p50"] - 1)
        noise = max(x["spread"] or 0, y["spread"] or 0)
        top1 = "-" if x["top1"] is None else f"{x['top1'] * 100:.2f}"
        print(f"  {key[0]:14s} {key[1]}: top-1 {top1:>6s}  p50 {x['p50']:.3f} -> "
              f"{y['p50']:.3f} ms, change {change * 100:.1f} % vs noise {noise * 100:.1f} % "
              f"-> {'within' if change <= noise else 'OUTSIDE'} noise "
              f"(stable {x['stable']}/{y['stable']})")


if __name__ == "__main__":
    main()
