"""Throughput and memory of `invoke preprocess` against the reference algorithm.

One run on this machine, side by side on the same images:
  1. generate N ImageNet-sized JPEGs (default 2,000, mixed sizes around
     500x375, some grayscale and CMYK) from the two real photos that ship in the
     scikit-learn wheel, with random crops, scales and JPEG qualities;
  2. run a single-process transcription of Paddle's
     full_ILSVRC2012_val_preprocess.py (local mode, toolchain/data/reference.py)
     on them;
  3. run toolchain.data.preprocess.preprocess_dataset (default jobs = cores)
     on them;
  4. compare the outputs byte for byte (the reference's file against ours) and
     print the throughput ratio and the peak RSS of each run, all processes of
     the run summed (sampled every 20 ms from /proc).

Targets (issue 6): ratio >= 1.8 with identical bytes; peak RSS <= 300 MB for
2,000 images on 2 cores. Issue 16: >= 12x on 16 cores for 3,000 images, PSS <= 300 MB
(RSS summed over forked workers counts their shared pages once each). PASS/FAIL applies
the targets for the core count it runs on (the ratio is best-of-rounds; the median is
printed beside it).

    python benchmarks/preprocess_throughput.py [--images 2000] [--rounds 3] [--keep DIR]
                                               [--priority] [--scaling 1,2,4,8,16] [--phases]

--phases prints where the time of our runs goes (start-up, workers busy, tail,
finish; CPU of the parent and of the workers). Needs numpy and Pillow only;
without scikit-learn, point PREPROCESS_BENCH_PHOTOS at a folder of *.jpg photos.

On a machine shared with other users' jobs, the two-process side suffers more
from their load than the one-process reference; --priority (root) measures
both as if the machine were idle.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = [(500, 375), (375, 500), (500, 333), (500, 400), (640, 480), (480, 360),
         (500, 500), (333, 500), (450, 338), (550, 413)]


def generate(dest: Path, count: int, seed: int = 7) -> Path:
    """count JPEGs under dest/val + dest/val_list.txt."""
    import numpy as np
    from PIL import Image

    photos_dir = os.environ.get("PREPROCESS_BENCH_PHOTOS")   # a host without scikit-learn
    if photos_dir:
        photos = [Image.open(f).convert("RGB") for f in sorted(Path(photos_dir).glob("*.jpg"))]
    else:
        from sklearn.datasets import load_sample_images

        photos = [Image.fromarray(a) for a in load_sample_images().images]  # 640x427 each
    rng = np.random.default_rng(seed)
    (dest / "val").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(count):
        src = photos[i % len(photos)]
        w, h = SIZES[int(rng.integers(len(SIZES)))]
        scale = rng.uniform(0.55, 1.0)
        cw, ch = int(src.width * scale), int(src.height * scale)
        x0 = int(rng.integers(0, src.width - cw + 1))
        y0 = int(rng.integers(0, src.height - ch + 1))
        img = src.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), Image.BICUBIC)
        if rng.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        r = rng.random()
        if r < 0.05:
            img = img.convert("L")
        elif r < 0.07:
            img = img.convert("CMYK")
        name = f"val/ILSVRC2012_val_{i + 1:08d}.JPEG"
        img.save(dest / name, quality=int(rng.integers(75, 96)))
        lines.append(f"{name} {int(rng.integers(1000))}\n")
    (dest / "val_list.txt").write_text("".join(lines))
    return dest


def reference_main(data_dir: str, output: str) -> None:
    """Paddle's full_ILSVRC2012_val_preprocess.py (--local), as transcribed once in
    toolchain/data/reference.py."""
    sys.path.insert(0, str(ROOT))
    from toolchain.data.reference import reference_bin

    reference_bin(data_dir, os.path.join(data_dir, "val_list.txt"), output)


def ours_main(data_dir: str, output: str, jobs: str = "", phases_file: str = "") -> None:
    """One run of ours; with phases_file, its phases as JSON there, times in perf_counter
    seconds (one clock for all processes on Linux) so the caller can place them."""
    entered = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from toolchain.data.preprocess import execute
    from toolchain.data.preprocess_plan import plan_preprocess

    imported = time.perf_counter()
    plan = plan_preprocess(data_dir, None, output, jobs=int(jobs) if jobs else None)
    planned = time.perf_counter()
    result = execute(plan)
    if phases_file:
        import json

        Path(phases_file).write_text(json.dumps(
            {"entered": entered, "imported": imported, "planned": planned,
             "jobs": result.jobs, "count": result.count, "run": result.phases}))


# -- measuring -------------------------------------------------------------------

def _tree_rss_kib(root_pid: int) -> tuple[int, int]:
    """(sum of VmRSS, sum of Pss) in KiB over root_pid and all its descendants."""
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except OSError:
                continue
            for child in children:
                if child not in tree:
                    tree.add(child)
                    frontier.append(child)
    rss = pss = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return rss, pss


def measure(role: str, data_dir: Path, output: Path, jobs: int | None = None
            ) -> tuple[float, float, float, float, dict | None]:
    """(seconds, peak tree RSS MB, peak tree PSS MB, CPU seconds of all its processes,
    phases of ours or None) of one run in a fresh process."""
    # Same start for both: no old output to free, no writeback of earlier runs
    # competing for the two cores.
    phases_file = output.with_name(output.name + ".phases")
    for stale in (output, output.with_name(output.name + ".json"), phases_file):
        stale.unlink(missing_ok=True)
    os.sync()
    peak = [0, 0]
    argv = [sys.executable, __file__, "--role", role, str(data_dir), str(output)]
    if role == "ours":
        argv += [str(jobs or ""), str(phases_file)]
    start = time.perf_counter()
    proc = subprocess.Popen(argv)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss, pss = _tree_rss_kib(proc.pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            done.wait(0.02)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = rc = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime   # includes the pool workers it reaped
    done.set()
    t.join()
    if rc != 0:
        raise SystemExit(f"{role} run failed with exit code {rc}")
    phases = None
    if phases_file.exists():
        import json

        phases = json.loads(phases_file.read_text())
        phases.update(started=start, seconds=seconds, cpu=cpu)
    return seconds, peak[0] / 1024, peak[1] / 1024, cpu, phases


def raise_priority() -> None:
    """Own session (so own autogroup) at nice -15, inherited by both measured runs."""
    try:
        os.setsid()
    except OSError:
        pass
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write("-15")
    except OSError as err:
        print(f"note: autogroup priority not set ({err.strerror})")
    try:
        os.nice(-15 - os.nice(0))
    except OSError as err:
        print(f"note: nice not raised ({err.strerror}); measuring at normal priority")


def sha256(path: Path) -> str:
    sys.path.insert(0, str(ROOT))
    from toolchain.fsio import sha256_file

    return sha256_file(path)


def print_scaling(data: Path, output: Path, n: int, ref_s: float, ref_cpu: float,
                  jobs_list: list[int], rounds: int) -> list[dict]:
    """Ours at each worker count, best of `rounds`: where the cores idle shows as
    efficiency below 1, the extra CPU as CPU per image above the reference's.
    Returns the phases of each count's fastest run."""
    print(f"scaling (best of {rounds}; reference {ref_s:.2f} s, "
          f"CPU {ref_cpu / n * 1e3:.2f} ms/image):")
    print("  jobs   seconds   images/s   x reference   efficiency   CPU ms/image   peak PSS MB")
    fastest = []
    for jobs in jobs_list:
        runs = [measure("ours", data, output, jobs) for _ in range(rounds)]
        s, pss = min(r[0] for r in runs), max(r[2] for r in runs)
        cpu = min(r[3] for r in runs)
        fastest.append(min(runs, key=lambda r: r[0])[4])
        print(f"  {jobs:4d}   {s:7.2f}   {n / s:8.1f}   {ref_s / s:11.2f}   "
              f"{ref_s / s / jobs:10.2f}   {cpu / n * 1e3:12.2f}   {pss:11.1f}")
    return fastest


