"""Does every shared library a demo binary needs resolve? `ldd`, read and explained.

`parse_ldd` is pure (ldd's text in, entries out); `explain` maps an unresolved
library to why it is missing and the fix; `check_binary` runs ldd (with
LD_LIBRARY_PATH removed, since the binaries must run without it).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..results import JsonResult

_ARROW = re.compile(r"^\s*(\S+)\s+=>\s+(.*?)\s*(\(0x[0-9a-f]+\))?\s*$")
_PLAIN = re.compile(r"^\s*(/\S+|linux-vdso\S*|linux-gate\S*)\s*(\(0x[0-9a-f]+\))?\s*$")
_VERSION = re.compile(r"(\S+): version `([^']+)' not found \(required by ([^)]+)\)")


@dataclass
class LddEntry(JsonResult):
    name: str
    path: str | None          # None: not found
    problem: str | None = None


def parse_ldd(text: str) -> list[LddEntry]:
    """ldd output -> entries (`name => path`, `name => not found`, version errors)."""
    out: list[LddEntry] = []
    for line in text.splitlines():
        m = _VERSION.search(line)
        if m:
            out.append(LddEntry(name=Path(m.group(1)).name, path=m.group(1),
                                problem=f"version {m.group(2)} not found (required by "
                                        f"{m.group(3)})"))
            continue
        m = _ARROW.match(line)
        if m:
            target = m.group(2).strip()
            if target == "not found":
                out.append(LddEntry(name=m.group(1), path=None, problem="not found"))
            else:
                out.append(LddEntry(name=m.group(1), path=target or None))
            continue
        m = _PLAIN.match(line)
        if m:
            out.append(LddEntry(name=Path(m.group(1)).name, path=m.group(1)))
    return out


# (pattern on the library name, why it is missing, how to fix it)
_EXPLANATIONS: list[tuple[str, str, str]] = [
    (r"^lib(paddle_inference|paddle_fluid|common|phi\w*)\.so",
     "a Paddle Inference library: the library folder moved or was removed since the demo was "
     "built (the binaries carry its absolute path in their RPATH)",
     "rebuild against the library where it is now: invoke build-demo --clean [--lib DIR]"),
    (r"^lib(dnnl|mkldnn)\.so",
     "oneDNN, shipped in the library's third_party/install/onednn (or mkldnn)/lib",
     "use a complete library (third_party/ included) and rebuild: invoke build-demo --clean"),
    (r"^lib(iomp5|mklml\w*)\.so",
     "Intel MKL/OpenMP, shipped in the library's third_party/install/mklml/lib",
     "use a complete library (third_party/ included) and rebuild: invoke build-demo --clean"),
    (r"^lib(onnxruntime|paddle2onnx|openvino\w*|tbb\w*|utf8proc|cryptopp|glog|gflags|"
     r"protobuf|xxhash)\b",
     "a third-party library the Paddle library was built with (third_party/install)",
     "use a complete library (third_party/ included) and rebuild: invoke build-demo --clean"),
    (r"^lib(cudart|cublas\w*|cusparse\w*|cufft\w*|curand\w*|cusolver\w*|nvrtc\w*|nvjitlink\w*)"
     r"\.so",
     "the CUDA toolkit's runtime libraries",
     "install the CUDA toolkit the library was built with (invoke doctor shows it) and rebuild "
     "with --cuda-root /usr/local/cuda-X.Y"),
    (r"^libcudnn\w*\.so", "cuDNN",
     "install the cuDNN version of the library's version.txt, or rebuild with -DCUDNN_ROOT=DIR"),
    (r"^libnv(infer|infer_plugin|onnxparser|parsers)\w*\.so", "TensorRT",
     "rebuild with --trt-root /path/to/TensorRT-X.Y (the version of the library's version.txt)"),
    (r"^lib(stdc\+\+|gcc_s)\.so",
     "the C++ runtime: the binary or the Paddle library needs a newer libstdc++ than this system "
     "has (built with a newer gcc)",
     "build on a system whose gcc is at least the library's (version.txt: CXX compiler version), "
     "or install a newer libstdc++"),
]


def explain(name: str) -> tuple[str, str]:
    """(why, fix) for an unresolved library name."""
    for pattern, why, fix in _EXPLANATIONS:
        if re.search(pattern, name):
            return why, fix
    return ("a shared library neither the demo's RPATH nor the system paths provide",
            "find the package that ships it; add its folder to the RPATH by rebuilding, or "
            "install it system-wide (ldconfig)")


@dataclass
class UnresolvedLibrary(JsonResult):
    name: str
    problem: str
    why: str
    fix: str


@dataclass
class BinaryCheck(JsonResult):
    binary: Path
    ok: bool
    libraries: list[LddEntry] = field(default_factory=list)
    unresolved: list[UnresolvedLibrary] = field(default_factory=list)
    error: str | None = None


def check_binary(path: Path, timeout: float = 60) -> BinaryCheck:
    """Run ldd on `path` without LD_LIBRARY_PATH and explain what does not resolve."""
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    try:
        proc = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env,
                              timeout=timeout)
    except FileNotFoundError:
        return BinaryCheck(binary=Path(path), ok=False, error="ldd is not installed")
    except subprocess.TimeoutExpired:
        return BinaryCheck(binary=Path(path), ok=False, error=f"ldd took over {timeout:.0f} s")
    entries = parse_ldd(proc.stdout + "\n" + proc.stderr)
    bad = []
    for e in entries:
        if e.problem:
            why, fix = explain(e.name)
            bad.append(UnresolvedLibrary(name=e.name, problem=e.problem, why=why, fix=fix))
    error = None
    if proc.returncode != 0 and not bad:
        error = (proc.stderr or proc.stdout).strip() or f"ldd exited {proc.returncode}"
    return BinaryCheck(binary=Path(path), ok=not bad and error is None, libraries=entries,
                       unresolved=bad, error=error)
