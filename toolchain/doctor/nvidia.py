"""Collectors for CUDA toolkits, the NVIDIA driver and GPUs, cuDNN and TensorRT."""

from __future__ import annotations

import glob
import importlib.metadata
import importlib.util
import os
import re
import shutil
from pathlib import Path

from . import parsers
from .report import ERROR, FOUND, NOT_FOUND, UNPARSED, Finding, ProbeReport
from .sources import (ToolOutput, clip_raw, existing_unique_dirs, file_finding, read_text,
                      run_tool, tool_finding)

MULTIARCH = ("x86_64-linux-gnu", "aarch64-linux-gnu", "sbsa-linux")
SMI_FIELDS = "name,driver_version,compute_cap,memory.total,pci.bus_id"


# ------------------------------------------------------------------ CUDA toolkits

def cuda_roots(explicit: list[Path]) -> list[Path]:
    # /usr/local/cuda is usually a link to one of the cuda-X.Y installs: name the install.
    default = Path("/usr/local/cuda")
    standard = [default.resolve() if default.exists() else default,
                *sorted(Path(p) for p in glob.glob("/usr/local/cuda-*")), Path("/opt/cuda")]
    return existing_unique_dirs([*explicit, *standard])


def collect_cuda(report: ProbeReport, roots: list[Path], outs: dict[str, ToolOutput],
                 explicit: list[Path]) -> None:
    for root in explicit:
        if not root.is_dir():
            report.findings.append(Finding("cuda", "cuda root", NOT_FOUND, source=str(root),
                                           details={"explicit": True}))
    path_nvcc = outs["nvcc"]
    nvcc_version = parsers.parse_nvcc_version(path_nvcc.text) if path_nvcc.ok else None
    report.findings.append(tool_finding("cuda", "nvcc (PATH)", path_nvcc, nvcc_version,
                                        {"path": shutil.which("nvcc")}))
    for root in roots:
        version, source, how = None, None, None
        vjson, vtxt = root / "version.json", root / "version.txt"
        json_text, txt_text = read_text(vjson), read_text(vtxt)
        unparsed = []
        if json_text is not None:
            version = parsers.parse_cuda_version_json(json_text)
            source, how = vjson, "version.json (cuda_cudart)"
            if version is None:
                unparsed.append((vjson, json_text))
        if version is None and txt_text is not None:
            version = parsers.parse_cuda_version_txt(txt_text)
            source, how = vtxt, "version.txt"
            if version is None:
                unparsed.append((vtxt, txt_text))
        nvcc_out = outs.get(f"nvcc:{root}")
        if version is None and nvcc_out is not None and nvcc_out.status == "ran":
            version = parsers.parse_nvcc_version(nvcc_out.text)
            source, how = nvcc_out.command, "nvcc --version"
            if version is None:
                unparsed.append((nvcc_out.command, nvcc_out.text))
        cudart = sorted({p.name for d in _lib_dirs_of(root) for p in d.glob("libcudart.so.*")})
        real = str(root.resolve())
        details = {"root": str(root), "real_path": real, "via": how, "libcudart": cudart,
                   "explicit": any(root == e for e in explicit),
                   "is_usr_local_cuda": Path("/usr/local/cuda").exists()
                   and Path("/usr/local/cuda").resolve() == root.resolve()}
        if version:
            report.findings.append(Finding("cuda", f"toolkit {root}", FOUND, version,
                                           source=str(source), details=details))
            report.cuda_toolkits.append({"root": str(root), "version": version,
                                         "source": str(source)})
        elif unparsed:
            where, text = unparsed[0]
            report.findings.append(Finding("cuda", f"toolkit {root}", UNPARSED, source=str(where),
                                           raw=clip_raw(text), details=details))
        elif (root / "bin").is_dir() or (root / "include" / "cuda.h").exists():
            report.findings.append(Finding("cuda", f"toolkit {root}", UNPARSED, source=str(root),
                                           raw="no version.json, version.txt or bin/nvcc",
                                           details=details))
    # The toolkit a build would use: nvcc on PATH, else the first root (explicit ones first).
    first = report.cuda_toolkits[0]["version"] if report.cuda_toolkits else None
    if nvcc_version and not explicit:
        report.cuda_version = nvcc_version
    else:
        report.cuda_version = first or nvcc_version


