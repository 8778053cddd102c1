"""Builders for the probe tests: fake install roots (real files) and a stand-in nvidia-smi.

There is no GPU on the test machines, so `nvidia-smi` is a small shell script that
prints outputs captured on real machines (shared/fixtures/h100, tests/fixtures/probe);
the probe then runs it as a real command with a timeout, end to end.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from support import FIXTURES, H100_FIXTURES

PROBE_FIXTURES = FIXTURES / "probe"


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def install_standin_nvidia_smi(bin_dir: Path, banner: Path | None, query: Path | None,
                               query_rc: int = 0, fallback: Path | None = None,
                               banner_rc: int = 0, sleep: float | None = None) -> Path:
    """Write `bin_dir/nvidia-smi`, a stand-in that cats captured outputs.

    banner: what plain `nvidia-smi` prints; query: what the `--query-gpu=...compute_cap...`
    query prints (with exit code query_rc, e.g. a 470 driver's rejection); fallback: the
    query without compute_cap.
    """
    def cat(path: Path | None) -> str:
        return f"cat {shlex.quote(str(path))}" if path else "true"

    delay = f"sleep {sleep}\n" if sleep else ""
    script = f"""#!/bin/sh
# STAND-IN for nvidia-smi (no GPU on the test machine): prints captured real outputs.
{delay}case "$*" in
  "") {cat(banner)}; exit {banner_rc} ;;
  *--query-gpu=*compute_cap*) {cat(query)}; exit {query_rc} ;;
  *--query-gpu=*) {cat(fallback)}; exit 0 ;;
  *) echo "stand-in nvidia-smi: unexpected arguments: $*" >&2; exit 2 ;;
esac
"""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = write(bin_dir / "nvidia-smi", script)
    path.chmod(0o755)
    return path


def h100_smi(bin_dir: Path) -> Path:
    return install_standin_nvidia_smi(bin_dir, H100_FIXTURES / "nvidia-smi.txt",
                                      H100_FIXTURES / "nvidia-smi-query.csv")


def p4_470_smi(bin_dir: Path) -> Path:
    """A Tesla P4 on a 470 driver, whose nvidia-smi rejects compute_cap (exit 2)."""
    return install_standin_nvidia_smi(
        bin_dir, PROBE_FIXTURES / "nvidia-smi-470.txt",
        PROBE_FIXTURES / "nvidia-smi-470-compute-cap-rejected.txt", query_rc=2,
        fallback=PROBE_FIXTURES / "nvidia-smi-470-query.csv")


def make_cuda_root(root: Path, version_file: str | None = None, cudnn_header: str | None = None,
                   cudnn_header_name: str = "cudnn_version.h", cudnn_so: int | None = None) -> Path:
    """A CUDA toolkit root: version.json/version.txt copied from a fixture, cuDNN inside."""
    root.mkdir(parents=True, exist_ok=True)
    if version_file:
        src = PROBE_FIXTURES / version_file
        name = "version.json" if src.suffix == ".json" else "version.txt"
        write(root / name, src.read_text())
    if cudnn_header:
        write(root / "include" / cudnn_header_name, Path(cudnn_header).read_text())
    if cudnn_so:
        write(root / "lib64" / f"libcudnn.so.{cudnn_so}.0.0", "stand-in")
        os.symlink(f"libcudnn.so.{cudnn_so}.0.0", root / "lib64" / f"libcudnn.so.{cudnn_so}")
    return root


def make_trt_root(root: Path, header_fixture: str, sonames: tuple[int, ...] = (),
                  unversioned: bool = True) -> Path:
    """A TensorRT tar-style root: include/<header>, lib/libnvinfer.so.N (+ the dev link)."""
    src = PROBE_FIXTURES / header_fixture
    header = "NvInfer.h" if "NvInfer.h" in header_fixture else "NvInferVersion.h"
    write(root / "include" / header, src.read_text())
    for major in sonames:
        write(root / "lib" / f"libnvinfer.so.{major}.0.0", "stand-in")
        os.symlink(f"libnvinfer.so.{major}.0.0", root / "lib" / f"libnvinfer.so.{major}")
    if sonames and unversioned:
        os.symlink(f"libnvinfer.so.{sonames[-1]}", root / "lib" / "libnvinfer.so")
    return root


def make_library(root: Path, version_txt: str, family: str = "paddle_inference") -> Path:
    """A Paddle Inference install-dir layout with the given version.txt (stand-in .so)."""
    write(root / "paddle" / "include" / "paddle_inference_api.h", "// stand-in\n")
    stem = "libpaddle_inference" if family == "paddle_inference" else "libpaddle_fluid"
    write(root / "paddle" / "lib" / f"{stem}.so", "stand-in")
    write(root / "version.txt", (PROBE_FIXTURES / version_txt).read_text())
    (root / "third_party" / "install" / "mkldnn").mkdir(parents=True)
    return root
