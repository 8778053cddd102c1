"""Collectors for the host, the toolchain, the Paddle wheel and a Paddle Inference library.

(CUDA, the driver and GPUs, cuDNN and TensorRT are in `nvidia`.) Each collector
adds Findings to the report; parsing is left to `parsers`, commands and file
reads to `sources`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import sys
from pathlib import Path

from . import parsers
from .report import ERROR, FOUND, NOT_FOUND, UNPARSED, Finding, ProbeReport
from .sources import ToolOutput, clip_raw, file_finding, read_text, tool_finding

INT8_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8", "amx_bf16")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")     # oneDNN's bfloat16 kernels need one of these
CPUINFO = Path("/proc/cpuinfo")


def cpu_bf16_flags(cpuinfo: Path = CPUINFO) -> list[str]:
    """The BF16_FLAGS the CPU described by `cpuinfo` has ([] when unreadable)."""
    flags = set(parsers.parse_cpuinfo(read_text(cpuinfo) or "").flags)
    return [flag for flag in BF16_FLAGS if flag in flags]


# --------------------------------------------------------------------------- host

def collect_host(report: ProbeReport, work_dir: Path) -> None:
    osr_path = Path("/etc/os-release")
    osr_text = read_text(osr_path)
    osr = parsers.parse_os_release(osr_text or "")
    pretty = osr.get("PRETTY_NAME") or (" ".join(filter(None, (osr.get("NAME"),
                                                               osr.get("VERSION_ID")))) or None)
    f = file_finding("host", "os", osr_path, pretty, osr_text,
                     {"id": osr.get("ID"), "version_id": osr.get("VERSION_ID"),
                      "kernel": platform.release(), "arch": platform.machine()})
    report.findings.append(f)

    cpu_path = Path("/proc/cpuinfo")
    cpu_text = read_text(cpu_path)
    cpu = parsers.parse_cpuinfo(cpu_text or "")
    report.cpu_flags = set(cpu.flags)
    report.findings.append(file_finding("host", "cpu", cpu_path, cpu.model,
                                        cpu_text and cpu_text[:2000]))
    present = [flag for flag in INT8_FLAGS if flag in cpu.flags]
    isa = Finding("host", "int8 isa", FOUND if cpu_text else NOT_FOUND,
                  " ".join(present) or "none of " + ", ".join(INT8_FLAGS),
                  source=str(cpu_path), details={flag: flag in cpu.flags for flag in INT8_FLAGS})
    report.findings.append(isa)
    cores = cpu.logical_cpus or os.cpu_count()
    report.findings.append(Finding("host", "cores", FOUND,
                                   f"{cores} logical" + (f", {cpu.physical_cores} physical"
                                                         if cpu.physical_cores else ""),
                                   source=str(cpu_path),
                                   details={"logical": cores, "physical": cpu.physical_cores,
                                            "usable": len(os.sched_getaffinity(0))
                                            if hasattr(os, "sched_getaffinity") else None}))
    mem_path = Path("/proc/meminfo")
    mem_text = read_text(mem_path)
    mem = parsers.parse_meminfo_total_mib(mem_text or "")
    report.findings.append(file_finding("host", "memory", mem_path,
                                        f"{mem / 1024:.1f} GiB" if mem else None,
                                        mem_text and mem_text[:500], {"total_mib": mem}))
    probe_dir = Path(work_dir)
    while not probe_dir.exists() and probe_dir != probe_dir.parent:
        probe_dir = probe_dir.parent
    try:
        usage = shutil.disk_usage(probe_dir)
        report.findings.append(Finding("host", "disk free", FOUND, f"{usage.free / 2**30:.1f} GiB",
                                       source=str(probe_dir),
                                       details={"free_bytes": usage.free,
                                                "work_dir": str(work_dir)}))
    except OSError as exc:
        report.findings.append(Finding("host", "disk free", ERROR, source=str(probe_dir),
                                       raw=str(exc)))
    report.host = host_summary(osr_text=osr_text, cpu=cpu, mem_mib=mem)


def host_summary(osr_text: str | None = None, cpu: parsers.CpuInfo | None = None,
                 mem_mib: int | None = None) -> dict:
    """Cheap provenance for results: file reads only, no commands."""
    if osr_text is None:
        osr_text = read_text(Path("/etc/os-release")) or ""
    if cpu is None:
        cpu = parsers.parse_cpuinfo(read_text(Path("/proc/cpuinfo")) or "")
    if mem_mib is None:
        mem_mib = parsers.parse_meminfo_total_mib(read_text(Path("/proc/meminfo")) or "")
    osr = parsers.parse_os_release(osr_text)
    return {
        "hostname": platform.node(),
        "os": osr.get("PRETTY_NAME") or platform.platform(),
        "kernel": platform.release(),
        "arch": platform.machine(),
        "cpu_model": cpu.model,
        "cores": cpu.logical_cpus or os.cpu_count(),
        "int8_isa": [flag for flag in INT8_FLAGS if flag in cpu.flags],
        "memory_mib": mem_mib,
        "python": platform.python_version(),
    }


# ---------------------------------------------------------------------- toolchain

def toolchain_commands() -> dict[str, list[str]]:
    return {
        "gcc": ["gcc", "--version"],
        "g++": ["g++", "--version"],
        "cxx11 abi": ["g++", "-dM", "-E", "-x", "c++", "-include", "string", os.devnull],
        "cmake": ["cmake", "--version"],
        "make": ["make", "--version"],
        "ninja": ["ninja", "--version"],
        "git": ["git", "--version"],
        "ldconfig": [shutil.which("ldconfig") or "/sbin/ldconfig", "-p"],
    }


def collect_toolchain(report: ProbeReport, outs: dict[str, ToolOutput]) -> None:
    report.findings.append(Finding("toolchain", "python", FOUND, platform.python_version(),
                                   source=sys.executable))
    for name in ("gcc", "g++"):
        value = parsers.parse_gcc_version(outs[name].text) if outs[name].ok else None
        report.findings.append(tool_finding("toolchain", name, outs[name], value))
    report.gcc_version = _value(report, "toolchain", "g++") or _value(report, "toolchain", "gcc")
    abi_out = outs["cxx11 abi"]
    abi = parsers.parse_cxx11_abi(abi_out.text) if abi_out.ok else None
    report.cxx11_abi = abi
    report.findings.append(tool_finding("toolchain", "cxx11 abi", abi_out,
                                        None if abi is None else f"_GLIBCXX_USE_CXX11_ABI={abi}"))
    if abi is None and abi_out.status == "ran":
        report.findings[-1].raw = clip_raw(abi_out.text[-1500:])
    for name in ("cmake", "make", "ninja", "git"):
        out = outs[name]
        value = parsers.parse_first_version(out.text) if out.ok else None
        report.findings.append(tool_finding("toolchain", name, out, value))
    report.cmake_version = _value(report, "toolchain", "cmake")


def _value(report: ProbeReport, section: str, name: str) -> str | None:
    f = report.finding(section, name)
    return f.value if f and f.status == FOUND else None


# ------------------------------------------------------------------- paddle wheel

def collect_paddle_wheel(report: ProbeReport) -> None:
    """The installed paddle package, read as files: importing paddle takes seconds."""
    dist_version, dist_name = None, None
    for name in ("paddlepaddle-gpu", "paddlepaddle"):
        try:
            dist_version, dist_name = importlib.metadata.version(name), name
            break
        except importlib.metadata.PackageNotFoundError:
            continue
    try:
        spec = importlib.util.find_spec("paddle")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        report.findings.append(Finding("paddle", "paddle wheel", NOT_FOUND,
                                       source=f"{sys.executable} (import paddle)"))
        return
    pkg = Path(spec.origin).parent
    version_py = pkg / "version" / "__init__.py"
    text = read_text(version_py)
    info = parsers.parse_paddle_version_module(text or "")
    if info is None:
        report.findings.append(file_finding("paddle", "paddle wheel", version_py, None,
                                            text if text is not None else ""))
        return
    info["distribution"] = dist_name
    info["distribution_version"] = dist_version
    info["path"] = str(pkg)
    libs = pkg / "libs"
    onednn = sorted(p.name for p in libs.glob("lib*dnn*.so*")) if libs.is_dir() else []
    info["onednn"] = onednn[0] if onednn else None
    report.paddle_wheel = info
    report.findings.append(Finding("paddle", "paddle wheel", FOUND, info["version"],
                                   source=str(version_py), details=dict(info)))
    for key, label in (("cuda", "compiled CUDA"), ("cudnn", "compiled cuDNN"),
                       ("tensorrt", "compiled TensorRT")):
        none = "none (CPU build)" if key == "cuda" else "none"
        report.findings.append(Finding("paddle", label, FOUND, info[key] or none,
                                       source=str(version_py)))
    report.findings.append(Finding("paddle", "oneDNN", FOUND if onednn else NOT_FOUND,
                                   ", ".join(onednn) or None, source=str(pkg / "libs")))


# ------------------------------------------------------------------------ library

def collect_library(report: ProbeReport, lib: Path | None, source: str) -> None:
    if lib is None:
        report.findings.append(Finding("library", "library", NOT_FOUND,
                                       source="--lib, or the library fetch-lib/build-lib "
                                              "installed"))
        return
    from ..library.installed import inspect_library

    found = inspect_library(Path(lib))
    info = found.version
    data = {"path": str(found.path), "family": found.family,
            "main_lib": str(found.main_lib) if found.main_lib else None,
            "problems": list(found.problems), "source": source,
            "version": info.to_dict() if info else None}
    report.library = data
    status = FOUND if found.main_lib else NOT_FOUND
    report.findings.append(Finding("library", "layout", status,
                                   found.family or "unknown layout",
                                   source=str(found.main_lib or found.path),
                                   details={"problems": found.problems, "via": source,
                                            "third_party": found.third_party}))
    vtxt = found.path / "version.txt"
    if info is None:
        report.findings.append(Finding("library", "version.txt", NOT_FOUND, source=str(vtxt)))
        return
    if not info.paddle_version and not info.git_commit:
        report.findings.append(Finding("library", "version.txt", UNPARSED, source=str(vtxt),
                                       raw=clip_raw(read_text(vtxt))))
        return
    parts = [f"Paddle {info.paddle_version or '?'}"]
    parts += [f"{label} {v}" for label, v in (("CUDA", info.cuda_version),
                                               ("cuDNN", info.cudnn_version),
                                               ("TensorRT", info.tensorrt_version)) if v]
    if info.with_onednn:
        parts.append("oneDNN")
    if info.wheel_derived:
        # fetch-lib --from-wheel: links into the wheel, which may have been removed since
        parts.append("wheel-derived (the paddlepaddle wheel's engine; for production: "
                     "fetch-lib or build-lib)")
        engine = found.path / "paddle" / "lib" / "libpaddle.so"
        if not engine.exists():
            data["problems"].append(f"{engine} is missing: the wheel it was assembled from "
                                    "was removed or upgraded; run `invoke fetch-lib "
                                    "--from-wheel` again")
    report.findings.append(Finding("library", "version.txt", FOUND, ", ".join(parts),
                                   source=str(vtxt), details=info.to_dict()))
