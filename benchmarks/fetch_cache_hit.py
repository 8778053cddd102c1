#!/usr/bin/env python3
"""fetch-lib cache hit: a repeated fetch returns in < 0.3 s and sends no request.

Publishes a stand-in library archive (real layout, --size-mb of payload) on a
local server, fetches it once (download + verify + install), then measures:
  - the repeated fetch (library function, cached and installed): target < 0.3 s;
  - the same through the real CLI (`invoke fetch-lib ...`, includes Python start);
  - a fetch into a fresh lib dir (cache hit, extraction needed), for information.
Usage: python benchmarks/fetch_cache_hit.py [--size-mb 64] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.fetch import build_library_archive, mirror_path
from support.fetch_server import FetchServer
from toolchain.fetch.resolve import LibraryRequest  # noqa: E402
from toolchain.fetch.run import FetchOptions, fetch_library  # noqa: E402
from toolchain.library.manifest import find_recipe  # noqa: E402
from toolchain.settings import LabSettings  # noqa: E402

ROW = "2.5.2-linux-gpu-cuda10.2-cudnn8.1.1-trt7.2.3.4-gcc8.2-mkl-avx"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=64)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fetch-cache-bench-"))
    try:
        env = {"INVOKE_LAB_WORK_DIR": str(tmp / "work"), "INVOKE_LAB_CACHE_DIR": str(tmp / "cache"),
               "INVOKE_LAB_LIB_DIR": str(tmp / "work" / "lib"),
               "INVOKE_LAB_LOCK_FILE": str(tmp / "lab.lock.toml")}
        settings = LabSettings.from_mapping({k.removeprefix("INVOKE_LAB_").lower(): v
                                             for k, v in env.items()})
        row = find_recipe(ROW)
        build_library_archive(tmp / "www" / mirror_path(row).lstrip("/"), row,
                              padding=args.size_mb << 20)
        req = LibraryRequest(cuda="10.2")
        with FetchServer(tmp / "www") as srv:
            opts = FetchOptions(mirror=srv.url)
            t0 = time.perf_counter()
            first = fetch_library(settings, req, opts)
            t_first = time.perf_counter() - t0
            n_req = len(srv.requests)
            hits = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                again = fetch_library(settings, req, opts)
                hits.append(time.perf_counter() - t0)
                assert again.status == "already-installed" and again.cache_hit
            cli = []
            for _ in range(3):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(ROOT),
                                "fetch-lib", "--cuda", "10.2", "--mirror", srv.url, "--json"],
                               env=dict(os.environ, **env), check=True, capture_output=True)
                cli.append(time.perf_counter() - t0)
            fresh = replace(settings, lib_dir=tmp / "lib-fresh")
            t0 = time.perf_counter()
            other = fetch_library(fresh, req, opts)
            t_fresh = time.perf_counter() - t0
            assert other.cache_hit and other.status == "installed"
            extra = len(srv.requests) - n_req
        hit = statistics.median(hits)
        print(f"archive: {first.size:,} bytes (stand-in, {args.size_mb} MiB payload)")
        print(f"first fetch (download+verify+install): {t_first:.3f} s")
        print(f"cache hit, installed (library call)   : median {hit * 1000:.1f} ms over "
              f"{args.runs} runs {[round(h * 1000, 1) for h in hits]}  (target < 300 ms)  "
              f"{'PASS' if hit < 0.3 else 'FAIL'}")
        print(f"cache hit through the CLI (incl. Python start): median "
              f"{statistics.median(cli) * 1000:.0f} ms {[round(c * 1000) for c in cli]}")
        print(f"cache hit into a fresh lib dir (extract+validate): {t_fresh:.3f} s")
        print(f"HTTP requests after the first fetch: {extra}")
        return 0 if hit < 0.3 and extra == 0 else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
