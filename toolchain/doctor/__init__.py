"""What is installed on this machine and whether it fits (the engine of `invoke doctor`).

parsers: pure text -> values; collectors: commands (each with a timeout) and file
reads; verdicts: ok / warn / fail checks with a one-line fix; report: the result.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .collectors import host_summary
from .parsers import parse_ldconfig
from .report import Finding, ProbeReport, Verdict

__all__ = ["collect_report", "host_summary", "ProbeReport", "Finding", "Verdict"]


def _roots(flag: Path | str | None, env_name: str, setting: str | None) -> list[Path]:
    """Explicit places to look: the flag, the environment variable, the setting (in order)."""
    out: list[Path] = []
    for value in (flag, os.environ.get(env_name), setting):
        if value:
            p = Path(os.path.expanduser(str(value)))
            if p not in out:
                out.append(p)
    return out


def collect_report(settings, lib: Path | None = None, cuda_root: Path | None = None,
                   trt_root: Path | None = None) -> ProbeReport:
    """Probe host, toolchain, Paddle wheel, CUDA, driver/GPUs, cuDNN, TensorRT and a library.

    `lib` defaults to the library fetch-lib/build-lib installed last (if any).
    Commands run in parallel, each limited to settings.probe_timeout seconds.
    """
    from . import collectors as col
    from . import nvidia
    from .sources import run_tools
    from .verdicts import judge

    start = time.perf_counter()
    timeout = float(settings.probe_timeout)
    cuda_explicit = _roots(cuda_root, "CUDA_HOME", settings.cuda_root)
    trt_explicit = _roots(trt_root, "TENSORRT_ROOT", settings.trt_root)
    cuda_roots = nvidia.cuda_roots(cuda_explicit)

    commands = {**col.toolchain_commands(), **nvidia.smi_commands(),
                "nvcc": ["nvcc", "--version"]}
    for root in cuda_roots:
        if (root / "bin" / "nvcc").exists():
            commands[f"nvcc:{root}"] = [str(root / "bin" / "nvcc"), "--version"]
    outs = run_tools(commands, timeout)

    report = ProbeReport()
    col.collect_host(report, settings.work_dir)
    col.collect_toolchain(report, outs)
    col.collect_paddle_wheel(report)
    nvidia.collect_cuda(report, cuda_roots, outs, cuda_explicit)
    nvidia.collect_driver(report, outs, timeout, _name_table())
    ldconfig = parse_ldconfig(outs["ldconfig"].text) if outs["ldconfig"].ok else {}
    nvidia.collect_cudnn(report, cuda_roots, ldconfig, _roots(None, "CUDNN_ROOT", None))
    nvidia.collect_tensorrt(report, nvidia.trt_roots(trt_explicit), ldconfig, trt_explicit)

    source = "--lib"
    if lib is None:
        from ..state import current_library

        current = current_library(settings.lib_dir)
        if current and current.get("path"):
            lib, source = Path(current["path"]), f"current library ({current.get('source')})"
    col.collect_library(report, Path(lib) if lib else None, source)
    from .runtime import SUPPORT_PATH, collect_runtime
    from .verdicts import load_rules

    collect_runtime(report, cuda_roots, ldconfig, load_rules(SUPPORT_PATH))

    report.verdicts = judge(report)
    report.probe_seconds = round(time.perf_counter() - start, 3)
    return report


def _name_table() -> dict[str, str]:
    from .verdicts import load_rules

    return dict(load_rules().get("gpu_compute_capability", {}))
