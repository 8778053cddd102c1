"""Pure parsers: the text a tool prints or a file holds -> plain values/dataclasses.

No I/O here. Each parser returns None (or an empty value) for text it does not
recognise; the collectors then report the finding as "unparsed" with the raw text.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field

_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)[ \t]+([^\n]*?)\s*$", re.M)
_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_VERSION = re.compile(r"\b(\d+\.\d+(?:\.\d+)*)\b")


def header_defines(text: str) -> dict[str, str]:
    """`#define NAME VALUE` lines of a C header (comments stripped, value kept as text)."""
    return {m.group(1): m.group(2).strip() for m in _DEFINE.finditer(_COMMENTS.sub("", text))}


def _resolve_int(defines: dict[str, str], name: str) -> int | None:
    """Follow `#define A B` aliases to a number (TRT >= 10.11 aliases NV_TENSORRT_* to TRT_*)."""
    seen = set()
    value = defines.get(name)
    while value is not None and value not in seen:
        seen.add(value)
        value = value.strip("() ")
        if value.isdigit():
            return int(value)
        value = defines.get(value)
    return None


def parse_trt_version_header(text: str) -> str | None:
    """NvInferVersion.h (TRT >= 6) or NvInfer.h (TRT <= 5) -> "MAJOR.MINOR.PATCH.BUILD".

    Handles literal `NV_TENSORRT_MAJOR 8` and, from 10.11 on, `TRT_MAJOR_ENTERPRISE 10`
    with `NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE` as an alias. BUILD is left out
    when the header has none.
    """
    defines = header_defines(text)
    parts: list[int] = []
    for part in ("MAJOR", "MINOR", "PATCH", "BUILD"):
        value = _resolve_int(defines, f"NV_TENSORRT_{part}")
        if value is None:
            value = _resolve_int(defines, f"TRT_{part}_ENTERPRISE")
        if value is None:
            break
        parts.append(value)
    if len(parts) < 3:
        return None
    return ".".join(str(p) for p in parts)


def parse_cudnn_version_header(text: str) -> str | None:
    """cudnn_version.h / cudnn_version_v9.h (cuDNN >= 8) or cudnn.h (<= 7) -> "9.14.0"."""
    defines = header_defines(text)
    parts = [_resolve_int(defines, f"CUDNN_{p}") for p in ("MAJOR", "MINOR", "PATCHLEVEL")]
    if any(p is None for p in parts):
        return None
    return ".".join(str(p) for p in parts)


def parse_nvcc_version(text: str) -> str | None:
    """`nvcc --version` -> "13.0.88" (the V number), else "13.0" (the release).

    CUDA 2.x-5.0 print "release 5.0, V0.2.1221": a V number that does not start
    with the release is not the toolkit's version, so the release is kept then.
    """
    m = re.search(r"release\s+(\d+\.\d+)\s*,\s*V(\d+\.\d+\.\d+)", text)
    if m:
        return m.group(2) if m.group(2).startswith(m.group(1) + ".") else m.group(1)
    m = re.search(r"release\s+(\d+\.\d+)", text)
    return m.group(1) if m else None


def parse_cuda_version_json(text: str) -> str | None:
    """CUDA >= 11.1 version.json -> the runtime's version ("11.8.89").

    `cuda_cudart` (then `cuda_nvcc`) is read first because the top-level "cuda"
    entry can be date-stamped ("11.8.20220929"); from that one only major.minor is kept.
    """
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key in ("cuda_cudart", "cuda_nvcc"):
        entry = data.get(key)
        if isinstance(entry, dict) and _VERSION.fullmatch(str(entry.get("version", ""))):
            return str(entry["version"])
    entry = data.get("cuda")
    if isinstance(entry, dict):
        m = re.match(r"(\d+\.\d+)", str(entry.get("version", "")))
        if m:
            return m.group(1)
    return None


def parse_cuda_version_txt(text: str) -> str | None:
    """CUDA <= 11.0 version.txt ("CUDA Version 10.2.89") -> "10.2.89"."""
    m = re.search(r"CUDA Version\s+(\d+\.\d+(?:\.\d+)?)", text)
    return m.group(1) if m else None


@dataclass
class SmiBanner:
    """The header of plain `nvidia-smi`: its "CUDA Version" is the driver's maximum."""

    smi_version: str | None
    driver_version: str | None
    cuda_max: str | None