PHASE_COLUMNS = (("python", "entered"), ("imports", "imported"), ("plan", "planned"),
                 ("staged", "staged"), ("pool", "pool_started"),
                 ("1st img", "first_start"), ("1st res", "first_result"),
                 ("1st idle", "first_idle"), ("last img", "last_end"),
                 ("last res", "last_result"), ("closed", "pool_closed"), ("done", "done"),
                 ("exit", "seconds"))


def phase_times(ph: dict) -> dict:
    """Seconds since the run's process was started, for each phase of PHASE_COLUMNS."""
    run, workers = ph["run"], ph["run"].get("workers", {})
    exec_at = ph["planned"] - ph["started"]     # execute() began right after the plan
    out = {k: ph[k] - ph["started"] for k in ("entered", "imported", "planned")}
    out.update({k: exec_at + v for k, v in run.items() if isinstance(v, (int, float))
                and not k.startswith("cpu")})
    out.update({k: exec_at + workers[k] for k in ("first_start", "first_idle", "last_end")
                if k in workers})
    out["seconds"] = ph["seconds"]
    return out


def print_phases(phases: list[dict]) -> None:
    """Where each run's time goes: phase times, then the cores' time split into
    work, start-up, tail and finish, and the CPU of the parent and of the workers."""
    print("phases (seconds since the process started; fastest run of each):")
    print("  jobs " + "".join(f"{name:>9s}" for name, _ in PHASE_COLUMNS))
    for ph in phases:
        t = phase_times(ph)
        print(f"  {ph['jobs']:4d} " + "".join(
            f"{t[key]:9.3f}" if key in t else f"{'-':>9s}" for _, key in PHASE_COLUMNS))
    print("cores' time (jobs x run seconds): workers on images | before the first image | "
          "tail (done, waiting for the last) | after the last image;")
    print("CPU per image: parent (during execute), workers, whole run")
    print("  jobs    images%    start%     tail%    after%   parent ms   workers ms   all ms")
    for ph in phases:
        t, run, n, jobs = phase_times(ph), ph["run"], ph["count"], ph["jobs"]
        workers = run.get("workers", {})
        total = jobs * ph["seconds"]
        busy = workers.get("busy_s", run["cpu_parent_s"])
        start = jobs * t.get("first_start", t["pool_started"])
        tail = workers.get("tail_idle_s", 0.0)
        after = jobs * (ph["seconds"] - t.get("last_end", t["last_result"]))
        print(f"  {jobs:4d}   {100 * busy / total:7.1f}   {100 * start / total:7.1f}   "
              f"{100 * tail / total:7.1f}   {100 * after / total:7.1f}   "
              f"{run['cpu_parent_s'] / n * 1e3:9.2f}   {run['cpu_workers_s'] / n * 1e3:10.2f}"
              f"   {ph['cpu'] / n * 1e3:6.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--keep", help="generate into / reuse this directory")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of each")
    ap.add_argument("--priority", action="store_true",
                    help="root on a shared machine: run both sides at raised CPU priority "
                         "(own scheduler autogroup, nice -15) so other users' jobs disturb "
                         "the measurement less; both sides get the same treatment")
    ap.add_argument("--scaling", metavar="N,N,...",
                    help="also time ours at these worker counts (e.g. 1,2,4,8,16): speed-up "
                         "over the reference, parallel efficiency, CPU per image")
    ap.add_argument("--phases", action="store_true",
                    help="also print where the time of ours goes: phase times (start-up, "
                         "first and last image, finish), the cores' time split into work, "
                         "start-up, tail and finish, CPU per image of parent and workers "
                         "(with --scaling: for each worker count)")
    ap.add_argument("--role", choices=["reference", "ours"], help=argparse.SUPPRESS)
    ap.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role:
        (reference_main if args.role == "reference" else ours_main)(*args.paths)
        return 0

    import PIL

    if args.priority:
        raise_priority()
    with tempfile.TemporaryDirectory(prefix="preprocess-bench-") as tmp:
        data = Path(args.keep) if args.keep else Path(tmp) / "imagenet_user"
        if not (data / "val_list.txt").exists():
            t0 = time.perf_counter()
            generate(data, args.images)
            print(f"generated {args.images} JPEGs in {time.perf_counter() - t0:.1f} s")
        n = sum(1 for _ in open(data / "val_list.txt"))
        out_ref, out_ours = Path(tmp) / "reference.bin", Path(tmp) / "ours.bin"
        # Alternate the two, several rounds: the machine is shared, so the best
        # round of each is the least disturbed measurement of each.
        ref_runs, our_runs = [], []
        for r in range(args.rounds):
            ref_runs.append(measure("reference", data, out_ref))
            our_runs.append(measure("ours", data, out_ours))
            print(f"round {r + 1}: reference {ref_runs[-1][0]:6.2f} s "
                  f"(cpu {ref_runs[-1][3]:5.2f} s)   ours {our_runs[-1][0]:6.2f} s "
                  f"(cpu {our_runs[-1][3]:5.2f} s)   load average {os.getloadavg()[0]:.2f}")
        identical = out_ref.stat().st_size == out_ours.stat().st_size and \
            sha256(out_ref) == sha256(out_ours)
        ref_s, our_s = min(x[0] for x in ref_runs), min(x[0] for x in our_runs)
        ref_rss, ref_pss = max(x[1] for x in ref_runs), max(x[2] for x in ref_runs)
        our_rss, our_pss = max(x[1] for x in our_runs), max(x[2] for x in our_runs)
        ratio = ref_s / our_s
        ref_cpu, our_cpu = min(x[3] for x in ref_runs), min(x[3] for x in our_runs)
        median = statistics.median(a[0] for a in ref_runs) / statistics.median(
            b[0] for b in our_runs)
        cores = len(os.sched_getaffinity(0))
        print(f"images: {n} JPEGs (mixed sizes around 500x375), Pillow {PIL.__version__}, "
              f"{cores} cores, best of {args.rounds} rounds"
              + (", raised priority (--priority)" if args.priority else ""))
        print(f"reference (1 process): {ref_s:7.2f} s  {n / ref_s:7.1f} images/s  "
              f"peak RSS {ref_rss:6.1f} MB (PSS {ref_pss:6.1f} MB)")
        print(f"ours ({cores} jobs):        {our_s:7.2f} s  {n / our_s:7.1f} images/s  "
              f"peak RSS {our_rss:6.1f} MB (PSS {our_pss:6.1f} MB), all processes summed")
        # issue 6: >= 1.8x and RSS <= 300 MB on 2 cores; issue 16: >= 12x on 16 cores, and PSS
        # (RSS counts the pages forked workers share once per worker) <= 300 MB
        want_ratio = 12.0 if cores >= 16 else 1.8
        rss_limited = cores <= 2
        print(f"throughput ratio: {ratio:.2f} x best-of-rounds, {median:.2f} x median "
              f"(target >= {want_ratio:g} on {cores} cores)   identical bytes: "
              f"{'yes' if identical else 'NO'}   peak PSS {our_pss:.0f} MB"
              + (f", RSS {our_rss:.0f} MB" if rss_limited else "") + " (target <= 300 MB)")
        print(f"CPU per image: reference {ref_cpu / n * 1e3:.2f} ms, ours {our_cpu / n * 1e3:.2f} ms "
              f"(all processes; the machine is shared, load average now "
              f"{os.getloadavg()[0]:.2f})")
        phases = [min(our_runs, key=lambda r: r[0])[4]]
        if args.scaling:
            phases = print_scaling(data, Path(tmp) / "scaling.bin", n, ref_s, ref_cpu,
                                   [int(j) for j in args.scaling.split(",")], args.rounds)
        if args.phases:
            print_phases(phases)
        ok = (identical and ratio >= want_ratio and our_pss <= 300
              and (our_rss <= 300 or not rss_limited))
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
