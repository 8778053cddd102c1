"""Quickstart targets: under 5 minutes from a fresh work dir; a second run reproduces.

Runs the real CLI in a fresh, isolated lab (work, cache, results dirs under a temporary
folder): first `invoke quickstart` exactly as README's first command runs it (its screen
output is kept in <lab>/first_run.txt and printed), then `invoke quickstart --json`, then
--more further runs. Prints:
- wall time of the first (fresh) run against the 300 s target, and of the second;
- whether accuracy numbers and dataset and model sha256 are identical;
- per model and precision, the last run's p50 against the one before it with the verdict
  `bench --compare` gives (toolchain.bench.compare: the within-run noise of both runs, and
  from the 4th run on the run-to-run noise of the earlier runs in the lab's results folder).

    python benchmarks/quickstart_time.py [--models small_cnn,...] [--keep DIR] [--more 2]
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
sys.path.insert(0, str(ROOT))
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
    ap.add_argument("--more", type=int, default=0,
                    help="further quickstart runs after the second (3 or more give the "
                         "last comparison a run-to-run noise)")
    args = ap.parse_args()
    if args.more < 0:
        ap.error(f"--more must be 0 or more, got {args.more}")
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
    from toolchain.bench.compare import compare, load_history
    from toolchain.bench.report import noise_cell

    runs = [first["bench"], second["bench"]]
    for i in range(args.more):
        wall, more = run(env)
        runs.append(more["bench"])
        print(f"run {len(runs)}: {wall:.1f} s")
    probes = [(r.get("provenance") or {}).get("machine_speed") or {} for r in runs]
    print("machine speed probe per run (ms, start -> end): " + ", ".join(
        f"{p.get('start_ms', 0):.3f} -> {p.get('end_ms', 0):.3f}" for p in probes))
    new, old = runs[-1], runs[-2]
    history = [h for h in load_history(base / "results") if h.get("out_dir") != new["out_dir"]]
    cmp = compare(new, old, history=history)
    print(f"run {len(runs)} against run {len(runs) - 1}, as `bench --compare` says it:")
    verdicts = []
    for r in cmp.rows:
        if r.p50_change_pct is None:
            continue
        verdicts.append(r.verdict)
        print(f"  {r.model:14s} {r.precision}: p50 {r.old_p50_ms:.3f} -> {r.new_p50_ms:.3f} ms, "
              f"change {r.p50_change_pct:+.1f} %, noise {noise_cell(r)} -> {r.verdict}")
    print(f"verdicts: {', '.join(f'{verdicts.count(v)} {v}' for v in sorted(set(verdicts)))}")

if __name__ == "__main__":
    main()
