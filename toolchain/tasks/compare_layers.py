"""Tasks `compare-layers` (INT8 against FP32, op by op) and `repair-int8` (keep the worst
ops in FP32 until the top-1 drop meets a limit)."""

from __future__ import annotations

from .. import flags
from ..cli import emit, lab_task
from ..settings import LabSettings


def _num(value: float) -> str:
    return f"{value:.4g}" if value == value else "nan"


def render_comparison(con, r) -> None:
    from rich.markup import escape
    from rich.table import Table

    con.print(f"[bold]{escape(str(r.int8_dir))}[/] against [bold]{escape(str(r.fp32_dir))}[/] "
              f"on {r.images} images of {escape(str(r.data_file))}")
    table = Table(title=f"quantized ops, worst first ({len(r.layers)} of {r.total_layers}; "
                        "own = relative error added by this op)")
    for col in ("#", "op", "output", "own", "relative", "max abs", "cosine", "NaN/Inf"):
        table.add_column(col, justify="left" if col in ("op", "output") else "right",
                         overflow="fold")
    for i, x in enumerate(r.layers, 1):
        table.add_row(str(i), x.op_type, escape(x.output), _num(x.own), _num(x.relative),
                      _num(x.max_abs), f"{x.cosine:.5f}", str(x.nonfinite or ""))
    o = r.output
    table.add_row("", "[bold]output[/]", escape(o.output), "", _num(o.relative),
                  _num(o.max_abs), f"{o.cosine:.5f}", str(o.nonfinite or ""))
    con.print(table)
    con.print(f"  top-1 agreement with FP32: {r.top1_agreement:.1%}")
    for bad in r.nonfinite:
        con.print(f"  [bold red]{bad['model']} {escape(bad['tensor'])}: {bad['count']} NaN/Inf "
                  f"values, first at image {bad['first_image']}[/]")
    if r.layers:
        con.print(f"  next: invoke repair-int8 --model-dir {r.fp32_dir} (keeps the worst ops "
                  "in FP32 until the top-1 drop meets --max-top1-drop)")


@lab_task(help={
    "fp32_dir": "the FP32 model (default: fp32/ beside the INT8 model).",
    "int8_dir": "the INT8 model to check (default <work_dir>/models/<default>/int8).",
    "data_file": "preprocessed images to run both on (default <work_dir>/data/val.bin).",
    "images": "how many images of it to compare on (default 32).",
    "top": "show the K worst ops only (default: all).",
    **flags.help_for("json_"),
}, numbers={"images": flags.COMPARE_IMAGES, "top": flags.TOP})
def compare_layers(c, fp32_dir=None, int8_dir=None, data_file=None, images=None, top=None,
                   json_=False):
    """Where INT8 loses accuracy: each quantized op's output against FP32's, worst first.

    Runs the FP32 and the INT8 model on the same images (paddle.static, the INT8
    program with its quantize/dequantize ops) and reports per quantized op (conv2d,
    depthwise_conv2d, mul/matmul) the max abs error, the relative error
    ||int8 - fp32|| / ||fp32||, cosine similarity and the error the op adds over the
    compared tensors feeding it (the ranking); every tensor is checked for NaN/Inf.

    Examples:
        invoke compare-layers
        invoke compare-layers --int8-dir .lab/models/resnet50/int8 --images 16 --top 10
    """
    from pathlib import Path

    from ..int8.compare import compare_layers as compare
    from ..models.zoo import default_data_file, default_model_dir

    settings = LabSettings.from_context(c)
    result = compare(Path(fp32_dir) if fp32_dir else None,
                     Path(int8_dir) if int8_dir else default_model_dir(settings, "int8"),
                     Path(data_file) if data_file else default_data_file(settings, "val"),
                     images=32 if images is None else images, top=top)
    emit(result, json_, render_comparison)