def parse_nvidia_smi_banner(text: str) -> SmiBanner | None:
    """Plain `nvidia-smi` or `nvidia-smi -q` -> SMI, driver and max CUDA versions.

    From the 610 series the banner says "KMD Version: 610.57.04  CUDA UMD Version: 13.3"
    instead of "Driver Version: ...  CUDA Version: ...". "CUDA Version: N/A", "ERR!"
    (WSL) or "Not Found" (-q on a vGPU host) leave cuda_max None.
    """
    def grab(label: str) -> str | None:
        m = re.search(label + r"\s*:?\s+(\d+\.[\d.]+)", text)
        return m.group(1) if m else None

    banner = SmiBanner(grab("NVIDIA-SMI"), grab(r"(?:Driver|KMD) Version"),
                       grab(r"CUDA (?:UMD )?Version"))
    if banner.driver_version is None and banner.cuda_max is None:
        return None
    return banner


def parse_proc_driver_version(text: str) -> str | None:
    """/proc/driver/nvidia/version -> the module's version.

    Proprietary: "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  <date>";
    open module: "... UNIX Open Kernel Module for x86_64  565.57.01  Release Build ...";
    Jetson (L4T) numbers its module "35.3.1", so the major is not always 3 digits.
    """
    m = re.search(r"NVRM version:.*?Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)\b",
                  text)
    if m is None:
        m = re.search(r"NVRM version:.*?\b(\d{3,}\.\d+(?:\.\d+)?)\b", text)
    return m.group(1) if m else None


@dataclass
class GpuInfo:
    name: str
    compute_capability: str | None = None
    memory_mib: int | None = None
    driver_version: str | None = None
    bus_id: str | None = None
    capability_source: str = "nvidia-smi"


def smi_rejected_field(text: str) -> str | None:
    """The field a (470-series) nvidia-smi refused: 'Field "compute_cap" is not a valid field'."""
    m = re.search(r'Field\s+"([\w.\[\] ]+)"\s+is not a valid field', text)
    return m.group(1) if m else None


_DEVICE_ERROR = re.compile(r"^Unable to determine the device handle for GPU.*$", re.M)


def smi_device_errors(text: str) -> list[str]:
    """Lines where nvidia-smi could not reach a GPU (fallen off the bus, Xid 79, ...):
    "Unable to determine the device handle for GPU1: 0000:34:00.0: Unknown Error"."""
    return [m.group(0).strip() for m in _DEVICE_ERROR.finditer(text)]


def parse_gpu_query_csv(text: str) -> list[GpuInfo]:
    """`nvidia-smi --query-gpu=name,...,memory.total,... --format=csv` (with its header).

    The header need not be the first line: with a GPU it cannot reach, nvidia-smi prints
    "Unable to determine the device handle ..." first and then the other GPUs' rows.
    Lines that are not rows of the header's width are skipped.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    rows = list(csv.reader(io.StringIO("\n".join(lines)), skipinitialspace=True))
    start = next((i for i, row in enumerate(rows)
                  if "name" in (re.sub(r"\s*\[.*\]$", "", c.strip()) for c in row)), None)
    if start is None:
        return []
    header = [re.sub(r"\s*\[.*\]$", "", h.strip()) for h in rows[start]]
    gpus = []
    for row in rows[start + 1:]:
        if len(row) != len(header):
            continue
        rec = dict(zip(header, (v.strip() for v in row)))
        mem = re.match(r"(\d+)", rec.get("memory.total", ""))
        cap = rec.get("compute_cap")
        gpus.append(GpuInfo(
            name=rec.get("name", ""),
            compute_capability=cap if cap and re.fullmatch(r"\d+\.\d+", cap) else None,
            memory_mib=int(mem.group(1)) if mem else None,
            driver_version=rec.get("driver_version") or None,
            bus_id=rec.get("pci.bus_id") or None,
        ))
    return gpus


def parse_first_version(text: str) -> str | None:
    """The first X.Y[.Z] in a tool's `--version` line (cmake, make, ninja, git)."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    m = _VERSION.search(first) or _VERSION.search(text)
    return m.group(1) if m else None


