"""The source-build plan: a pure function from a request and the recipe facts to steps.

`plan_build(request, facts)` decides the git steps, the cmake -D flags of the
request's Paddle era, the make steps and where the result lands; nothing here
touches the disk or runs a command. `render_script(plan)` prints the plan as a
bash script that can be pasted (what `invoke build-lib --dry-run` shows).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LabError
from ..results import JsonResult
from ..shellscript import ShellScript
from .facts import BuildFacts, Era

STEP_KINDS = ("run", "remove", "publish")
# TENSORRT_ROOT of a GPU plan made without a TensorRT root (so `--dry-run` can still
# show the plan next to its failed preflight); the script reads it from the
# environment and stops with a message when it is unset. `invoke build-lib` never
# runs such a plan: its preflight fails first.
TRT_UNSET = "${TENSORRT_ROOT}"
# Guards the executor evaluates before a step (the script renders them as shell tests).
GUARDS = ("checkout_exists", "has_commit", "configured")


@dataclass
class BuildRequest(JsonResult):
    """What the user asked for, with every default already resolved (see request.py)."""

    ref: str
    era: str
    src_dir: Path
    build_dir: Path
    install_dir: Path
    log_file: Path
    paddle_version: str | None = None
    era_source: str = "tag"             # "tag" | "--era" | "git describe"
    repo_url: str = "https://github.com/PaddlePaddle/Paddle.git"
    src_given: bool = False             # --src: the user's checkout; never cloned
    gpu: bool = True
    trt_root: Path | None = None
    cuda_root: Path | None = None
    cuda_arch: str = "auto"             # "auto", an arch name, or "75 80 90"
    math: str = "mkl"                   # "mkl" | "openblas"
    python: bool = False
    python_version: str | None = None
    jobs: int = 1
    cmake_args: list[str] = field(default_factory=list)
    clean: bool = False
    row_id: str = ""
    ccache: Path | None = None          # the ccache found on PATH, if any


@dataclass
class Step(JsonResult):
    name: str
    argv: list[str]
    cwd: Path | None = None
    kind: str = "run"                   # run | remove | publish
    skip_if: str | None = None          # one of GUARDS
    progress: bool = False              # make: follow `[ NN%]`
    timeout_s: float = 3600
    why: str = ""


@dataclass
class BuildPlan(JsonResult):
    request: BuildRequest
    era: str
    era_label: str
    family: str
    cmake_defines: dict[str, str]
    cmake_args: list[str]
    steps: list[Step]
    stage_dir: Path                     # where Paddle's inference_lib_dist installs
    install_dir: Path                   # where the validated library lands
    log_file: Path
    row_id: str
    notes: list[str] = field(default_factory=list)


_DEFINE = re.compile(r"^-D([A-Za-z_][A-Za-z0-9_]*)(:[A-Za-z]+)?=(.*)$", re.S)


def parse_cuda_arch(value: str, era: Era) -> tuple[str, str | None]:
    """--cuda-arch -> (CUDA_ARCH_NAME, CUDA_ARCH_BIN or None)."""
    text = (value or "auto").strip()
    names = {n.lower(): n for n in era.cuda_arch_names}
    if text.lower() in names:
        name = names[text.lower()]
        if name == "Manual":
            raise LabError("--cuda-arch Manual needs the SM list itself",
                           hint="pass the list: --cuda-arch 75,80,90")
        return name, None
    items = [p for p in re.split(r"[,\s;]+", text) if p]
    sms = []
    for item in items:
        m = re.fullmatch(r"(?:sm_?|compute_)?(\d{2,3})(\(\d{2,3}\))?", item, re.I)
        if not m:
            raise LabError(f"--cuda-arch {value!r}: {item!r} is not an SM number or arch name",
                           hint="use auto, a name (" + ", ".join(era.cuda_arch_names)
                                + ") or SM numbers: --cuda-arch 75,80,90")
        sms.append(m.group(1) + (m.group(2) or ""))
    return "Manual", " ".join(sms)


def arch_numbers(cuda_arch_bin: str | None) -> list[int]:
    return [int(re.match(r"\d+", a).group()) for a in (cuda_arch_bin or "").split()]


def _cmake_defines(request: BuildRequest, facts: BuildFacts, era: Era, stage: Path
                   ) -> dict[str, str]:
    d: dict[str, str] = dict(facts.default_cmake)
    d["WITH_GPU"] = "ON" if request.gpu else "OFF"
    if era.tensorrt_switch:
        d[era.tensorrt_switch] = "ON" if request.gpu else "OFF"
    if request.gpu:
        d["TENSORRT_ROOT"] = str(request.trt_root) if request.trt_root else TRT_UNSET
        if request.cuda_root is not None:
            d["CUDA_TOOLKIT_ROOT_DIR"] = str(request.cuda_root)
        name, sms = parse_cuda_arch(request.cuda_arch, era)
        d["CUDA_ARCH_NAME"] = name
        if sms:
            d["CUDA_ARCH_BIN"] = sms
    d["WITH_MKL"] = "ON" if request.math == "mkl" else "OFF"
    d[era.onednn_flag] = "ON" if request.math == "mkl" else "OFF"
    d["WITH_PYTHON"] = "ON" if request.python else "OFF"
    if request.python and request.python_version:
        d["PY_VERSION"] = request.python_version
    if era.ccache == "launcher" and request.ccache is not None:
        for lang in ("C", "CXX") + (("CUDA",) if request.gpu else ()):
            d[f"CMAKE_{lang}_COMPILER_LAUNCHER"] = str(request.ccache)
    d[era.install_dir_var] = str(stage)
    return d


def _merge_user_args(defines: dict[str, str], user_args: list[str]) -> tuple[list[str], list[str]]:
    """User --cmake-arg values override planned -D values of the same name."""
    extra, notes = [], []
    for raw in user_args:
        arg = raw if raw.startswith("-") else f"-D{raw}"
        if arg.startswith("-G"):
            raise LabError(f"--cmake-arg {raw!r}: build-lib drives make, another generator "
                           "is not supported", hint="drop the -G argument")
        m = _DEFINE.match(arg)
        if m and m.group(1) in defines:
            if defines[m.group(1)] != m.group(3):
                notes.append(f"--cmake-arg sets {m.group(1)}={m.group(3)} "
                             f"(plan had {defines[m.group(1)]})")
            defines[m.group(1)] = m.group(3)
        elif m:
            defines[m.group(1)] = m.group(3)
        else:
            extra.append(arg)
    return extra, notes


def plan_build(request: BuildRequest, facts: BuildFacts) -> BuildPlan:
    """Steps, cmake flags and result location for building `request.ref`."""
    era = facts.era(request.era)
    if request.math not in ("mkl", "openblas"):
        raise LabError(f"unknown math library {request.math!r}", hint="use --mkl or --openblas")
    if request.jobs < 1:
        raise LabError(f"--jobs {request.jobs}: needs at least 1", hint="pass --jobs 1 or more")
    src, build = request.src_dir, request.build_dir
    stage = build / era.install_dir_name
    defines = _cmake_defines(request, facts, era, stage)
    extra, notes = _merge_user_args(defines, request.cmake_args)
    cmake_args = [f"-D{k}={v}" for k, v in defines.items()] + extra
    t = facts.defaults
    git_t = float(t.get("timeout_git_s", 3600))

    steps: list[Step] = []
    if not request.src_given:
        steps.append(Step("clone", ["git", "clone", request.repo_url, str(src)],
                          skip_if="checkout_exists", timeout_s=git_t,
                          why="clone the Paddle sources (skipped when the checkout exists)"))
    steps.append(Step("fetch", ["git", "-C", str(src), "fetch", "--tags", "origin"],
                      skip_if="has_commit", timeout_s=git_t,
                      why="fetch only when the ref is not in the checkout yet"))
    steps.append(Step("checkout", ["git", "-C", str(src), "-c", "advice.detachedHead=false",
                                   "checkout", request.ref], timeout_s=git_t,
                      why=f"check out {request.ref}"))
    if era.submodules:
        steps.append(Step("submodules", ["git", "-C", str(src), "submodule", "update", "--init",
                                         "--recursive"], timeout_s=git_t,
                          why="third-party sources pinned as git submodules"))
    if request.clean:
        steps.append(Step("clean", ["rm", "-rf", "--", str(build)], kind="remove",
                          why="--clean: start the build dir from scratch"))
    steps.append(Step("configure", ["cmake", str(src), *cmake_args], cwd=build,
                      skip_if="configured", timeout_s=float(t.get("timeout_configure_s", 3600)),
                      why="configure (skipped when the build dir was configured with these flags)"))
    make_t = float(t.get("timeout_make_s", 43200))
    steps.append(Step("build", ["make", f"-j{request.jobs}"], cwd=build, progress=True,
                      timeout_s=make_t, why="compile (resumes where the last run stopped)"))
    steps.append(Step("install", ["make", f"-j{request.jobs}", "inference_lib_dist"], cwd=build,
                      progress=True, timeout_s=make_t,
                      why=f"install the library into {era.install_dir_var}"))
    steps.append(Step("publish", ["cp", "-a", str(stage), str(request.install_dir)],
                      kind="publish", why="copy the installed tree to its final place "
                                          "(temporary name, then rename), validate, register"))
    if era.ccache == "auto" and request.ccache is not None:
        notes.append(f"ccache: Paddle's cmake/ccache.cmake uses {request.ccache} by itself")
    return BuildPlan(request=request, era=era.name, era_label=era.label, family=era.family,
                     cmake_defines=defines, cmake_args=cmake_args, steps=steps, stage_dir=stage,
                     install_dir=request.install_dir, log_file=request.log_file,
                     row_id=request.row_id, notes=notes)


# ---- rendering ---------------------------------------------------------------------------

def _shell_vars(plan: BuildPlan) -> list[tuple[str, str]]:
    r = plan.request
    names = [("SRC", str(r.src_dir)), ("BUILD", str(r.build_dir)),
             ("STAGE", str(plan.stage_dir)), ("DEST", str(plan.install_dir))]
    if r.gpu and r.trt_root is None:
        names.append(("TRT", TRT_UNSET))
    return names


_TRT_FROM_ENV = ('"${TENSORRT_ROOT:?no TensorRT root: set TENSORRT_ROOT to the unpacked '
                 'TensorRT tar (or pass --trt-root to invoke build-lib)}"')


def render_script(plan: BuildPlan, header_lines: list[str] | None = None) -> str:
    """The plan as a bash script a user can paste and run."""
    r = plan.request
    sh = ShellScript("build-lib --dry-run",
                     f"build Paddle Inference {r.ref} ({plan.era_label}, "
                     f"{'GPU + TensorRT' if r.gpu else 'CPU'}) from source")
    sh.note(f"Era from {r.era_source}" + (f": Paddle {r.paddle_version}" if r.paddle_version
                                          else f": {plan.era}"))
    sh.note("`invoke build-lib` runs the same steps, logs to the file below,\n"
            "validates the result and registers it.")
    sh.note(f"log: {r.log_file}")
    for line in header_lines or []:
        sh.note(line)
    for n in plan.notes:
        sh.note(f"note: {n}")
    sh.blank()
    for name, value in _shell_vars(plan):
        sh.variable(name, value, _TRT_FROM_ENV if value == TRT_UNSET else None)
    sh.blank()
    cwd = None
    for step in plan.steps:
        sh.comment(f"{step.name}: {step.why}")
        if step.kind == "remove":
            sh.run(step.argv)
            continue
        if step.kind == "publish":
            sh.extend(['rm -rf -- "$DEST.partial"', 'mkdir -p -- "$(dirname -- "$DEST")"',
                       'cp -a -- "$STAGE" "$DEST.partial"',
                       'test -f "$DEST.partial/version.txt"',
                       'rm -rf -- "$DEST"', 'mv -- "$DEST.partial" "$DEST"',
                       'echo "Paddle Inference library: $DEST"'])
            continue
        if step.cwd is not None and step.cwd != cwd:
            sh.cd(str(step.cwd), create=True)
            cwd = step.cwd
        if step.skip_if == "checkout_exists":
            sh.run(step.argv, guard='[ -d "$SRC/.git" ]')
        elif step.skip_if == "has_commit":
            ref = shlex.quote(r.ref + "^{commit}")
            sh.run(step.argv, guard=f'git -C "$SRC" rev-parse -q --verify {ref} >/dev/null')
        else:
            sh.run(step.argv, wrap=step.name == "configure")
    return sh.render()
