"""invoke build-lib: build the Paddle Inference library (with TensorRT) from source."""

from __future__ import annotations

from .. import flags
from ..cli import emit, lab_task

HELP = {
    "ref": "the Paddle git ref to build: a release tag (v1.8.5, v2.6.2, v3.0.0), a release "
           "branch (release/2.6) or a commit (then --era, or --src with a checkout to "
           "`git describe`)",
    "src": "build this existing Paddle checkout instead of cloning (it is checked out at --ref)",
    "repo": "clone from this URL (default lab.build.repo_url, the PaddlePaddle GitHub repo)",
    "era": "1.8 | 2.x | 3.x: the Paddle era of a commit --ref (tags name it themselves)",
    "gpu": "a GPU build with TensorRT (the default)",
    "cpu": "a CPU-only build (WITH_GPU=OFF, no TensorRT)",
    "cuda_arch": "auto (CUDA_ARCH_NAME=Auto, this machine's GPUs), an arch name (Turing, "
                 "Ampere, ...) or SM numbers 75,80,90 (CUDA_ARCH_NAME=Manual + CUDA_ARCH_BIN)",
    "mkl": "MKL + oneDNN math (the default; WITH_MKL=ON, WITH_MKLDNN/WITH_ONEDNN=ON)",
    "openblas": "openBLAS math without oneDNN (WITH_MKL=OFF)",
    "python": "also build the Python package (WITH_PYTHON=ON, PY_VERSION of this Python)",
    "no_python": "the C++ inference library only (WITH_PYTHON=OFF; the default)",
    "jobs": "parallel compile jobs (default: min(cores, memory GB // 3))",
    "build_dir": "cmake build dir (default <work_dir>/build-lib/<ref>-<gpu|cpu>/build)",
    "install_dir": "where the validated library lands (default <lib_dir>/build-<ref>-<gpu|cpu>)",
    "cmake_arg": "extra cmake argument, repeatable; overrides a planned -D of the same name "
                 "(write --cmake-arg=-DWITH_ONNXRUNTIME=ON or --cmake-arg WITH_ONNXRUNTIME=ON)",
    "clean": "wipe the build dir first (default: resume the previous build)",
    **flags.help_for("trt_root", "cuda_root", "json_",
                     dry_run=" (the plan with every preflight result); exits non-zero when a "
                             "preflight check failed (usable as a CI check)"),
}


@lab_task(help=HELP, iterable=["cmake_arg"], numbers={"jobs": flags.JOBS},
          auto_shortflags=False)
def build_lib(c, ref=None, src=None, repo=None, era=None, gpu=False, cpu=False, trt_root=None,
              cuda_root=None, cuda_arch="auto", mkl=False, openblas=False, python=False,
              no_python=False, jobs=None, build_dir=None, install_dir=None, cmake_arg=None,
              clean=False, dry_run=False, json_=False):
    """Build Paddle Inference with TensorRT from source: plan, preflight, build, register.

    For when no prebuilt library fits (another TensorRT minor, a newer CUDA, a patch).
    Plans the git steps, the cmake flags of the ref's Paddle era (WITH_MKLDNN vs
    WITH_ONEDNN, FLUID_ vs PADDLE_INFERENCE_INSTALL_DIR, ...) and the make steps;
    checks TensorRT/CUDA/cuDNN/gcc/disk/jobs before the first hour is spent (every
    failed check at once, with its fix); then runs the build with a progress bar,
    logging to <work_dir>/build-lib/<ref>-<variant>/build-lib.log. Re-running resumes
    (no re-clone, no reconfigure with the same flags); --clean starts over. The
    result is validated and registered like a fetched library, so build-demo uses it.
    --dry-run prints the plan with every preflight result (also with a check failed,
    e.g. no TensorRT root yet) and exits non-zero when a check failed.

    Examples:
      invoke build-lib --ref v2.6.2 --trt-root /opt/TensorRT-8.6.1.6 --dry-run
      invoke build-lib --ref v3.0.0 --trt-root /opt/TensorRT-10.5.0.18 --cuda-arch 80,90
      invoke build-lib --ref v1.8.5 --cpu --jobs 4
      invoke build-lib --ref 0a1b2c3 --era 3.x --src ~/Paddle --trt-root /opt/trt
    See docs/build-lib.md.
    """
    from ..settings import LabSettings
    from ..build_lib.facts import load_build_facts
    from ..build_lib.plan import plan_build, render_script
    from ..build_lib.preflight import preflight_error, preflight_summary, run_preflight
    from ..build_lib.request import parse_request

    settings = LabSettings.from_context(c)
    facts = load_build_facts()
    request = parse_request(dict(
        ref=ref, src=src, repo=repo, era=era, gpu=gpu, cpu=cpu, trt_root=trt_root,
        cuda_root=cuda_root, cuda_arch=cuda_arch, mkl=mkl, openblas=openblas, python=python,
        no_python=no_python, jobs=jobs, build_dir=build_dir, install_dir=install_dir,
        cmake_arg=cmake_arg, clean=clean), settings, facts)
    plan = plan_build(request, facts)
    report = run_preflight(plan, facts, settings.build)

    if dry_run:
        script = render_script(plan, header_lines=preflight_summary(report))
        if json_:
            import json
            import sys

            sys.stdout.write(json.dumps({"plan": plan.to_dict(), "preflight": report.to_dict(),
                                         "script": script}, indent=2) + "\n")
        else:
            import sys

            sys.stdout.write(script)
        sys.stdout.flush()
        if not report.ok:
            raise preflight_error(report, dry_run=True)
        return

    from ..cli import console

    if not json_:
        _render_preflight(console(), report)
    if not report.ok:
        raise preflight_error(report)

    from ..build_lib.executor import execute_plan
    from .progress import progress_for

    result = execute_plan(plan, settings, facts, trt_version=report.versions.get("tensorrt"),
                          progress=progress_for(not json_, transient=False),
                          preflight=report.to_dict())
    emit(result, json_, _render_result)


def _render_preflight(con, report) -> None:
    from rich.table import Table

    table = Table(title="build-lib preflight", show_lines=False)
    table.add_column("check")
    table.add_column("status")
    table.add_column("found")
    table.add_column("fix")
    style = {"ok": "green", "warn": "yellow", "fail": "bold red"}
    for c in report.checks:
        table.add_row(c.name, f"[{style[c.status]}]{c.status}[/]", c.detail,
                      c.fix if c.status != "ok" and c.fix else "")
    con.print(table)


def _render_result(con, result) -> None:
    from rich.table import Table

    table = Table(title=f"build-lib {result.ref} ({result.era})")
    table.add_column("step")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    for s in result.steps:
        table.add_row(s.name, s.status if s.status == "ran" else f"[dim]skipped: {s.reason}[/]",
                      f"{s.seconds:.1f}" if s.status == "ran" else "")
    con.print(table)
    con.print(f"library  {result.library}  (registered as {result.row_id}, source=build)")
    con.print(f"commit   {result.commit or '?'}")
    con.print(f"log      {result.log_file}")
    con.print("next     invoke build-demo")