def parse_gcc_version(text: str) -> str | None:
    """`g++ --version` ("g++ (Debian 12.2.0-14) 12.2.0") -> "12.2.0".

    The version is the last X.Y.Z of the first line; the parenthesised vendor
    string can hold other numbers. On macOS `gcc`/`g++` is clang and may print
    "Configured with: ...c++/4.2.1" before "Apple clang version 12.0.0 (...)":
    that line is skipped.
    """
    lines = [ln for ln in text.strip().splitlines()
             if ln.strip() and not ln.lstrip().startswith("Configured with:")]
    first = lines[0] if lines else ""
    found = re.findall(r"\b(\d+\.\d+(?:\.\d+)?)\b", re.sub(r"\(.*?\)", " ", first))
    if found:
        return found[-1]
    return parse_first_version(text)


def parse_cxx11_abi(macros: str) -> int | None:
    """`g++ -dM -E -x c++ -include string /dev/null` -> the default _GLIBCXX_USE_CXX11_ABI."""
    m = re.search(r"#define\s+_GLIBCXX_USE_CXX11_ABI\s+(\d)", macros)
    return int(m.group(1)) if m else None


def parse_os_release(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            out[key.strip()] = value.strip().strip('"').strip("'")
    return out


@dataclass
class CpuInfo:
    model: str | None = None
    flags: set[str] = field(default_factory=set)
    logical_cpus: int = 0
    physical_cores: int | None = None


def parse_cpuinfo(text: str) -> CpuInfo:
    """/proc/cpuinfo -> model name, flags of the first processor, logical and physical counts."""
    info = CpuInfo()
    cores: set[tuple[str, str]] = set()
    phys_id = core_id = None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "processor":
            info.logical_cpus += 1
            phys_id = core_id = None
        elif key == "model name" and info.model is None:
            info.model = value
        elif key in ("flags", "Features") and not info.flags:
            info.flags = set(value.split())
        elif key == "physical id":
            phys_id = value
        elif key == "core id":
            core_id = value
        if phys_id is not None and core_id is not None:
            cores.add((phys_id, core_id))
    info.physical_cores = len(cores) or None
    return info


def parse_meminfo_total_mib(text: str) -> int | None:
    m = re.search(r"^MemTotal:\s+(\d+)\s*kB", text, re.M)
    return int(m.group(1)) // 1024 if m else None


_PY_ASSIGN = re.compile(r"^(\w+)\s*=\s*(.+?)\s*$", re.M)


def parse_paddle_version_module(text: str) -> dict | None:
    """paddle/version/__init__.py (generated by Paddle's setup.py) -> version facts.

    Read as text so doctor never imports paddle. Values "False"/"None"/"" mean
    "not compiled with it" and become None.
    """
    raw = {}
    for m in _PY_ASSIGN.finditer(text):
        value = m.group(2)
        if value[:1] in "'\"":
            value = value.strip("'\"")
        raw[m.group(1)] = value
    if "full_version" not in raw:
        return None

    def opt(key: str) -> str | None:
        value = raw.get(key)
        return None if value in (None, "", "False", "None", "0", "OFF") else value

    return {
        "version": raw["full_version"],
        "commit": opt("commit"),
        "cuda": opt("cuda_version"),
        "cudnn": opt("cudnn_version"),
        "tensorrt": opt("tensorrt_version"),
        "with_mkl": raw.get("with_mkl") == "ON",
    }


def soname_major(filename: str, stem: str) -> int | None:
    """"libnvinfer.so.10.5.0" with stem "libnvinfer" -> 10; "libnvinfer.so" -> None."""
    m = re.fullmatch(re.escape(stem) + r"\.so\.(\d+)(?:\.[\d.]+)?", filename)
    return int(m.group(1)) if m else None


def parse_ldconfig(text: str) -> dict[str, list[str]]:
    """`ldconfig -p` -> {soname: [paths]}."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        name, sep, path = line.strip().partition(" => ")
        if sep:
            out.setdefault(name.split(" (")[0].strip(), []).append(path.strip())
    return out
