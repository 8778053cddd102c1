"""invoke fetch-lib: the right prebuilt Paddle Inference library, verified, cached, resumable."""

from __future__ import annotations

from .. import flags
from ..cli import emit, lab_task

HELP = {
    "paddle": "paddle version, full or prefix (3.0.0, 2.6); default: lab.paddle_version if it "
              "has a match, else the newest release that has one",
    "cuda": "CUDA version prefix (10.2, 11, 12.6); implies a GPU build",
    "cudnn": "cuDNN version prefix (8, 8.1, 8.1.1)",
    "trt": "tensorRT version prefix (7 matches 7.0.0.11 and 7.2.3.4)",
    "gcc": "gcc the library was built with, prefix (8.2, 11)",
    "cpu": "a CPU build (same as --device cpu)",
    "gpu": "an x86_64 GPU build (same as --device gpu)",
    "jetson": "an NVIDIA Jetson (aarch64) build (same as --device jetson)",
    "device": "cpu | gpu | jetson (alternative to --cpu/--gpu/--jetson); default: gpu when a "
              "CUDA/cuDNN/TensorRT version is given, else cpu",
    "math": "math library: mkl | openblas (default: MKL first)",
    "no_avx": "a build without AVX (default: AVX builds first)",
    "auto": "fill what is not given from `invoke doctor`: CUDA <= the driver's maximum, the "
            "installed cuDNN/TensorRT majors, gcc <= the installed one",
    "list_": "list the matching manifest rows (removed/contradicted ones marked) instead of "
            "fetching",
    **flags.help_for("json_"),
    "mirror": "replace scheme and host of the manifest URL (keeps the path), "
              "e.g. http://mirror.lab:8080; default lab.fetch.mirror",
    "archive": "install from this archive file instead of downloading (offline labs)",
    "locked": "fetch only what the lock file pins and has a checksum for; fail otherwise",
    **flags.help_for(dry_run=" (curl, sha256sum, tar, mv)"),
    "lib_dir": "install under this directory instead of lab.lib_dir",
    "include_removed": "allow rows the docs removed or contradict (never chosen otherwise)",
    "force": "download again (no cache, no resume) and re-extract even when installed; a "
             "digest the lock recorded (first use) is replaced by the new one, and the "
             "result says what changed",
    "plain": "--list: one row id per line, no table (the default when stdout is not a "
             "terminal, so grep works)",
    "from_wheel": "assemble the library from the installed paddlepaddle(-gpu) wheel instead "
                  "of downloading (its own engine, proven against Python paddle.inference; "
                  "with --gpu: a GPU wheel); for production use the official library",
}


@lab_task(help=HELP, auto_shortflags=False)
def fetch_lib(c, paddle=None, cuda=None, cudnn=None, trt=None, gcc=None, cpu=False, gpu=False,
              jetson=False, device=None, math=None, no_avx=False, auto=False, list_=False,
              json_=False, mirror=None, archive=None, locked=False, dry_run=False,
              lib_dir=None, include_removed=False, force=False, from_wheel=False, plain=False):
    """Fetch a prebuilt Paddle Inference C++ library that fits CUDA/cuDNN/TensorRT/gcc.

    Picks one row of recipes/paddle_inference.toml (the official download tables),
    explains the choice, downloads it into the content-addressed cache (resumable,
    retried, locked against concurrent fetches), checks sha256 (the manifest's, or
    the lock file's; the first download's digest is recorded there otherwise),
    extracts it safely, checks version.txt against the row, installs it as
    <lib_dir>/<row id>/ and makes it the current library for build-demo and run.

    Examples:
      invoke fetch-lib --cuda 10.2
      invoke fetch-lib --auto
      invoke fetch-lib --list --cuda 11 --trt 8
      invoke fetch-lib --cuda 11.8 --mirror http://mirror.lab:8080 --dry-run
      invoke fetch-lib --cpu --archive ~/Downloads/paddle_inference.tgz
      invoke fetch-lib --from-wheel            (no download: the installed wheel's engine)
    See docs/fetch-lib.md.
    """
    import dataclasses
    from pathlib import Path

    from ..fetch.request import parse_request
    from ..settings import LabSettings

    settings = LabSettings.from_context(c)
    if lib_dir:
        settings = dataclasses.replace(settings, lib_dir=Path(lib_dir).expanduser().resolve())
    if from_wheel:
        from ..fetch.wheel import fetch_from_wheel, wheel_flag_conflicts

        wheel_flag_conflicts(paddle=paddle, cuda=cuda, cudnn=cudnn, trt=trt, gcc=gcc,
                             jetson=jetson, device=device if device != "gpu" else None,
                             math=math, no_avx=no_avx, auto=auto, list=list_, mirror=mirror,
                             archive=archive, locked=locked, include_removed=include_removed)
        progress = None if json_ else (lambda m: print(f"  {m}", flush=True))
        result = fetch_from_wheel(settings, gpu=gpu or device == "gpu", dry_run=dry_run,
                                  progress=progress)
        if dry_run and not json_:
            print(result.script, end="")
            return
        emit(result, json_, _render_wheel_result)
        return
    req = parse_request(dict(paddle=paddle, cuda=cuda, cudnn=cudnn, trt=trt, gcc=gcc, cpu=cpu,
                             gpu=gpu, jetson=jetson, device=device, math=math, no_avx=no_avx,
                             include_removed=include_removed), settings)
    if list_:
        from ..fetch.resolve import apply_auto
        from ..fetch.run import LibraryList, list_libraries

        notes: list[str] = []
        if auto:
            from ..doctor import collect_report

            req, notes = apply_auto(req, collect_report(settings))
        rows = list_libraries(req)
        if rows:
            from ..fetch.resolve import runtime_reasons

            notes += [f"best row {rows[0].id}: {line}"
                      for line in runtime_reasons(req, rows[0], rows)]
        listing = LibraryList(rows=rows, notes=notes)
        import sys

        if not json_ and (plain or not sys.stdout.isatty()):
            _print_plain_list(listing)
            return
        emit(listing, json_, _render_list)
        return
    from ..fetch.run import FetchOptions, fetch_library
    from .progress import progress_for

    opts = FetchOptions(mirror=mirror, archive=Path(archive).expanduser() if archive else None,
                        locked=locked, dry_run=dry_run, auto=auto,
                        progress=progress_for(not json_, transient=False),
                        force=force, announce=None if json_ else _announce)
    result = fetch_library(settings, req, opts)
    if dry_run and not json_:
        print(result.script, end="")
        return
    emit(result, json_, _render_result)