def _lib_dirs_of(root: Path) -> list[Path]:
    dirs = [root / "lib64", root / "lib", *[root / "lib" / m for m in MULTIARCH]]
    dirs += [Path(p) for p in glob.glob(str(root / "targets" / "*" / "lib"))]
    return [d for d in dirs if d.is_dir()]


def _include_dirs_of(root: Path) -> list[Path]:
    dirs = [root / "include", *[root / "include" / m for m in MULTIARCH]]
    dirs += [Path(p) for p in glob.glob(str(root / "targets" / "*" / "include"))]
    return [d for d in dirs if d.is_dir()]


# ---------------------------------------------------------------- driver and GPUs

def smi_commands() -> dict[str, list[str]]:
    return {"nvidia-smi": ["nvidia-smi"],
            "nvidia-smi query": ["nvidia-smi", f"--query-gpu={SMI_FIELDS}", "--format=csv"]}


def collect_driver(report: ProbeReport, outs: dict[str, ToolOutput], timeout: float,
                   name_table: dict[str, str]) -> None:
    smi = outs["nvidia-smi"]
    banner = parsers.parse_nvidia_smi_banner(smi.text) if smi.status == "ran" else None
    report.findings.append(tool_finding(
        "driver", "nvidia-smi", smi, banner and f"driver {banner.driver_version}, "
                                                f"CUDA <= {banner.cuda_max}",
        banner and {"driver_version": banner.driver_version, "cuda_max": banner.cuda_max}))
    proc_path = Path("/proc/driver/nvidia/version")
    proc_text = read_text(proc_path)
    proc_version = parsers.parse_proc_driver_version(proc_text or "")
    report.findings.append(file_finding("driver", "kernel module", proc_path, proc_version,
                                        proc_text))
    report.driver_version = (banner and banner.driver_version) or proc_version
    report.driver_cuda_max = banner and banner.cuda_max

    query = outs["nvidia-smi query"]
    if query.status != "ran":
        return
    # Not only on exit 0: with a GPU it cannot reach, nvidia-smi still lists the others.
    gpus = parsers.parse_gpu_query_csv(query.text)
    for line in parsers.smi_device_errors(query.text):
        report.findings.append(Finding("driver", "unreachable gpu", ERROR, source=query.command,
                                       raw=line, details={"returncode": query.returncode}))
    rejected = parsers.smi_rejected_field(query.text)
    if rejected == "compute_cap":
        # 470-series drivers: ask again without compute_cap, take it from the name table.
        fallback = run_tool(["nvidia-smi", "--query-gpu=" + SMI_FIELDS.replace(",compute_cap", ""),
                             "--format=csv"], timeout)
        gpus = parsers.parse_gpu_query_csv(fallback.text) if fallback.ok else []
        for gpu in gpus:
            gpu.compute_capability = capability_from_name(gpu.name, name_table)
            gpu.capability_source = "name table" if gpu.compute_capability else "unknown"
        report.findings.append(Finding("driver", "compute_cap query", "rejected",
                                       source=query.command, raw=clip_raw(query.text.strip()),
                                       details={"fallback": fallback.command}))
        query = fallback
    if not gpus:
        report.findings.append(tool_finding("driver", "gpus", query, None))
        return
    for i, gpu in enumerate(gpus):
        report.gpus.append({"index": i, "name": gpu.name,
                            "compute_capability": gpu.compute_capability,
                            "memory_mib": gpu.memory_mib, "bus_id": gpu.bus_id,
                            "capability_source": gpu.capability_source})
        cap = gpu.compute_capability or "?"
        report.findings.append(Finding(
            "driver", f"gpu {i}", FOUND,
            f"{gpu.name}, sm {cap}" + (f", {gpu.memory_mib} MiB" if gpu.memory_mib else ""),
            source=query.command, details=dict(report.gpus[-1])))


