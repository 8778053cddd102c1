"""Task `soak`: create, run and destroy a predictor N times; gate the memory slope."""

from __future__ import annotations

from .. import flags
from ..cli import emit, lab_task
from ..settings import LabSettings


def render_soak(con, r) -> None:
    from rich.markup import escape
    from rich.table import Table

    con.print(f"[bold]{escape(r.model)}[/] {r.precision} on {r.device}, batch {r.batch_size}, "
              f"{r.threads} thread(s), runner {r.runner}: {r.cycles} cycles x {r.batches} "
              f"batches (inputs: {r.inputs}"
              + (f", {r.input_count} images, seed {r.input_seed})" if r.inputs == "sample-set"
                 else ")"))
    table = Table(title=f"memory after each create/run/destroy cycle (first {r.warmup_cycles}: "
                        "warm-up, not fitted)")
    for col in ("cycle", "RSS MB", "change KB", "GPU MB", "create ms", "p50 ms"):
        table.add_column(col, justify="right")
    shown = r.samples if len(r.samples) <= 24 else r.samples[:12] + r.samples[-12:]
    prev = None
    for s in shown:
        if prev is not None and s.cycle != prev.cycle + 1:
            table.add_row("...", "", "", "", "", "")
        change = "" if prev is None or s.cycle != prev.cycle + 1 else f"{s.rss_kb - prev.rss_kb:+d}"
        style = "dim" if s.cycle <= r.warmup_cycles else None
        table.add_row(str(s.cycle), f"{s.rss_kb / 1024:.1f}", change,
                      "-" if s.gpu_mb is None else f"{s.gpu_mb:.0f}", f"{s.create_ms:.1f}",
                      f"{s.batch_p50_ms:.3f}", style=style)
        prev = s
    con.print(table)
    for note in r.notes:
        con.print(f"  [yellow]note: {escape(note)}[/]")
    color = "green" if r.passed else "red"
    con.print(f"[{color}]{'passed' if r.passed else 'FAILED'}[/]: {escape(r.verdict)}")
    if r.files:
        con.print(f"  plot: {escape(r.files['plot'])}\n  json: {escape(r.files['json'])}")


@lab_task(help={
    **flags.help_for("int8", "fp16", "fp32", "bf16", "model_dir", "json_"),
    "cycles": "create/run/destroy cycles (default 50)",
    "batches": "batches run per cycle (default 5)",
    "warmup_cycles": "first cycles left out of the slope fit (default a tenth, at least 2)",
    "max_slope_kb": "fail when the RSS (or GPU memory) slope's 95 % lower bound is above "
                    "this many KB per cycle (default 64)",
    "data_file": "dataset the batches are drawn from (default <work_dir>/data/val.bin when "
                 "it exists, else seeded noise)",
    "batch_size": "images per batch (default 1)",
    "threads": "CPU math-library threads (default lab.run.threads, 0 = all cores)",
    "device": "auto (GPU when there is one), cpu or gpu (default lab.run.device)",
    "runner": "python (cycles in this process) or cpp (in the C++ demo's own process: trt_clas "
              "--soak_cycles; build it with `invoke build-demo`)",
    "out": "folder for soak.json and soak.png (default <results_dir>/soak-<UTC timestamp>)",
}, numbers={"cycles": flags.CYCLES, "batches": flags.REPEATS,
            "warmup_cycles": flags.WARMUP, "max_slope_kb": flags.SLOPE_KB,
            "batch_size": flags.BATCH_SIZE, "threads": flags.RUN_THREADS})
def soak(c, int8=False, fp16=False, fp32=False, model_dir=None, cycles=None, batches=None,
         warmup_cycles=None, max_slope_kb=None, data_file=None, batch_size=None, threads=None,
         device=None, runner="python", out=None, bf16=False, json_=False):
    """Memory over N create/run/destroy cycles of one predictor: RSS slope with a gate.

    After each cycle the resident set (VmRSS; on a GPU also the process's memory from
    nvidia-smi) is sampled; the cycles after the warm-up are fitted with a least-squares
    line and the slope is reported with its 95 % interval. The task fails (exit 1)
    when the interval's lower bound is above --max-slope-kb. A table, soak.json and a
    plot soak.png go to the results folder.

    Examples:
        invoke soak
        invoke soak --int8 --cycles 200 --max-slope-kb 16 --json
    """
    from pathlib import Path

    from invoke.exceptions import Exit

    from ..models.zoo import default_data_file, default_model_dir
    from ..soak import DEFAULT_BATCHES, DEFAULT_CYCLES, DEFAULT_MAX_SLOPE_KB
    from ..soak import soak as run_soak
    from .progress import progress_for

    settings = LabSettings.from_context(c)
    rs = settings.run
    precision = flags.precision_of(int8, fp16, fp32, bf16)
    mdir = Path(model_dir) if model_dir else default_model_dir(settings, precision)
    if data_file:
        data = Path(data_file)
    else:
        data = Path(rs.data_file) if rs.data_file else default_data_file(settings)
        data = data if data.exists() else None
    result = run_soak(settings, mdir, precision, device=device or rs.device,
                      runner=runner, cycles=cycles or DEFAULT_CYCLES,
                      batches=batches or DEFAULT_BATCHES, warmup_cycles=warmup_cycles,
                      max_slope_kb=DEFAULT_MAX_SLOPE_KB if max_slope_kb is None
                      else max_slope_kb, batch_size=batch_size or 1, threads=threads,
                      data_file=data, out=Path(out) if out else None,
                      progress=progress_for(not json_))
    emit(result, json_, render_soak)
    if not result.passed:
        raise Exit(code=1)