def _announce(plan) -> None:
    """The chosen row, on stderr, before anything is downloaded."""
    import sys

    src = f"from {plan.archive}" if plan.archive else f"from {plan.url}"
    print(f"fetching {plan.row.id}\n  {src}", file=sys.stderr, flush=True)


def _print_plain_list(result) -> None:
    """One row per line: `<id> <status>`; notes go to stderr."""
    import sys

    for n in result.notes:
        print(n, file=sys.stderr)
    for r in result.rows:
        print(f"{r.id}\t{r.status}")
    if not result.rows:
        print("no row matches these filters", file=sys.stderr)


def _render_list(con, result) -> None:
    from rich.table import Table

    for n in result.notes:
        con.print(n)
    table = Table(title=f"{len(result.rows)} Paddle Inference libraries, best first "
                        "(x = removed from the docs, ! = contradicted by the docs; "
                        "--json for every field)")
    # The id spells every field (paddle, device, CUDA, cuDNN, TensorRT, gcc, math, avx).
    table.add_column("")
    table.add_column("id (paddle-os-device-cuda-cudnn-trt-gcc-math-avx)", overflow="fold")
    table.add_column("status", no_wrap=True)
    marks = {"removed": "x", "contradicted": "!"}
    for r in result.rows:
        table.add_row(marks.get(r.status, ""), r.id, r.status)
    con.print(table)
    if not result.rows:
        con.print("no row matches these filters")


def _render_result(con, result) -> None:
    from rich.table import Table

    for reason in result.reasons:
        con.print(f"  - {reason}")
    t = Table(show_header=False, box=None)
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    r = result.row
    t.add_row("row", result.row_id)
    t.add_row("versions", f"Paddle {r.paddle_version}, {r.device}"
              + (f", CUDA {r.cuda}" if r.cuda else "") + (f", cuDNN {r.cudnn}" if r.cudnn else "")
              + (f", TensorRT {r.tensorrt}" if r.tensorrt else "")
              + (f", gcc {r.gcc}" if r.gcc else ""))
    t.add_row("url", result.url)
    if result.archive:
        t.add_row("archive", result.archive)
    src = {"recorded": "recorded in the lock file (first use)", "lock": "matches the lock file",
           "manifest": "matches the manifest"}.get(result.checksum_source or "", "")
    t.add_row("sha256", f"{result.sha256 or '?'}  {src}")
    if result.size is not None:
        t.add_row("size", f"{result.size:,} bytes")
    how = ("from the cache" if result.cache_hit else
           f"downloaded {result.bytes_downloaded:,} bytes"
           + (f" (resumed at {result.resumed_from:,})" if result.resumed_from else "")
           if not result.archive else "from --archive")
    t.add_row("source", how)
    t.add_row("installed", result.install_dir + ("  (already there)"
                                                 if result.status == "already-installed" else ""))
    v = result.version_txt
    if v is not None:
        t.add_row("version.txt", ", ".join(f"{k} {val}" for k, val in (
            ("Paddle", v.paddle_version), ("CUDA", v.cuda_version), ("cuDNN", v.cudnn_version),
            ("TensorRT", v.tensorrt_version), ("gcc", v.cxx_compiler_version)) if val)
            or "(no versions)")
    con.print(t)
    con.print(f"[green]current library:[/] {result.install_dir}")


def _render_wheel_result(con, result) -> None:
    for reason in result.reasons:
        con.print(f"  - {reason}")
    v = result.version_txt
    if v is not None:
        con.print("  version.txt: " + ", ".join(f"{k} {val}" for k, val in (
            ("Paddle", v.paddle_version), ("commit", v.git_commit), ("CUDA", v.cuda_version),
            ("cuDNN", v.cudnn_version), ("TensorRT", v.tensorrt_version)) if val)
            + f", WITH_GPU {'ON' if v.with_gpu else 'OFF'}")
    con.print(f"  sha256 of libpaddle.so: {result.sha256}  (recorded in the lock file)")
    con.print(f"[green]current library:[/] {result.install_dir}  (wheel-derived)")
