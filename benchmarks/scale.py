"""How preprocess and test-acc grow with the dataset: time per image and peak RSS stay flat.

One run on this machine, in an isolated lab (work, cache and results under a temporary
folder), for each size (default 1,000, 5,000 and 20,000 images made by the script from
the two photos of scikit-learn's wheel, as benchmarks/preprocess_throughput.py makes them):
  1. `invoke preprocess` of the images into val.bin (all cores);
  2. `invoke test-acc --fp32` of a seeded mobilenet_v1 (exported once) over the whole
     file with the Python runner: it streams the dataset, so its RSS must not grow with N.
Each step runs as the real CLI in a child process; its peak RSS is the peak of all its
processes summed (sampled every 20 ms from /proc), its time the wall time.

Targets (issue #16): per-image time and peak RSS of the largest size within 1.5x of the
smallest. The full ILSVRC2012 val.bin is about 30 GB: preprocess refuses, before it decodes
an image, when the disk has less free than the file needs (tests/integration/test_data_safety.py).

    python benchmarks/scale.py [--sizes 1000,5000,20000] [--tasks preprocess,test-acc]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from preprocess_throughput import _tree_rss_kib, generate  # noqa: E402

LIMIT = 1.5


def lab_env(base: Path) -> dict:
    return {**os.environ,
            "INVOKE_LAB_WORK_DIR": str(base / "work"), "INVOKE_LAB_CACHE_DIR": str(base / "cache"),
            "INVOKE_LAB_LIB_DIR": str(base / "work" / "lib"),
            "INVOKE_LAB_RESULTS_DIR": str(base / "results"),
            "INVOKE_LAB_LOCK_FILE": str(base / "lab.lock.toml")}


def timed(args: list[str], env: dict) -> tuple[float, float]:
    """(seconds, peak RSS MB of the whole process tree) of `invoke ARGS`."""
    peak = [0]
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "invoke", "--search-root", str(ROOT), *args],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kib(proc.pid)[0])
            done.wait(0.02)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    t.join()
    if proc.returncode != 0:
        raise SystemExit(f"invoke {' '.join(args)} failed:\n{err[-2000:]}")
    return seconds, peak[0] / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000,20000")
    ap.add_argument("--tasks", default="preprocess,test-acc")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    rows: dict[str, list[tuple[int, float, float]]] = {t: [] for t in tasks}
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        base = Path(tmp)
        env = lab_env(base)
        model = base / "work" / "models" / "mobilenet_v1" / "fp32"
        if "test-acc" in tasks:
            subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(ROOT), "models",
                            "--export", "mobilenet_v1", "--formats", "legacy"], cwd=ROOT,
                           env=env, check=True, stdout=subprocess.DEVNULL)
        for n in sizes:
            images = base / f"images-{n}"
            generate(images, n)
            data = base / "work" / "data" / f"val-{n}.bin"
            if "preprocess" in tasks or "test-acc" in tasks:
                s, rss = timed(["preprocess", "--data-dir", str(images), "--out", str(data)], env)
                if "preprocess" in tasks:
                    rows["preprocess"].append((n, s, rss))
            if "test-acc" in tasks:
                s, rss = timed(["test-acc", "--fp32", "--model-dir", str(model), "--data-file",
                                str(data), "--runner", "python", "--batch-size", "16"], env)
                rows["test-acc"].append((n, s, rss))
            shutil.rmtree(images)
            data.unlink(missing_ok=True)
    cores = len(os.sched_getaffinity(0))
    print(f"scale on {cores} cores (sizes {', '.join(map(str, sizes))}):")
    print("  task         images   seconds   ms/image   peak RSS MB   x smallest (time, RSS)")
    ok = True
    for task, measured in rows.items():
        n0, s0, r0 = measured[0]
        for n, s, rss in measured:
            t_ratio, r_ratio = (s / n) / (s0 / n0), rss / r0
            ok &= t_ratio <= LIMIT and r_ratio <= LIMIT
            print(f"  {task:<11} {n:7d}   {s:7.1f}   {s / n * 1e3:8.2f}   {rss:11.1f}   "
                  f"{t_ratio:5.2f}, {r_ratio:5.2f}")
    print(f"target: per-image time and peak RSS within {LIMIT}x of the smallest size")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
