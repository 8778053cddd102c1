#!/usr/bin/env python3
"""fetch-lib download targets, measured in one run on loopback.

1. Throughput: fetch-lib's downloader vs `curl -o` on a 512 MB file served by the
   same local server (tests/support/fetch_server.py, sendfile). Target: >= 0.9 x curl.
   Both write to the same place: first the temp dir on disk, then /dev/shm (tmpfs),
   which takes the disk's write-back noise out of the comparison. The downloader
   also computes sha256 while receiving (curl does not).
2. Resume: the connection drops at 50%; the retry resumes with Range. Target: the
   server sends <= 1.05 x the file size in total.

Usage: python benchmarks/fetch_throughput.py [--size-mb 512] [--runs 7]
Each timed run starts after os.sync() so neither tool pays for the other's dirty pages.
The file is generated in a temporary directory and deleted afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.fetch_server import FetchServer
from toolchain.fetch.download import download  # noqa: E402


def make_file(path: Path, size: int) -> str:
    h = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        left = size
        i = 0
        while left:
            # vary each MiB a little so nothing compresses or dedups
            chunk = (i.to_bytes(8, "little") + block[8:])[: min(left, len(block))]
            fh.write(chunk)
            h.update(chunk)
            left -= len(chunk)
            i += 1
    return h.hexdigest()


def settle() -> None:
    """Start each timed run with no dirty pages from the previous one (fair to both)."""
    os.sync()
    time.sleep(0.5)   # the root fs here is mounted with `discard`: let deletes settle


def time_curl(url: str, out: Path) -> float:
    settle()
    t0 = time.perf_counter()
    subprocess.run(["curl", "-s", "-f", "-o", str(out), url], check=True)
    return time.perf_counter() - t0


def time_ours(url: str, out: Path) -> tuple[float, str]:
    out.unlink(missing_ok=True)
    settle()
    t0 = time.perf_counter()
    res = download(url, out)
    return time.perf_counter() - t0, res.sha256


def compare(url: str, dest: Path, runs: int, digest: str, label: str, mb: float):
    curl_t, ours_t = [], []
    for i in range(runs):                 # interleaved, order alternating
        for tool in (("curl", "ours") if i % 2 == 0 else ("ours", "curl")):
            if tool == "curl":
                curl_t.append(time_curl(url, dest / "curl.out"))
                (dest / "curl.out").unlink()
            else:
                t, sha = time_ours(url, dest / "ours.part")
                ours_t.append(t)
                assert sha == digest, "downloaded file has the wrong sha256"
                (dest / "ours.part").unlink()
    c, o = statistics.median(curl_t), statistics.median(ours_t)
    print(f"[{label}] curl -o   : median {c:.3f} s {mb / c:7.1f} MB/s  best {min(curl_t):.3f} s"
          f"  runs {[round(x, 3) for x in curl_t]}")
    print(f"[{label}] fetch-lib : median {o:.3f} s {mb / o:7.1f} MB/s  best {min(ours_t):.3f} s"
          f"  runs {[round(x, 3) for x in ours_t]}  (incl. sha256)")
    return c, o, min(curl_t), min(ours_t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=512)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-shm", dest="shm", action="store_false",
                    help="skip the second comparison writing to /dev/shm (tmpfs)")
    args = ap.parse_args()
    if not shutil.which("curl"):
        print("curl not found: install it (apt-get install curl) to compare", file=sys.stderr)
        return 2
    size = args.size_mb << 20
    tmp = Path(tempfile.mkdtemp(prefix="fetch-bench-"))
    ratios: list[float] = []
    try:
        (tmp / "www").mkdir()
        src = tmp / "www" / "big.tgz"
        digest = make_file(src, size)
        # The server runs in its own process for the throughput part, so it shares
        # no interpreter (GIL) with the downloader under test.
        server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fetch_server.py"),
                                   str(tmp / "www")], stdout=subprocess.PIPE, text=True)
        try:
            url = server.stdout.readline().strip() + "/big.tgz"
            time_curl(url, tmp / "warm")          # warm the page cache
            (tmp / "warm").unlink()
            dests = [("disk", tmp)]
            if args.shm and Path("/dev/shm").is_dir():
                dests.append(("tmpfs", Path(tempfile.mkdtemp(prefix="fetch-bench-",
                                                            dir="/dev/shm"))))
            mb = size / 1e6
            print(f"file: {args.size_mb} MiB on 127.0.0.1 (server in its own process), "
                  f"{args.runs} runs each, order alternating "
                  f"(load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
            for label, dest in dests:
                try:
                    c, o, c_best, o_best = compare(url, dest, args.runs, digest, label, mb)
                finally:
                    if dest != tmp:
                        shutil.rmtree(dest, ignore_errors=True)
                ratio = c / o
                ratios.append(ratio)
                print(f"[{label}] throughput ratio fetch-lib/curl = {ratio:.3f} (medians), "
                      f"{c_best / o_best:.3f} (best runs)  (target >= 0.90)  "
                      f"{'PASS' if ratio >= 0.9 else 'FAIL'}")
        finally:
            server.terminate()
            server.wait(timeout=10)
        with FetchServer(tmp / "www") as srv:
            url = srv.url + "/big.tgz"
            # resume after a drop at 50% (in-process server: counts the bytes it sent)
            srv.bytes_sent = 0
            srv.drop_after["/big.tgz"] = (size // 2, 1)
            part = tmp / "resume.part"
            t0 = time.perf_counter()
            res = download(url, part)
            dt = time.perf_counter() - t0
            assert res.sha256 == digest, "resumed file has the wrong sha256"
            moved = srv.bytes_sent / size
            gets = [r[2] for r in srv.gets("/big.tgz")][-2:]
            print(f"drop at 50%: {res.attempts} requests (Range: {gets[-1]}), "
                  f"server sent {srv.bytes_sent:,} bytes for a {size:,}-byte file in {dt:.2f} s")
            print(f"resume bytes ratio = {moved:.4f} x size  (target <= 1.05)  "
                  f"{'PASS' if moved <= 1.05 else 'FAIL'}")
        return 0 if min(ratios) >= 0.9 and moved <= 1.05 else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
