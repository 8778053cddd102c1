"""invoke build-demo: compile trt_clas and test_acc against a Paddle Inference library."""

from __future__ import annotations

from .. import flags
from ..cli import emit, lab_task

HELP = {
    "gpu": "GPU build: link the CUDA runtime (and TensorRT); default: from the library's "
           "version.txt",
    "cpu": "CPU build, even against a GPU library",
    "build_dir": "build here instead of <work_dir>/demo/build-<hash of library + flags>",
    "clean": "delete the build folder first",
    "jobs": "parallel compile jobs (default: the generator's)",
    **flags.help_for("lib", "trt_root", "cuda_root", "json_",
                     dry_run=" (the cmake commands)"),
}


@lab_task(help=HELP, numbers={"jobs": flags.JOBS}, auto_shortflags=False)
def build_demo(c, lib=None, gpu=False, cpu=False, trt_root=None, cuda_root=None, build_dir=None,
               clean=False, jobs=None, dry_run=False, json_=False):
    """Build the C++ demo (trt_clas, test_acc) against a Paddle Inference library.

    Validates the library (layout, version.txt), plans the cmake configure and
    build (Ninja when installed, Release, RPATH so the binaries run without
    LD_LIBRARY_PATH, the library's C++ ABI), runs it with a progress bar, then
    checks with ldd that every shared library each binary needs resolves and
    explains any that does not, with the fix. The result is recorded for
    `invoke run --runner cpp` in <work_dir>/demo/build.json.

    Examples:
      invoke build-demo
      invoke build-demo --lib ~/paddle_inference --cpu
      invoke build-demo --gpu --trt-root /opt/TensorRT-8.6.1.6 --cuda-root /usr/local/cuda-11.8
      invoke build-demo --dry-run
    See docs/demo.md.
    """
    from pathlib import Path

    from ..build_demo import DemoBuildRequest, build_demo as run_build, resolve_library
    from ..errors import LabError
    from ..settings import LabSettings
    from .progress import progress_for

    if gpu and cpu:
        raise LabError("--gpu and --cpu contradict each other", hint="give one of them")
    settings = LabSettings.from_context(c)
    req = DemoBuildRequest(lib=resolve_library(settings, lib),
                           gpu=True if gpu else False if cpu else None,
                           trt_root=trt_root, cuda_root=cuda_root,
                           build_dir=Path(build_dir) if build_dir else None, clean=clean,
                           jobs=jobs)
    result = run_build(settings, req, dry_run=dry_run, progress=progress_for(not json_))
    if dry_run and not json_:
        print(result.script, end="")
        return
    emit(result, json_, _render)
    if not result.ok:
        bad = sorted({u.name for c in result.checks for u in c.unresolved}
                     | {f"{c.binary.name}: {c.error}" for c in result.checks if c.error})
        raise LabError(f"the demo built, but not every library it needs resolves: {', '.join(bad)}",
                       where=str(result.build_dir),
                       hint="see the fixes above (or the checks in --json)")


def _render(con, result) -> None:
    from rich.table import Table

    for note in result.notes:
        con.print(f"  - {note}")
    t = Table(show_header=False, box=None)
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    t.add_row("library", f"{result.lib}  (Paddle {result.paddle_api} API)")
    t.add_row("build", f"{'GPU' if result.gpu else 'CPU'}"
              + (" + TensorRT" if result.with_tensorrt else "") + f", {result.build_dir}")
    t.add_row("took", f"{result.elapsed_s:.1f} s (log: {result.log_file})")
    con.print(t)
    for name, path in result.binaries.items():   # whole paths, never wrapped: copy-pasteable
        con.print(f"[bold]{name}[/] {path}", soft_wrap=True)
    checks = Table(title="shared libraries (ldd, without LD_LIBRARY_PATH)")
    checks.add_column("binary")
    checks.add_column("libraries")
    checks.add_column("unresolved", overflow="fold")
    for c in result.checks:
        bad = "\n".join(f"[red]{u.name}[/] ({u.problem}): {u.why}\n  fix: {u.fix}"
                        for u in c.unresolved) or (c.error or "[green]none[/]")
        checks.add_row(c.binary.name, str(len(c.libraries)), bad)
    con.print(checks)
    if result.ok:
        con.print(f"[green]demo ready:[/] recorded in {result.record_file}", soft_wrap=True)
