"""Checks before a source build spends its first hour; all reported together.

Each check returns ok / warn / fail with what it found and, when not ok, the fix.
A failed check stops `invoke build-lib` before anything runs; warnings are shown
and the build goes on. The TensorRT root, CUDA, cuDNN and gcc are read from the
files and tools themselves (headers via toolchain.doctor.parsers).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

from .. import versions
from ..errors import LabError
from ..results import JsonResult
from ..settings import BuildSettings
from .facts import BuildFacts
from .plan import BuildPlan, arch_numbers, parse_cuda_arch

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass
class Check(JsonResult):
    name: str
    status: str
    detail: str
    fix: str | None = None


@dataclass
class PreflightReport(JsonResult):
    checks: list[Check] = field(default_factory=list)
    versions: dict[str, str | None] = field(default_factory=dict)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status == WARN]

    @property
    def ok(self) -> bool:
        return not self.failed

    def add(self, name: str, status: str, detail: str, fix: str | None = None) -> Check:
        check = Check(name, status, detail, fix)
        self.checks.append(check)
        return check


def _arch_dir() -> str:
    return f"{platform.machine()}-linux-gnu"


def _run(argv: list[str], env: dict, timeout: float = 20) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout or "") + (out.stderr or "") if out.returncode == 0 else None


# ---- TensorRT ------------------------------------------------------------------------------

@dataclass
class TensorRtRoot(JsonResult):
    root: Path
    header: Path | None = None          # NvInfer.h
    version_header: Path | None = None  # NvInferVersion.h (TRT >= 6) or NvInfer.h (<= 5)
    library: Path | None = None         # lib/libnvinfer.so
    version: str | None = None
    problems: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)


def inspect_tensorrt_root(root: Path) -> TensorRtRoot:
    """What cmake/tensorrt.cmake will look for under TENSORRT_ROOT."""
    from ..doctor.parsers import parse_trt_version_header

    found = TensorRtRoot(root=Path(root))
    if not found.root.is_dir():
        found.problems.append(f"{root} is not a directory")
        found.fixes.append("pass --trt-root with the folder the TensorRT tar unpacks to "
                           "(it holds include/ and lib/)")
        return found
    arch = _arch_dir()
    include_dirs = [found.root / "include", found.root / "include" / arch, found.root]
    for d in include_dirs:
        if (d / "NvInfer.h").is_file():
            found.header = d / "NvInfer.h"
            break
    if found.header is None:
        found.problems.append("missing include/NvInfer.h")
        found.fixes.append("use the TensorRT tar (or the libnvinfer-dev package), not the pip "
                           "wheel: the wheel ships no headers")
    else:
        for name in ("NvInferVersion.h", "NvInfer.h"):
            candidate = found.header.parent / name
            if candidate.is_file():
                version = parse_trt_version_header(candidate.read_text(errors="replace"))
                if version:
                    found.version_header, found.version = candidate, version
                    break
        if found.version is None:
            found.problems.append("no TensorRT version in include/NvInferVersion.h "
                                  "(TRT >= 6) or include/NvInfer.h (TRT <= 5)")
            found.fixes.append("the include/ folder is incomplete: unpack the whole TensorRT tar")
    lib_dirs = [found.root / "lib", found.root / "lib" / arch, found.root / "lib64"]
    for d in lib_dirs:
        if (d / "libnvinfer.so").exists():
            found.library = d / "libnvinfer.so"
            break
    if found.library is None:
        versioned = sorted(p for d in lib_dirs if d.is_dir() for p in d.glob("libnvinfer.so.*"))
        found.problems.append("missing lib/libnvinfer.so")
        if versioned:
            found.fixes.append(f"only {versioned[0].name} is there: add the unversioned link "
                               f"(ln -s {versioned[0].name} {versioned[0].parent}/libnvinfer.so); "
                               "Paddle links and loads the unversioned name")
        else:
            found.fixes.append("point --trt-root at a TensorRT with its lib/ folder "
                               "(lib/libnvinfer.so)")
    return found


def check_enterprise_macros(facts: BuildFacts, src_dir: Path, trt_version: str | None
                            ) -> Check | None:
    """TRT >= 10.11 headers need a cmake/tensorrt.cmake that knows TRT_*_ENTERPRISE."""
    rule = facts.enterprise
    if not (rule and trt_version and versions.in_range(trt_version, f">={rule['trt_from']}")):
        return None
    cmake_file = Path(src_dir) / rule["file"]
    fix = (f"use TensorRT below {rule['trt_from']}, or a Paddle ref whose {rule['file']} "
           f"reads {rule['marker']}")
    if not cmake_file.is_file():
        return Check("tensorrt.cmake", WARN,
                     f"TensorRT {trt_version} defines NV_TENSORRT_MAJOR as {rule['marker']}; "
                     f"older {rule['file']} cannot read it (checked again after checkout)", fix)
    if rule["marker"] in cmake_file.read_text(errors="replace"):
        return Check("tensorrt.cmake", OK, f"{rule['file']} reads {rule['marker']} "
                     f"(TensorRT {trt_version} headers)")
    return Check("tensorrt.cmake", FAIL,
                 f"TensorRT {trt_version} defines NV_TENSORRT_MAJOR as {rule['marker']}, and "
                 f"this checkout's {rule['file']} only reads numbers: configure would fail", fix)


# ---- CUDA / cuDNN --------------------------------------------------------------------------

def find_nvcc(cuda_root: Path | None, env: dict) -> Path | None:
    candidates = []
    if cuda_root:
        candidates.append(Path(cuda_root) / "bin" / "nvcc")
    for key in ("CUDA_HOME", "CUDA_PATH"):
        if env.get(key):
            candidates.append(Path(env[key]) / "bin" / "nvcc")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    found = shutil.which("nvcc", path=env.get("PATH", ""))
    return Path(found) if found else None


# Where cuDNN's headers land from packages (Debian/Ubuntu put cuDNN 9 under the arch dir).
SYSTEM_CUDNN_DIRS = ["/usr/include", "/usr/include/<arch>", "/usr/local/cuda/include"]


def find_cudnn_header(cuda_root: Path | None, env: dict) -> Path | None:
    dirs = []
    if env.get("CUDNN_ROOT"):
        dirs += [Path(env["CUDNN_ROOT"]) / "include", Path(env["CUDNN_ROOT"])]
    if cuda_root:
        dirs.append(Path(cuda_root) / "include")
    dirs += [Path(d.replace("<arch>", _arch_dir())) for d in SYSTEM_CUDNN_DIRS]
    for d in dirs:
        for pattern in ("cudnn_version.h", "cudnn_version_v*.h", "cudnn.h"):
            for header in sorted(d.glob(pattern)) if d.is_dir() else []:
                if "CUDNN_MAJOR" in header.read_text(errors="replace"):
                    return header
    return None


# ---- the checks ----------------------------------------------------------------------------

def _check_tools(report: PreflightReport, env: dict) -> None:
    for tool, fix in (("git", "apt-get install git"), ("cmake", "apt-get install cmake (or pip install cmake)"),
                      ("make", "apt-get install make")):
        path = shutil.which(tool, path=env.get("PATH", ""))
        if not path:
            report.add(tool, FAIL, f"{tool} not found on PATH", fix)
            continue
        from ..doctor.parsers import parse_first_version

        version = parse_first_version(_run([path, "--version"], env) or "")
        report.versions[tool] = version
        report.add(tool, OK, f"{path} ({version or 'version unknown'})")


def _check_gcc(report: PreflightReport, plan: BuildPlan, facts: BuildFacts, env: dict) -> None:
    from ..doctor.parsers import parse_gcc_version

    era = facts.era(plan.era)
    cxx = env.get("CXX") or "g++"
    path = shutil.which(cxx, path=env.get("PATH", ""))
    if not path:
        report.add("gcc", FAIL, f"C++ compiler {cxx!r} not found",
                   f"install gcc/g++ {' or '.join(era.gcc_known_good)} (apt-get install g++)")
        return
    version = parse_gcc_version(_run([path, "--version"], env) or "")
    report.versions["gcc"] = version
    known = ", ".join(era.gcc_known_good)
    if not version:
        report.add("gcc", WARN, f"{path}: cannot read its version", f"use gcc {known}")
    elif versions.parse(version) < Version(era.gcc_min):
        report.add("gcc", FAIL, f"{path} is gcc {version}; {era.label} needs gcc >= {era.gcc_min}",
                   f"install gcc {known} and run with CC=gcc-N CXX=g++-N")
    elif versions.parse(version).major > era.gcc_newest_major:
        report.add("gcc", WARN, f"{path} is gcc {version}; {era.label} was built with gcc {known} "
                   "(newer compilers add errors this release does not expect)",
                   f"if the build fails in the compiler, install gcc {known} and set CC/CXX")
    else:
        report.add("gcc", OK, f"{path} is gcc {version} ({era.label} was built with {known})")


def _check_gpu(report: PreflightReport, plan: BuildPlan, facts: BuildFacts, env: dict) -> None:
    r = plan.request
    trt = inspect_tensorrt_root(r.trt_root) if r.trt_root else None
    if trt is None:
        report.add("tensorrt", FAIL, "a GPU build needs TensorRT: no TensorRT root given "
                   "(--trt-root, lab.trt_root, $TENSORRT_ROOT)",
                   "pass --trt-root DIR (the unpacked TensorRT tar), set TENSORRT_ROOT, or "
                   "build for CPU with --cpu")
    elif trt.problems:
        report.add("tensorrt", FAIL, f"TENSORRT_ROOT {trt.root}: " + "; ".join(trt.problems),
                   "; ".join(trt.fixes))
    else:
        report.add("tensorrt", OK, f"TensorRT {trt.version} in {trt.root} "
                   f"({trt.version_header.name}, {trt.library.relative_to(trt.root)})")
    trt_version = trt.version if trt else None
    report.versions["tensorrt"] = trt_version

    nvcc = find_nvcc(r.cuda_root, env)
    cuda_version = None
    if nvcc is None:
        report.add("nvcc", FAIL, "nvcc not found (--cuda-root/bin, CUDA_HOME/bin, PATH)",
                   "install the CUDA toolkit and pass --cuda-root /usr/local/cuda-X.Y")
    else:
        from ..doctor.parsers import parse_nvcc_version

        cuda_version = parse_nvcc_version(_run([str(nvcc), "--version"], env) or "")
        if cuda_version:
            report.add("nvcc", OK, f"{nvcc}: CUDA {cuda_version}")
        else:
            report.add("nvcc", FAIL, f"{nvcc} --version did not say its CUDA release",
                       "check that nvcc runs: nvcc --version")
    report.versions["cuda"] = cuda_version
    cuda_root = r.cuda_root or (nvcc.resolve().parent.parent if nvcc else None)

    header = find_cudnn_header(cuda_root, env)
    cudnn_version = None
    if header is None:
        report.add("cudnn", FAIL, "no cuDNN header (cudnn_version.h / cudnn.h) under the CUDA "
                   "root, CUDNN_ROOT or /usr/include",
                   "install cuDNN for this CUDA (libcudnnN-dev) or unpack it into the CUDA root")
    else:
        from ..doctor.parsers import parse_cudnn_version_header

        cudnn_version = parse_cudnn_version_header(header.read_text(errors="replace"))
        report.add("cudnn", OK if cudnn_version else WARN,
                   f"cuDNN {cudnn_version or '(unreadable version)'} ({header})")
    report.versions["cudnn"] = cudnn_version

    _check_arch(report, plan, facts, cuda_version, env)
    _check_compat(report, plan, facts, trt_version, cuda_version, cudnn_version)
    ent = check_enterprise_macros(facts, r.src_dir, trt_version)
    if ent:
        report.checks.append(ent)


def _check_arch(report: PreflightReport, plan: BuildPlan, facts: BuildFacts,
                cuda_version: str | None, env: dict) -> None:
    name, sms = parse_cuda_arch(plan.request.cuda_arch, facts.era(plan.era))
    if name == "Auto":
        if shutil.which("nvidia-smi", path=env.get("PATH", "")):
            report.add("cuda-arch", OK, "CUDA_ARCH_NAME=Auto: compiled for this machine's GPUs")
        else:
            report.add("cuda-arch", WARN, "CUDA_ARCH_NAME=Auto compiles for the GPUs of the build "
                       "machine, and none is visible here (no nvidia-smi)",
                       "name the GPUs the library will run on: --cuda-arch 75,80,90")
        return
    if not sms:
        report.add("cuda-arch", OK, f"CUDA_ARCH_NAME={name}")
        return
    too_new = [str(sm) for sm in arch_numbers(sms)
               if cuda_version and str(sm) in facts.arch_min_cuda
               and versions.parse(versions.major_minor(cuda_version))
               < Version(facts.arch_min_cuda[str(sm)])]
    if too_new:
        report.add("cuda-arch", FAIL, f"CUDA {cuda_version} cannot compile sm_{', sm_'.join(too_new)}",
                   "drop them from --cuda-arch or use a newer CUDA toolkit")
    else:
        report.add("cuda-arch", OK, f"CUDA_ARCH_BIN={sms}")


def _check_compat(report: PreflightReport, plan: BuildPlan, facts: BuildFacts,
                  trt: str | None, cuda: str | None, cudnn: str | None) -> None:
    version = plan.request.paddle_version
    _, sms = parse_cuda_arch(plan.request.cuda_arch, facts.era(plan.era))
    archs = arch_numbers(sms)
    for rule in facts.rules:
        if rule.paddle and not (version and versions.in_range(version, rule.paddle)):
            continue
        if rule.trt and not versions.in_range(trt, rule.trt):
            continue
        if rule.cuda and not versions.in_range(cuda, rule.cuda):
            continue
        if rule.arch_below is not None and not any(a < rule.arch_below for a in archs):
            continue
        report.add("compat", FAIL if rule.level == "fail" else WARN,
                   f"TensorRT {trt}, CUDA {cuda}: {rule.why}", rule.fix)
    rows = facts.shipped_for(version)
    if not trt or not cuda:
        return
    series = versions.major_minor(version)
    if not rows:
        report.add("shipped", WARN, f"no shipped GPU build of Paddle {series or plan.era} is on "
                   "record to compare with", "see recipes/build_compat.toml")
        return
    listing = "; ".join(f"CUDA {x.cuda}/cuDNN {x.cudnn}/TRT {x.trt}" for x in rows)

    def same(a: str, b: str) -> bool:    # by the shorter one's precision
        pa, pb = a.split("."), b.split(".")
        n = min(len(pa), len(pb), 2)
        return pa[:n] == pb[:n]

    exact = [x for x in rows if same(x.trt, trt) and same(x.cuda, cuda)
             and (cudnn is None or x.cudnn.split(".")[0] == cudnn.split(".")[0])]
    if exact:
        report.add("shipped", OK, f"Paddle {series} shipped CUDA {exact[0].cuda}/cuDNN "
                   f"{exact[0].cudnn}/TRT {exact[0].trt}; this host has CUDA {cuda}, cuDNN "
                   f"{cudnn}, TRT {trt}")
    else:
        report.add("shipped", WARN, f"CUDA {cuda}/cuDNN {cudnn}/TRT {trt} is not a combination "
                   f"Paddle {series} shipped ({listing}); a source build may still work",
                   "prefer a shipped combination when the build breaks in TensorRT code")


def _check_host(report: PreflightReport, plan: BuildPlan, facts: BuildFacts, env: dict,
                build: BuildSettings, cores: int, memory_gb: float | None) -> None:
    r = plan.request
    # disk
    probe = r.build_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free_gb = shutil.disk_usage(probe).free / 1e9
    warn_gb, fail_gb = build.disk_warn_gb, build.disk_fail_gb
    if free_gb < fail_gb:
        report.add("disk", FAIL, f"{free_gb:.0f} GB free under {probe} (needs >= {fail_gb:.0f})",
                   "free space or put the build elsewhere with --build-dir")
    elif free_gb < warn_gb:
        report.add("disk", WARN, f"{free_gb:.0f} GB free under {probe}; a GPU build takes up "
                   f"to {warn_gb:.0f} GB", "free space or use --build-dir on a larger disk")
    else:
        report.add("disk", OK, f"{free_gb:.0f} GB free under {probe}")
    # jobs
    per_job = build.memory_gb_per_job
    affordable = int(memory_gb // per_job) if memory_gb else None
    detail = f"{r.jobs} jobs ({cores} cores, " + (f"{memory_gb:.0f} GB memory" if memory_gb
                                                  else "memory unknown") + f", ~{per_job:g} GB a job)"
    if affordable is not None and r.jobs > max(1, affordable):
        report.add("jobs", WARN, detail + f": more than memory allows ({max(1, affordable)})",
                   f"use --jobs {max(1, affordable)}; compilers killed for memory fail late")
    else:
        report.add("jobs", OK, detail)
    # ccache
    ccache = shutil.which("ccache", path=env.get("PATH", ""))
    era = facts.era(plan.era)
    if ccache:
        how = ("Paddle's cmake/ccache.cmake picks it up" if era.ccache == "auto"
               else "passed as the compiler launcher")
        report.add("ccache", OK, f"{ccache} ({how})")
    else:
        report.add("ccache", WARN, "ccache not found: rebuilds after --clean start from zero",
                   "apt-get install ccache (Paddle uses it from PATH by itself)")
    # python
    if (r.python and r.python_version
            and versions.parse(r.python_version) > Version(era.python_max)):
        report.add("python", WARN, f"WITH_PYTHON=ON with Python {r.python_version}; {era.label} "
                   f"supports up to {era.python_max}", "use --no-python for the C++ library only")
    # checkout / install dir
    if r.src_given and not (r.src_dir / ".git").exists():
        report.add("checkout", FAIL, f"--src {r.src_dir} is not a git checkout",
                   "point --src at a clone of Paddle, or leave it out to clone")
    elif not r.src_given and r.src_dir.exists() and any(r.src_dir.iterdir()) \
            and not (r.src_dir / ".git").exists():
        report.add("checkout", FAIL, f"{r.src_dir} exists but is not a git checkout",
                   "remove it, or pass --src with a real checkout")
    dest = plan.install_dir
    if dest.exists() and any(dest.iterdir()) and not (dest / "version.txt").exists():
        report.add("install-dir", FAIL, f"{dest} exists and is not a Paddle library; build-lib "
                   "replaces its install dir", "choose another --install-dir")


def run_preflight(plan: BuildPlan, facts: BuildFacts, build: BuildSettings, *, env: dict | None = None,
                  cores: int | None = None, memory_gb: float | None = None) -> PreflightReport:
    """Every check for `plan`; never raises for a failed check (see PreflightReport.ok)."""
    from .request import host_cores, host_memory_gb

    env = dict(os.environ if env is None else env)
    report = PreflightReport()
    _check_tools(report, env)
    _check_gcc(report, plan, facts, env)
    if plan.request.gpu:
        _check_gpu(report, plan, facts, env)
    _check_host(report, plan, facts, env, build, cores or host_cores(),
                memory_gb if memory_gb is not None else host_memory_gb())
    return report


def preflight_error(report: PreflightReport, dry_run: bool = False) -> LabError:
    """The one error for a preflight with failed checks: each with its fix.

    `invoke build-lib` raises it before running anything; `--dry-run` raises it after
    printing the plan, so a lab's CI can run the dry run as a check."""
    lines = [f"{c.name}: {c.detail}" + (f"\n      fix: {c.fix}" if c.fix else "")
             for c in report.failed]
    done = "the plan was printed, nothing was run" if dry_run else "nothing was run"
    return LabError(f"preflight failed ({len(lines)} of {len(report.checks)} checks); "
                    f"{done}:\n  - " + "\n  - ".join(lines),
                    hint="fix the checks above and run again"
                         + ("" if dry_run else " (--dry-run shows the plan)"))


def preflight_summary(report: PreflightReport) -> list[str]:
    """One line per check, for the dry-run script's header."""
    return [f"preflight {c.status.upper():4} {c.name}: {c.detail}" + (f" (fix: {c.fix})" if c.fix
                                                                      and c.status != OK else "")
            for c in report.checks]
