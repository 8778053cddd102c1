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
2,000 images.

    python benchmarks/preprocess_throughput.py [--images 2000] [--rounds 3] [--keep DIR]
                                               [--priority]

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


def ours_main(data_dir: str, output: str, jobs: str = "") -> None:
    sys.path.insert(0, str(ROOT))
    from toolchain.data.preprocess import preprocess_dataset

    preprocess_dataset(data_dir, None, output, jobs=int(jobs) if jobs else None)


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
            ) -> tuple[float, float, float, float]:
    """(seconds, peak tree RSS MB, peak tree PSS MB, CPU seconds of all its processes)
    of one run in a fresh process."""
    # Same start for both: no old output to free, no writeback of earlier runs
    # competing for the two cores.
    for stale in (output, output.with_name(output.name + ".json")):
        stale.unlink(missing_ok=True)
    os.sync()
    peak = [0, 0]
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--role", role, str(data_dir),
                             str(output)] + ([str(jobs)] if jobs else []))
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
    return seconds, peak[0] / 1024, peak[1] / 1024, cpu


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
                  jobs_list: list[int], rounds: int) -> None:
    """Ours at each worker count, best of `rounds`: where the cores idle shows as
    efficiency below 1, the extra CPU as CPU per image above the reference's."""
    print(f"scaling (best of {rounds}; reference {ref_s:.2f} s, "
          f"CPU {ref_cpu / n * 1e3:.2f} ms/image):")
    print("  jobs   seconds   images/s   x reference   efficiency   CPU ms/image   peak PSS MB")
    for jobs in jobs_list:
        runs = [measure("ours", data, output, jobs) for _ in range(rounds)]
        s, pss = min(r[0] for r in runs), max(r[2] for r in runs)
        cpu = min(r[3] for r in runs)
        print(f"  {jobs:4d}   {s:7.2f}   {n / s:8.1f}   {ref_s / s:11.2f}   "
              f"{ref_s / s / jobs:10.2f}   {cpu / n * 1e3:12.2f}   {pss:11.1f}")


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
        print(f"throughput ratio: {ratio:.2f} x best-of-rounds, {median:.2f} x median "
              f"(target >= 1.8)   identical bytes: {'yes' if identical else 'NO'}   "
              f"peak RSS {our_rss:.0f} MB (target <= 300 MB)")
        print(f"CPU per image: reference {ref_cpu / n * 1e3:.2f} ms, ours {our_cpu / n * 1e3:.2f} ms "
              f"(all processes; the machine is shared, load average now "
              f"{os.getloadavg()[0]:.2f})")
        if args.scaling:
            print_scaling(data, Path(tmp) / "scaling.bin", n, ref_s, ref_cpu,
                          [int(j) for j in args.scaling.split(",")], args.rounds)
        ok = identical and ratio >= 1.8 and our_rss <= 300
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
