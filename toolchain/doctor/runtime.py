"""Which CUDA, cuBLAS, cuDNN and TensorRT sonames a GPU library needs, and where they are.

A library's needs come from two places: the NEEDED entries of its main .so (what the
dynamic loader links) and its version.txt (what Paddle dlopens at run time: cuDNN,
cuBLAS and TensorRT go through dynload, so they are in no NEEDED entry). The soname of
each major is data (recipes/gpu_support.toml [runtime]).

Pure: `parse_elf_dynamic` (bytes in), `required_sonames`, `find_needs`. Edges:
`read_elf_dynamic` (seeks in the file; libpaddle_inference.so is over 1 GB) and
`host_runtime_dirs` / `scan_runtime_dirs` (directory listings).
"""

from __future__ import annotations

import glob
import os
import re
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..errors import LabError
from ..results import JsonResult

SUPPORT_PATH = Path(__file__).resolve().parents[2] / "recipes" / "gpu_support.toml"

# soname patterns of the components this module follows, in report order
COMPONENTS = (
    ("CUDA runtime", re.compile(r"^libcudart\.so")),
    ("cuBLAS", re.compile(r"^libcublas(Lt)?\.so")),
    ("cuDNN", re.compile(r"^libcudnn\w*\.so")),
    ("TensorRT", re.compile(r"^libnv(infer|infer_plugin|onnxparser)\.so")),
)
_RUNTIME_FILE = re.compile(r"^lib(cudart|cublas|cublasLt|cudnn\w*|nvinfer|nvinfer_plugin|"
                           r"nvonnxparser)\.so\.\d+(\.\d+)*$")

_DT_NEEDED, _DT_SONAME, _DT_RPATH, _DT_RUNPATH = 1, 14, 15, 29
_SHT_DYNAMIC = 6


@dataclass
class ElfDynamic(JsonResult):
    soname: str | None = None
    needed: list[str] = field(default_factory=list)
    runpath: list[str] = field(default_factory=list)


