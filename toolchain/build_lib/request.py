"""Turn `invoke build-lib` flags plus lab settings into a BuildRequest (the edge before the plan).

This is where the environment is read: TENSORRT_ROOT / CUDA_HOME, the core count
and memory for the default --jobs, and `git describe` for the era of a commit.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ..errors import LabError
from ..settings import LabSettings
from .facts import BuildFacts, version_from_ref
from .plan import BuildRequest

def host_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def host_memory_gb() -> float | None:
    from ..doctor.parsers import parse_meminfo_total_mib

    try:
        mib = parse_meminfo_total_mib(Path("/proc/meminfo").read_text())
    except OSError:
        return None
    return mib / 1024 if mib else None


def default_jobs(cores: int, memory_gb: float | None, gb_per_job: float) -> int:
    """min(cores, memory // GB-per-job), at least 1."""
    by_memory = int(memory_gb // gb_per_job) if memory_gb else cores
    return max(1, min(cores, by_memory))


def describe_version(checkout: Path, ref: str, timeout: float = 30) -> str | None:
    """The release a commit belongs to: the newest v-tag reachable from it (`git describe`),
    the same way Paddle's cmake/version.cmake finds PADDLE_VERSION."""
    if not (checkout / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(checkout), "describe", "--tags", "--abbrev=0",
                              "--match", "v[0-9]*", ref], capture_output=True, text=True,
                             timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return version_from_ref(out.stdout.strip()) if out.returncode == 0 else None


def _which(tool: str, env: dict) -> Path | None:
    import shutil

    found = shutil.which(tool, path=env.get("PATH", os.defpath))
    return Path(found) if found else None


def _slug(ref: str) -> str:
    if re.fullmatch(r"[0-9a-f]{13,40}", ref):
        ref = ref[:12]                  # a commit: its short form names the dirs
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ref).strip("-") or "ref"


def _abs(path: str | Path) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(str(path)))).absolute()


def parse_request(flags: dict, settings: LabSettings, facts: BuildFacts) -> BuildRequest:
    """build-lib's flags (None = not given) -> the BuildRequest; flags that exclude each
    other are refused here, not in the task."""
    f = {k: v for k, v in flags.items()}
    for a, b in (("gpu", "cpu"), ("mkl", "openblas"), ("python", "no_python")):
        if f.get(a) and f.get(b):
            raise LabError(f"--{a.replace('_', '-')} and --{b.replace('_', '-')} both given",
                           hint="pick one")
    if f.get("src") and f.get("repo"):
        raise LabError("--src and --repo both given",
                       hint="--src builds an existing checkout; --repo says where to clone from")
    return resolve_request(
        settings, facts, ref=f.get("ref") or "", src=f.get("src") or "",
        repo=f.get("repo") or "", gpu=not f.get("cpu"), trt_root=f.get("trt_root") or "",
        cuda_root=f.get("cuda_root") or "", cuda_arch=f.get("cuda_arch") or "auto",
        math="openblas" if f.get("openblas") else "mkl", python=bool(f.get("python")),
        jobs=f.get("jobs") or 0, build_dir=f.get("build_dir") or "",
        install_dir=f.get("install_dir") or "", cmake_args=list(f.get("cmake_arg") or []),
        clean=bool(f.get("clean")), era=f.get("era") or "")


def resolve_request(settings: LabSettings, facts: BuildFacts, *, ref: str, src: str = "",
                    repo: str = "", gpu: bool = True, trt_root: str = "", cuda_root: str = "",
                    cuda_arch: str = "auto", math: str = "mkl", python: bool = False,
                    jobs: int = 0, build_dir: str = "", install_dir: str = "",
                    cmake_args: list[str] | None = None, clean: bool = False, era: str = "",
                    env: dict | None = None) -> BuildRequest:
    env = dict(os.environ if env is None else env)
    ref = (ref or "").strip()
    if not ref:
        raise LabError("build-lib needs the Paddle ref to build",
                       hint="pass --ref with a tag (v2.6.2, v3.0.0) or a commit (with --era)")
    bs = settings.build
    variant = ("gpu" if gpu else "cpu") + ("-openblas" if math == "openblas" else "")
    slug = f"{_slug(ref)}-{variant}"
    base = settings.work_dir / "build-lib" / slug
    src_dir = _abs(src) if src else base / "src"
    if src and not src_dir.is_dir():
        raise LabError(f"--src {src}: no such directory", where=str(src_dir),
                       hint="point --src at a Paddle git checkout, or leave it out to clone")

    version = version_from_ref(ref)
    source = "tag"
    if version is None:
        described = describe_version(src_dir, ref)
        if described and not era:
            version, source = described, "git describe"
        elif era:
            source = "--era"
        else:
            raise LabError(
                f"cannot tell which Paddle release {ref!r} belongs to",
                hint="pass a release tag (--ref v2.6.2) or the era with --era 1.8|2.x|3.x; for "
                     "a commit in an existing checkout (--src) build-lib reads it with "
                     "`git describe --tags`")
    era_name = era or facts.era_for_version(version).name
    facts.era(era_name)
    if era and version and not facts.era(era).covers(version):
        raise LabError(f"--era {era} does not match {ref} (Paddle {version}, era "
                       f"{facts.era_for_version(version).name})",
                       hint="leave --era out for tags; it is only needed for commits")

    trt = cuda = None
    if gpu:
        trt_text = trt_root or settings.trt_root or env.get("TENSORRT_ROOT", "")
        trt = _abs(trt_text) if trt_text else None
        cuda_text = (cuda_root or settings.cuda_root or env.get("CUDA_HOME", "")
                     or env.get("CUDA_PATH", ""))
        cuda = _abs(cuda_text) if cuda_text else None

    if jobs <= 0:
        jobs = default_jobs(host_cores(), host_memory_gb(), bs.memory_gb_per_job)
    return BuildRequest(
        ref=ref, era=era_name, paddle_version=version, era_source=source,
        repo_url=repo or bs.repo_url, src_dir=src_dir, src_given=bool(src),
        build_dir=_abs(build_dir) if build_dir else base / "build",
        install_dir=_abs(install_dir) if install_dir else settings.lib_dir / f"build-{slug}",
        log_file=base / "build-lib.log", gpu=gpu, trt_root=trt, cuda_root=cuda,
        cuda_arch=cuda_arch or "auto", math=math, python=python,
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}" if python else None,
        jobs=jobs, cmake_args=list(cmake_args or []), clean=clean, row_id=f"build-{slug}",
        ccache=_which("ccache", env))
