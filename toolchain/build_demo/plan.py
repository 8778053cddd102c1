"""The demo build as a plan: which library, which cmake flags, which folder.

Pure: an inspected library + the request in, a DemoBuildPlan out. `--dry-run`
prints `plan.script()`; run.py executes it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ..results import JsonResult

# demo/ beside the toolchain package (the checkout's root).
DEMO_SOURCE = Path(__file__).resolve().parents[2] / "demo"
PROGRAMS = ("trt_clas", "test_acc")


@dataclass
class DemoBuildRequest:
    lib: Path                         # the library root (validated)
    gpu: bool | None = None           # None: from the library's version.txt
    trt_root: str | None = None
    cuda_root: str | None = None
    build_dir: Path | None = None
    clean: bool = False
    generator: str | None = None      # None: Ninja if present, else Unix Makefiles
    jobs: int | None = None


@dataclass
class DemoBuildPlan(JsonResult):
    source_dir: Path
    build_dir: Path
    lib: Path
    paddle_api: str                   # "2.x" | "1.x"
    gpu: bool
    with_tensorrt: bool
    generator: str
    cmake_args: list[str]             # the -D... arguments
    configure: list[str]              # argv
    build: list[str]                  # argv
    clean: bool = False
    binaries: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def script(self) -> str:
        """The plan as a shell script one can paste (what `--dry-run` prints)."""
        from ..shellscript import ShellScript

        sh = ShellScript("build-demo --dry-run", "the demo build as shell commands")
        for n in self.notes:
            sh.note(f"note: {n}")
        if self.clean:
            sh.run(["rm", "-rf", str(self.build_dir)])
        sh.run(self.configure).run(self.build)
        for name, path in self.binaries.items():
            sh.run(["ldd", str(path)], note=f"{name}: every library must resolve")
        return sh.render()


def header_api(include_dir: Path) -> str:
    """"2.x" when paddle_inference_api.h has the paddle_infer namespace, else "1.x"
    (the same rule as demo/cmake/PaddleInference.cmake)."""
    try:
        text = (Path(include_dir) / "paddle_inference_api.h").read_text(errors="replace")
    except OSError:
        return "2.x"
    return "2.x" if "namespace paddle_infer" in text else "1.x"


def build_dir_for(work_dir: Path, lib: Path, cmake_args: list[str], generator: str) -> Path:
    """<work_dir>/demo/build-<hash>: one folder per library + configuration."""
    key = "\0".join([str(lib), generator, *cmake_args])
    return Path(work_dir) / "demo" / f"build-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def plan_demo_build(work_dir: Path, req: DemoBuildRequest, lib_with_gpu: bool | None,
                    lib_with_tensorrt: bool | None, ninja_available: bool,
                    env_trt_root: str | None = None, include_dir: Path | None = None,
                    source_dir: Path = DEMO_SOURCE) -> DemoBuildPlan:
    """Decide the cmake configure/build commands for one demo build."""
    lib = Path(req.lib).resolve()
    notes: list[str] = []
    gpu = req.gpu if req.gpu is not None else bool(lib_with_gpu)
    if req.gpu is None:
        notes.append(f"{'GPU' if gpu else 'CPU'} build: version.txt says WITH_GPU: "
                     f"{'ON' if lib_with_gpu else 'OFF' if lib_with_gpu is False else '(absent)'}")
    trt_root = req.trt_root or env_trt_root or None
    with_trt = gpu and bool(trt_root or lib_with_tensorrt)
    if gpu and not with_trt:
        notes.append("no TensorRT: the library's version.txt has no WITH_TENSORRT and no "
                     "--trt-root was given; --device gpu runs without TensorRT only")
    generator = req.generator or ("Ninja" if ninja_available else "Unix Makefiles")
    args = [f"-DPADDLE_LIB={lib}", "-DCMAKE_BUILD_TYPE=Release",
            f"-DWITH_GPU={'ON' if gpu else 'OFF'}", f"-DWITH_TENSORRT={'ON' if with_trt else 'OFF'}"]
    if with_trt and trt_root:
        args.append(f"-DTENSORRT_ROOT={Path(trt_root).expanduser()}")
    if gpu and req.cuda_root:
        args.append(f"-DCUDA_ROOT={Path(req.cuda_root).expanduser()}")
    build_dir = (Path(req.build_dir).expanduser().resolve() if req.build_dir
                 else build_dir_for(work_dir, lib, args, generator))
    configure = ["cmake", "-S", str(source_dir), "-B", str(build_dir), "-G", generator, *args]
    build = ["cmake", "--build", str(build_dir)]
    if req.jobs:
        build += ["--parallel", str(req.jobs)]
    api = header_api(include_dir or lib / "paddle" / "include")
    return DemoBuildPlan(source_dir=source_dir, build_dir=build_dir, lib=lib, paddle_api=api,
                         gpu=gpu, with_tensorrt=with_trt, generator=generator, cmake_args=args,
                         configure=configure, build=build, clean=req.clean,
                         binaries={p: build_dir / p for p in PROGRAMS}, notes=notes)