def parse_elf_dynamic(read: Callable[[int, int], bytes]) -> ElfDynamic:
    """The dynamic section of an ELF file; `read(offset, size)` returns file bytes.

    ValueError for a file that is not ELF or has no dynamic section.
    """
    ident = read(0, 16)
    if ident[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    is64 = ident[4] == 2
    end = "<" if ident[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack(end + "Q", read(0x28, 8))
        shentsize, shnum = struct.unpack(end + "HH", read(0x3A, 4))
        sh_fmt, dyn_fmt = end + "IIQQQQIIQQ", end + "qQ"
    else:
        shoff, = struct.unpack(end + "I", read(0x20, 4))
        shentsize, shnum = struct.unpack(end + "HH", read(0x2E, 4))
        sh_fmt, dyn_fmt = end + "IIIIIIIIII", end + "iI"
    if not shoff or not shnum:
        raise ValueError("no section headers")
    sections = [struct.unpack(sh_fmt, read(shoff + i * shentsize, struct.calcsize(sh_fmt)))
                for i in range(shnum)]
    dynamic = next((s for s in sections if s[1] == _SHT_DYNAMIC), None)
    if dynamic is None:
        raise ValueError("no dynamic section (a static binary or an object file)")
    # (name, type, flags, addr, offset, size, link, info, addralign, entsize)
    strtab = sections[dynamic[6]]
    strings = read(strtab[4], strtab[5])
    raw = read(dynamic[4], dynamic[5])
    step = struct.calcsize(dyn_fmt)

    def text(offset: int) -> str:
        stop = strings.find(b"\0", offset)
        return strings[offset:stop if stop >= 0 else None].decode("utf-8", "replace")

    out = ElfDynamic()
    for pos in range(0, len(raw) - step + 1, step):
        tag, value = struct.unpack(dyn_fmt, raw[pos:pos + step])
        if tag == 0:
            break
        if tag == _DT_NEEDED:
            out.needed.append(text(value))
        elif tag == _DT_SONAME:
            out.soname = text(value)
        elif tag in (_DT_RPATH, _DT_RUNPATH):
            out.runpath += [p for p in text(value).split(":") if p]
    return out


def read_elf_dynamic(path: Path) -> ElfDynamic:
    """NEEDED / SONAME / RUNPATH of a shared library, reading only the parts needed."""
    try:
        with open(path, "rb") as fh:
            def read(offset: int, size: int) -> bytes:
                fh.seek(offset)
                return fh.read(size)
            return parse_elf_dynamic(read)
    except (OSError, ValueError, struct.error) as exc:
        raise LabError(f"cannot read the dynamic section of {path}: {exc}",
                       hint="point --lib at a complete Paddle Inference library "
                            "(paddle/lib/libpaddle_inference.so)") from exc


def component_of(soname: str) -> str | None:
    for name, pattern in COMPONENTS:
        if pattern.search(soname):
            return name
    return None


def _parts(version: str | None) -> list[str]:
    return str(version or "").strip().lstrip("vV").split(".")


@dataclass
class RuntimeNeed(JsonResult):
    soname: str
    component: str
    why: str                      # "NEEDED by ..." or "version.txt: ..."
    path: str | None = None       # None: not found on this host
    where: str | None = None      # system (ldconfig), LD_LIBRARY_PATH, pip ..., TENSORRT_ROOT
    install: str | None = None    # what to install when missing


def required_sonames(cuda: str | None, cudnn: str | None, trt: str | None,
                     support: dict) -> list[RuntimeNeed]:
    """What a library built for these versions loads (from the [runtime] table)."""
    table = support.get("runtime", {})
    cuda_major = _parts(cuda)[0] if cuda else ""
    cuda_minor = (_parts(cuda) + ["0"])[1] if cuda else ""
    out: list[RuntimeNeed] = []

    def add(names: Iterable[str], component: str, why: str, pip: Iterable[str],
            major: str) -> None:
        fill = dict(major=major, minor=cuda_minor, cuda_major=cuda_major)
        wheels = [p.format(**fill) for p in pip]
        for name in names:
            soname = name.format(**fill)
            comp = component_of(soname) or component
            out.append(RuntimeNeed(soname, comp, why, install=(
                "pip install " + " ".join(wheels) if wheels and cuda_major not in ("", "10",
                                                                                 "11")
                else f"install {comp} {major}.x")))

    if cuda:
        names = table.get("cuda_sonames_by_major", {}).get(cuda_major) \
            or table.get("cuda", {}).get("sonames", [])
        add(names, "CUDA runtime", f"version.txt: CUDA {cuda}",
            table.get("cuda", {}).get("pip", []), cuda_major)
    if cudnn:
        add(table.get("cudnn", {}).get("sonames", []), "cuDNN", f"version.txt: cuDNN {cudnn}",
            table.get("cudnn", {}).get("pip", []), _parts(cudnn)[0])
    if trt:
        add(table.get("tensorrt", {}).get("sonames", []), "TensorRT",
            f"version.txt: TensorRT {trt}", table.get("tensorrt", {}).get("pip", []),
            _parts(trt)[0])
    return out


def merge_needed(needs: list[RuntimeNeed], elf: ElfDynamic | None, lib_name: str
                 ) -> list[RuntimeNeed]:
    """version.txt's needs plus the CUDA-family NEEDED entries of the library."""
    by_name = {n.soname: n for n in needs}
    for soname in (elf.needed if elf else []):
        comp = component_of(soname)
        if comp is None:
            continue
        if soname in by_name:
            by_name[soname].why = f"NEEDED by {lib_name}; {by_name[soname].why}"
        else:
            need = RuntimeNeed(soname, comp, f"NEEDED by {lib_name}",
                               install=f"install the {comp} that provides {soname}")
            needs.append(need)
            by_name[soname] = need
    return needs


def host_runtime_dirs(env: dict[str, str] | None = None, site_dirs: list[str] | None = None,
                      cuda_roots: list[Path] = (), library: Path | None = None
                      ) -> list[tuple[Path, str]]:
    """(folder, kind) in the order the loader (or Paddle's dlopen) would meet them."""
    env = os.environ if env is None else env
    out: list[tuple[Path, str]] = []
    for d in (env.get("LD_LIBRARY_PATH") or "").split(":"):
        if d:
            out.append((Path(d), "LD_LIBRARY_PATH"))
    if library is not None:
        out.append((library / "paddle" / "lib", "the library's paddle/lib"))
        out += [(Path(p), "the library's third_party")
                for p in sorted(glob.glob(str(library / "third_party" / "install" / "*" /
                                              "lib")))]
    trt_root = env.get("TENSORRT_ROOT")
    if trt_root:
        out += [(Path(trt_root) / sub, "TENSORRT_ROOT") for sub in ("lib", "lib64")]
    for root in cuda_roots:
        out += [(Path(root) / sub, f"CUDA toolkit {root}") for sub in ("lib64", "lib")]
    if site_dirs is None:
        site_dirs = [p for p in sys.path if p.endswith("site-packages")]
    for site in site_dirs:
        for lib in sorted(glob.glob(os.path.join(site, "nvidia", "*", "lib"))):
            out.append((Path(lib), f"pip nvidia-{Path(lib).parent.name} wheel"))
        out.append((Path(site) / "tensorrt_libs", "pip tensorrt-libs wheel"))
    return out


def scan_runtime_dirs(dirs: list[tuple[Path, str]], ldconfig: dict[str, list[str]]
                      ) -> dict[str, tuple[str, str]]:
    """{soname: (path, kind)} of every CUDA-family library in `dirs` and `ldconfig -p`;
    the first place found wins, system (ldconfig) last as the loader does."""
    found: dict[str, tuple[str, str]] = {}
    for d, kind in dirs:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for name in names:
            if _RUNTIME_FILE.match(name) and name not in found:
                found[name] = (str(d / name), kind)
    for name, paths in ldconfig.items():
        if _RUNTIME_FILE.match(name) and name not in found and paths:
            found[name] = (paths[0], "system (ldconfig -p)")
    return found


def find_needs(needs: list[RuntimeNeed], present: dict[str, tuple[str, str]]
               ) -> list[RuntimeNeed]:
    for need in needs:
        hit = present.get(need.soname)
        need.path, need.where = hit if hit else (None, None)
    return needs


@dataclass
class RuntimeCheck(JsonResult):
    """The runtime one library needs on this host, found or not."""

    library: str
    needs: list[RuntimeNeed] = field(default_factory=list)
    error: str | None = None       # the main .so could not be read (NEEDED unknown)

    @property
    def missing(self) -> list[RuntimeNeed]:
        return [n for n in self.needs if n.path is None]

    def install_hint(self) -> str:
        """One line: what to install for the missing sonames."""
        steps: list[str] = []
        for n in self.missing:
            if n.install and n.install not in steps:
                steps.append(n.install)
        return "; ".join(steps)


def check_library(lib_dir: Path, main_lib: Path | None, version, support: dict,
                  present: dict[str, tuple[str, str]]) -> RuntimeCheck:
    """The sonames `lib_dir` needs (its main .so's NEEDED plus its version.txt), located."""
    needs = required_sonames(getattr(version, "cuda_version", None),
                             getattr(version, "cudnn_version", None),
                             getattr(version, "tensorrt_version", None), support)
    result = RuntimeCheck(library=str(lib_dir))
    elf = None
    if main_lib is not None:
        try:
            elf = read_elf_dynamic(main_lib)
        except LabError as exc:
            result.error = exc.message
    result.needs = find_needs(merge_needed(needs, elf, main_lib.name if main_lib else "?"),
                              present)
    return result


def collect_runtime(report, cuda_roots: list[Path], ldconfig: dict[str, list[str]],
                    support: dict, env: dict[str, str] | None = None,
                    site_dirs: list[str] | None = None) -> None:
    """Record every CUDA-family soname on the host (report.runtime_libs) and, for a GPU
    library, report.library["runtime"] plus one finding per soname it needs."""
    from ..library.installed import inspect_library
    from .report import FOUND, NOT_FOUND, Finding

    lib = report.library or {}
    lib_dir = Path(lib["path"]) if lib.get("path") else None
    dirs = host_runtime_dirs(env, site_dirs, cuda_roots, lib_dir)
    present = scan_runtime_dirs(dirs, ldconfig)
    report.findings.append(Finding(
        "cuda", "runtime sonames", FOUND if present else NOT_FOUND, f"{len(present)} file(s)",
        source=", ".join(sorted({kind for _path, kind in present.values()})) or
        "LD_LIBRARY_PATH, TENSORRT_ROOT, CUDA toolkits, pip nvidia-* wheels, ldconfig -p",
        details={"sonames": {name: path for name, (path, _kind) in present.items()}}))
    info = lib.get("version") or {}
    if lib_dir is None or not (info.get("with_gpu") or info.get("cuda_version")):
        return
    found = inspect_library(lib_dir)
    check = check_library(lib_dir, found.main_lib, found.version, support, present)
    lib["runtime"] = check.to_dict()
    for need in check.needs:
        report.findings.append(Finding(
            "library", f"needs {need.soname}", FOUND if need.path else NOT_FOUND,
            need.component, source=need.path or "LD_LIBRARY_PATH, the library, TENSORRT_ROOT, "
                                                "CUDA toolkits, pip nvidia-* wheels, ldconfig -p",
            details={"why": need.why, "where": need.where}))
