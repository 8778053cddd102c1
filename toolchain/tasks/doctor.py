"""`invoke doctor`: what is installed and whether it fits."""

from __future__ import annotations

from .. import flags
from ..cli import lab_task

STATUS_STYLE = {"found": "", "not found": "dim", "unparsed": "yellow", "rejected": "yellow",
                "timeout": "red", "error": "red"}
LEVEL_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


@lab_task(help={
    **flags.help_for(json_=" every finding (with its source file or command, and the raw text "
                           "of what could not be parsed) and every verdict"),
    "strict": "exit non-zero when any check fails (for CI and scripts)",
    **flags.help_for("lib", cuda_root=" doctor looks in it besides the others",
                     trt_root=" doctor looks in it besides the others"),
})
def doctor(c, json_=False, strict=False, lib=None, cuda_root=None, trt_root=None):
    """Report host, compilers, Paddle, CUDA, driver/GPUs, cuDNN, TensorRT; check they fit.

    Looks without installing or importing anything heavy: reads /etc/os-release,
    /proc, version files and headers, and runs gcc, cmake, nvcc and nvidia-smi (each
    with the lab.probe_timeout limit). Each check ends as ok, warn or fail with a
    one-line fix: TensorRT INT8 needs compute capability >= 6.1 (TensorRT 10 >= 7.0,
    10.5+ >= 7.5), the driver must cover the CUDA toolkit, the library's cuDNN and
    TensorRT majors must be installed, Paddle dlopens the unversioned libnvinfer.so.
    See docs/doctor.md.
    """
    from pathlib import Path

    from ..cli import emit
    from ..errors import LabError
    from ..doctor import collect_report
    from ..settings import LabSettings

    settings = LabSettings.from_context(c)
    if lib is not None and not Path(lib).expanduser().is_dir():
        raise LabError(f"--lib {lib} is not a directory", where=str(Path(lib).expanduser()),
                       hint="pass the folder that holds paddle/include, paddle/lib and "
                            "version.txt")
    report = collect_report(
        settings,
        lib=Path(lib).expanduser() if lib else None,
        cuda_root=Path(cuda_root).expanduser() if cuda_root else None,
        trt_root=Path(trt_root).expanduser() if trt_root else None,
    )
    emit(report, json_, render_report)
    if strict and report.failed:
        fails = [v for v in report.verdicts if v.level == "fail"]
        raise LabError(f"doctor --strict: {len(fails)} check(s) failed: "
                       + "; ".join(v.check for v in fails),
                       hint=fails[0].fix or "see the verdicts above")


def render_report(console, report) -> None:
    from rich.markup import escape
    from rich.table import Table

    from ..doctor.report import SECTION_TITLES, SECTIONS

    table = Table(title="invoke doctor", title_justify="left", show_lines=False)
    # Item names can hold long paths (pip's nvidia/cudnn/include): fold them
    # rather than let one column squeeze the others to nothing.
    table.add_column("Item", ratio=3, overflow="fold")
    table.add_column("Value", ratio=3, overflow="fold")
    table.add_column("Source", ratio=3, style="dim", overflow="fold")
    for section in SECTIONS:
        findings = report.in_section(section)
        if not findings:
            continue
        table.add_row(f"[bold cyan]{SECTION_TITLES[section]}[/]", "", "", end_section=False)
        previous_source = None
        for f in findings:
            style = STATUS_STYLE.get(f.status, "")
            value = f.value if f.status == "found" else f"{f.status}" + (
                f": {f.raw.strip().splitlines()[0]}" if f.raw and f.raw.strip() else "")
            source = "  (same)" if f.source and f.source == previous_source else f.source
            previous_source = f.source
            table.add_row(f"  {escape(f.name)}", escape(str(value)), escape(source or ""),
                          style=style)
    console.print(table)

    checks = Table(title="checks", title_justify="left")
    checks.add_column("", no_wrap=True)
    checks.add_column("Check", no_wrap=True)
    checks.add_column("Finding", overflow="fold")
    checks.add_column("Fix", style="dim", overflow="fold")
    for v in report.verdicts:
        style = LEVEL_STYLE.get(v.level, "")
        checks.add_row(f"[{style}]{v.level}[/]", escape(v.check), escape(v.message),
                       escape(v.fix or ""))
    console.print(checks)
    n = report.counts()
    console.print(f"[green]{n['ok']} ok[/], [yellow]{n['warn']} warn[/], "
                  f"[{'bold red' if n['fail'] else 'green'}]{n['fail']} fail[/]"
                  f"  ({report.probe_seconds:.2f} s)")
