"""Task `quickstart`: the whole path on the embedded default, offline, one command."""

from __future__ import annotations

from .. import flags
from ..cli import lab_task

HELP = {
    "out": "folder for the bench files (default <results_dir>/<UTC timestamp>)",
    "skip_cpp": "do not build the C++ demo even where a Paddle Inference library is "
                "installed (bench with the python runner)",
    "models": "comma list of zoo models (default lab.quickstart.models: small_cnn,"
              "mobilenet_v1,mobilenet_v2,resnet50)",
    **flags.help_for("json_", bf16="; bench adds a BF16 column (default FP32 and INT8)"),
}


@lab_task(help=HELP, auto_shortflags=False)
def quickstart(c, out=None, skip_cpp=False, models=None, bf16=False, json_=False):
    """Doctor, sample data, models, INT8, (C++ demo), bench: the FP32-vs-INT8 table.

    Offline, on the CPU of this machine unless a GPU stack is installed:
      1. doctor          what is installed (see `invoke doctor`)
      2. sample-data     real labelled images (handwritten digits in photo-like files)
      3. preprocess      train.bin and val.bin in <work_dir>/data/
      4. models          the small classifier trained on train.bin; MobileNetV1,
                         MobileNetV2 and ResNet50 with seeded weights (latency only)
      5. quantize        INT8 models calibrated on train.bin
      6. fetch-lib       with no C++ library installed and no lab.fetch.mirror set:
                         the library assembled from the installed wheel (fetch-lib
                         --from-wheel); build-demo then builds trt_clas and test_acc,
                         else the python runner (the output says why)
      7. bench           FP32 vs INT8 on val.bin through the C++ demo, the python
                         runner as a parity gate (predictions and top-1 must agree;
                         exit 1 when they differ); table on screen, files in results/

    Re-running reuses every step whose inputs and outputs are unchanged (stamps in
    <work_dir>/quickstart/); bench always measures again.
    """
    from invoke.exceptions import Exit

    from ..bench.render import StatusLine
    from ..cli import emit
    from ..quickstart import run_quickstart
    from ..settings import LabSettings

    settings = LabSettings.from_context(c)
    if json_:
        result = run_quickstart(settings, out=out, skip_cpp=skip_cpp, models=models,
                                bf16=bf16)
    else:
        with StatusLine() as status:
            result = run_quickstart(settings, out=out, skip_cpp=skip_cpp, models=models,
                                    say=status, bf16=bf16)
    emit(result, json_, _render)
    if not result.passed:
        raise Exit(code=1)


def _render(con, result) -> None:
    from rich.markup import escape

    from ..bench.render import render_report, table

    color = {"ran": "green", "reused": "cyan", "skipped": "yellow"}
    con.print(table("Quickstart steps", ["Step", "Status", "Seconds", "Detail"],
                    [[s.name, f"[{color.get(s.status, 'white')}]{s.status}[/]",
                      f"{s.seconds:.1f}", escape(s.detail)] for s in result.steps],
                    text_columns=(0, 1, 3)))
    if result.bench is not None:
        render_report(con, result.bench, percentiles=False)
    con.print(f"[bold]Done in {result.elapsed_s:.0f} s.[/] {escape(result.runner_note)}")
    con.print("Next: `invoke run --int8` (latency of the INT8 model), `invoke bench --help`.")