def render_repair(con, r) -> None:
    from rich.markup import escape
    from rich.table import Table

    head = "[bold green]met[/]" if r.met else "[bold red]not met[/]"
    con.print(f"{head}: --max-top1-drop {r.max_top1_drop} on {r.images} held-out images "
              f"({escape(str(r.held_out))}); {escape(r.message)}")
    for t in r.algo_trials:
        con.print(f"  algo {t['algo']}: top-1 {t['top1']:.2%}, drop {t['drop']:.2f} points")
    table = Table(title=f"attempts (algo {r.algo}; FP32 top-1 {r.fp32_top1:.2%})")
    for col in ("ops in FP32", "top-1", "drop (points)", "meets"):
        table.add_column(col, justify="right")
    for a in r.attempts:
        table.add_row(str(len(a.kept_fp32)) + ("" if a.quantized else " (all: FP32 model)"),
                      f"{a.top1:.2%}", f"{a.drop:.2f}", "yes" if a.meets else "no")
    con.print(table)
    if r.kept:
        kept = Table(title="kept in FP32")
        for col in ("op", "output", "own error", "latency cost (ms, p50)"):
            kept.add_column(col)
        for k in r.kept:
            kept.add_row(k.op_type, escape(k.output), _num(k.own_error),
                         "-" if k.latency_cost_ms is None else f"{k.latency_cost_ms:+.3f}")
        con.print(kept)
    if r.latency_p50_ms:
        lat = r.latency_p50_ms
        con.print(f"  p50 batch 1: FP32 {lat['fp32']:.3f} ms, full INT8 {lat['int8_full']:.3f} "
                  f"ms, written model {lat['repaired']:.3f} ms")
    con.print(f"  {r.quantizations} re-quantization(s) after the full INT8 model")
    if r.output:
        con.print(f"  wrote {escape(str(r.output))}; next: invoke test-acc --int8 "
                  f"--model-dir {r.output}")


@lab_task(help={
    **flags.help_for("model_dir", "json_"),
    "calib_data": "calibration dataset (default <work_dir>/data/train.bin).",
    "held_out": "held-out images that measure the top-1 drop (default "
                "<work_dir>/data/val.bin).",
    "out": "INT8 model directory to write (default: int8/ beside an fp32/ dir).",
    "max_top1_drop": "the most top-1 points the INT8 model may lose against FP32 (default 1).",
    "algo": "abs_max, avg, hist, KL, mse, or auto: try each on the calibration budget and "
            "keep the smallest drop (default lab.quantize.algo).",
    "batch_size": "calibration batch size (default lab.quantize.batch_size).",
    "batch_nums": "calibration batches, the budget of each try (default "
                  "lab.quantize.batch_nums).",
    "limit": "measure the drop on the first N held-out images only.",
}, numbers={"max_top1_drop": flags.MAX_TOP1_DROP, "batch_size": flags.BATCH_SIZE,
            "batch_nums": flags.BATCH_NUMS, "limit": flags.LIMIT})
def repair_int8(c, model_dir=None, calib_data=None, held_out=None, out=None,
                max_top1_drop=None, algo=None, batch_size=None, batch_nums=None, limit=None,
                json_=False):
    """Quantize to INT8 within a top-1 budget: keep the most harmful ops in FP32.

    Quantizes, measures the top-1 drop on held-out images with oneDNN INT8 and,
    when it is over --max-top1-drop, ranks the quantized ops (compare-layers) and
    bisects over that ranking for the smallest set kept in FP32 (PTQ's
    skip_tensor_list) that meets the limit, or says that none does. Reports the
    ops kept in FP32 and the latency each costs.

    Examples:
        invoke repair-int8 --max-top1-drop 1
        invoke repair-int8 --algo auto --batch-nums 4 --limit 200
    """
    from pathlib import Path

    from ..int8.repair import repair_int8 as repair
    from ..models.zoo import default_data_file, default_model_dir
    from .progress import progress_for

    settings = LabSettings.from_context(c)
    qs = settings.quantize
    result = repair(
        settings, Path(model_dir) if model_dir else default_model_dir(settings, "fp32"),
        Path(calib_data) if calib_data else default_data_file(settings, "train"),
        Path(held_out) if held_out else default_data_file(settings, "val"),
        output=Path(out) if out else None,
        max_top1_drop=1.0 if max_top1_drop is None else max_top1_drop,
        algo=algo or qs.algo, batch_size=qs.batch_size if batch_size is None else batch_size,
        batch_nums=qs.batch_nums if batch_nums is None else batch_nums, limit=limit,
        progress=progress_for(not json_))
    emit(result, json_, render_repair)
