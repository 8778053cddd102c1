"""Task `quantize`: post-training quantization of an FP32 model to INT8."""

from __future__ import annotations

from .. import flags
from ..cli import emit, lab_task
from ..settings import LabSettings


def _render(con, r) -> None:
    con.print(f"[bold green]quantized[/] {r.model_dir} -> {r.output} in {r.seconds:.1f} s")
    con.print(f"  algo {r.algo}, {r.calib_images} calibration images from {r.calib_data} "
              f"({r.batch_nums} batches of {r.batch_size}), {r.quantized_ops} quantize ops")
    con.print(f"  sha256 {r.sha256[:16]} (from FP32 {r.source_sha256[:16]})")
    con.print(f"  next: invoke test-acc --int8 --model-dir {r.output}")


@lab_task(help={
    **flags.help_for(model_dir="; quantize takes an FP32 one in the legacy format "
                               "(model.pdmodel), default <work_dir>/models/<default>/fp32"),
    "calib_data": "calibration dataset, preprocessed (bin or slim-dir; default "
                  "<work_dir>/data/train.bin, so the held-out val.bin stays unseen)",
    "out": "INT8 model directory to write (default <work_dir>/models/<name>/int8 beside "
              "an fp32/ dir)",
    "algo": "activation-scale algorithm: abs_max, avg, hist, KL or mse "
            "(default lab.quantize.algo, KL)",
    "batch_size": "calibration batch size (default lab.quantize.batch_size, 10)",
    "batch_nums": "calibration batches (default lab.quantize.batch_nums, 10)",
    **flags.help_for("json_", dry_run=" (the worker command)"),
}, numbers={"batch_size": flags.BATCH_SIZE, "batch_nums": flags.BATCH_NUMS})
def quantize(c, model_dir=None, calib_data=None, out=None, algo=None, batch_size=None,
             batch_nums=None, dry_run=False, json_=False):
    """Quantize an FP32 model to INT8 with Paddle's PostTrainingQuantization.

    Calibrates on preprocessed images and writes a legacy-format model with
    quantize/dequantize ops (what PaddleSlim's quant_post_static makes), which
    oneDNN (`invoke run --int8` on the CPU) and TensorRT (use_calib_mode=False)
    run. Runs in a worker with FLAGS_enable_pir_api=0: with paddlepaddle 3.3.1
    a quantized PIR (.json) model failed under oneDNN INT8, so PIR inputs are
    refused with the legacy alternative named. Written under a temporary name,
    then renamed.

    Examples:
        invoke quantize
        invoke quantize --model-dir .lab/models/resnet50/fp32 --calib-data .lab/data/train.bin --algo hist
    """
    from pathlib import Path

    from ..models.zoo import default_data_file, default_model_dir
    from ..quantize import execute_quantize, plan_quantize
    from .progress import progress_for

    settings = LabSettings.from_context(c)
    qs = settings.quantize
    plan = plan_quantize(
        settings,
        model_dir=Path(model_dir) if model_dir else default_model_dir(settings, "fp32"),
        calib_data=Path(calib_data) if calib_data else default_data_file(settings, "train"),
        output=Path(out) if out else None,
        algo=algo or qs.algo,
        batch_size=qs.batch_size if batch_size is None else batch_size,
        batch_nums=qs.batch_nums if batch_nums is None else batch_nums)
    if dry_run:
        print(plan.script(), end="")
        return
    result = execute_quantize(plan, progress_for(not json_))
    emit(result, json_, _render)