def capability_from_name(name: str, table: dict[str, str]) -> str | None:
    """Compute capability by GPU name; keys match whole words, longest key first."""
    for key in sorted(table, key=len, reverse=True):
        if re.search(r"(?<![\w])" + re.escape(key) + r"(?![\w])", name, re.I):
            return table[key]
    return None


# --------------------------------------------------------------- cuDNN, TensorRT

def _pip_package_dir(module: str) -> Path | None:
    """A package's folder without importing it (find_spec imports parents only)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    if locations:
        return Path(locations[0])
    return Path(spec.origin).parent if spec.origin else None


def _libs_in(dirs: list[Path], stem: str) -> list[Path]:
    found = []
    for d in dirs:
        found += sorted(p for p in d.glob(f"{stem}.so*") if p.name.startswith(stem + ".so"))
    return found


def collect_cudnn(report: ProbeReport, cuda_roots_: list[Path], ldconfig: dict[str, list[str]],
                  extra_roots: list[Path]) -> None:
    pip_dir = _pip_package_dir("nvidia.cudnn")
    roots = [*extra_roots, *cuda_roots_]
    include_dirs = [d for r in roots for d in _include_dirs_of(r)]
    include_dirs += [Path("/usr/include"), *[Path("/usr/include") / m for m in MULTIARCH],
                     Path("/usr/local/include")]
    lib_dirs = [d for r in roots for d in _lib_dirs_of(r)]
    lib_dirs += [Path("/usr/lib") / m for m in MULTIARCH]
    lib_dirs += [Path("/usr/lib64"), Path("/usr/local/lib")]
    if pip_dir:
        include_dirs.append(pip_dir / "include")
        lib_dirs.append(pip_dir / "lib")
    for inc in existing_unique_dirs(include_dirs):
        candidates = [inc / "cudnn_version.h", *sorted(inc.glob("cudnn_version_v*.h")),
                      inc / "cudnn.h"]
        for header in candidates:
            text = read_text(header)
            if text is None:
                continue
            version = parsers.parse_cudnn_version_header(text)
            if version is None and header.name == "cudnn.h":
                continue   # cuDNN >= 8 keeps the numbers in cudnn_version.h, not here
            kind = "pip nvidia-cudnn" if pip_dir and pip_dir in header.parents else "headers"
            report.findings.append(file_finding("cudnn", f"headers {inc}", header, version,
                                                text, {"kind": kind}))
            if version:
                report.cudnn_installs.append({"version": version, "header": str(header),
                                              "kind": kind})
            break
    if not report.cudnn_installs:
        report.findings.append(Finding("cudnn", "headers", NOT_FOUND,
                                       source="cudnn_version*.h / cudnn.h in system, CUDA and "
                                              "pip nvidia/cudnn include dirs"))
    libs = _libs_in(existing_unique_dirs(lib_dirs), "libcudnn")
    libs += [Path(p) for name, paths in ldconfig.items() if name.startswith("libcudnn.so")
             for p in paths]
    _lib_findings(report, "cudnn", "libcudnn", libs)
    if report.cudnn_installs:
        report.cudnn_version = report.cudnn_installs[0]["version"]


def _lib_findings(report: ProbeReport, section: str, stem: str, libs: list[Path]) -> dict:
    by_major: dict[str, list[str]] = {}
    seen: set[str] = set()
    for lib in libs:
        # /lib/<arch> and /usr/lib/<arch> are one folder on merged-/usr systems.
        real_dir = os.path.realpath(lib.parent)
        if os.path.join(real_dir, lib.name) in seen:
            continue
        seen.add(os.path.join(real_dir, lib.name))
        major = parsers.soname_major(lib.name, stem)
        key = f"{stem}.so.{major}" if major is not None else f"{stem}.so"
        by_major.setdefault(key, []).append(str(lib))
    for key in sorted(by_major):
        report.findings.append(Finding(section, key, FOUND, f"{len(by_major[key])} file(s)",
                                       source=by_major[key][0],
                                       details={"paths": by_major[key]}))
    if not by_major:
        report.findings.append(Finding(section, f"{stem}.so.N", NOT_FOUND,
                                       source="library dirs and ldconfig -p"))
    return by_major


def trt_roots(explicit: list[Path]) -> list[Path]:
    standard = [Path("/usr"), *[Path(p) for p in sorted(glob.glob("/usr/local/TensorRT*"))],
                *[Path(p) for p in sorted(glob.glob("/opt/TensorRT*"))], Path("/opt/tensorrt")]
    return existing_unique_dirs([*explicit, *standard])


def collect_tensorrt(report: ProbeReport, roots: list[Path], ldconfig: dict[str, list[str]],
                     explicit: list[Path]) -> None:
    for root in explicit:
        if not root.is_dir():
            report.findings.append(Finding("tensorrt", "tensorrt root", NOT_FOUND,
                                           source=str(root), details={"explicit": True}))
    for root in roots:
        for inc in _include_dirs_of(root):
            header = inc / "NvInferVersion.h"
            text = read_text(header)
            if text is None:
                header = inc / "NvInfer.h"        # TensorRT <= 5 keeps the macros here
                text = read_text(header)
                if text is None:
                    continue
            version = parsers.parse_trt_version_header(text)
            if version is None and header.name == "NvInfer.h":
                continue
            report.findings.append(file_finding("tensorrt", f"headers {inc}", header, version,
                                                text, {"root": str(root)}))
            if version:
                report.tensorrt_installs.append({"version": version, "header": str(header),
                                                 "root": str(root), "kind": "headers"})
    if not report.tensorrt_installs:
        report.findings.append(Finding("tensorrt", "headers", NOT_FOUND,
                                       source="NvInferVersion.h / NvInfer.h under "
                                              + ", ".join(str(r) for r in roots)))
    lib_dirs = [d for r in roots for d in _lib_dirs_of(r)]
    lib_dirs += [Path("/usr/lib") / m for m in MULTIARCH]
    libs = _libs_in(existing_unique_dirs(lib_dirs), "libnvinfer")
    libs += [Path(p) for name, paths in ldconfig.items() if name.startswith("libnvinfer.so")
             for p in paths]

    pip_dir = _pip_package_dir("tensorrt_libs")
    pip_versions = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name.startswith("tensorrt"):
            pip_versions[name] = dist.version
    if pip_dir:
        libs += _libs_in([pip_dir], "libnvinfer")
    if pip_dir or pip_versions:
        version = pip_versions.get("tensorrt") or next(iter(pip_versions.values()), None)
        report.findings.append(Finding("tensorrt", "pip tensorrt", FOUND, version,
                                       source=str(pip_dir) if pip_dir else "pip metadata",
                                       details={"distributions": pip_versions,
                                                "headers": False,
                                                "libs_dir": str(pip_dir) if pip_dir else None}))
        report.tensorrt_installs.append({"version": version, "root": str(pip_dir),
                                         "kind": "pip", "headers": False})
    by_name = _lib_findings(report, "tensorrt", "libnvinfer", libs)
    report.libnvinfer_unversioned = by_name.get("libnvinfer.so", [])
    header_versions = [i["version"] for i in report.tensorrt_installs if i["kind"] == "headers"]
    pip_only = [i["version"] for i in report.tensorrt_installs
                if i["kind"] == "pip" and i["version"]]
    report.tensorrt_version = (header_versions or pip_only or [None])[0]


