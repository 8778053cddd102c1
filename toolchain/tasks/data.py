"""Tasks `preprocess` and `sample-data`: images to a dataset file, and a dataset to try it on."""

from __future__ import annotations

from .. import flags
from ..cli import emit, lab_task
from ..errors import LabError
from ..settings import LabSettings


def _data_dir(c):
    return LabSettings.from_context(c).work_dir / "data"


@lab_task(help={
    "data_dir": "folder the label-list paths are relative to (default: <work_dir>/data/sample, "
                "where `invoke sample-data` writes)",
    "label_list": "label list of `relative/path label` lines (default: val_list.txt in "
                  "--data-dir; a relative path that does not exist here is looked up in "
                  "--data-dir)",
    "out": "dataset to write (default: <work_dir>/data/val.bin, or <work_dir>/data/val "
              "for slim-dir). Relative to the current directory, never to --data-dir",
    "format": "bin (int64 N | N float32 3x224x224 | N int64 labels, Paddle's testers) or "
              "slim-dir (one <i>.data file per image, PaddleSlim's test_acc)",
    "jobs": "worker processes (default: all cores)",
    "limit": "only the first N entries of the label list",
    "skip_missing": "leave out images that do not exist (N shrinks; never zero-filled)",
    "skip_bad": "leave out images that cannot be decoded (N shrinks)",
    "convert": "convert this existing dataset (bin file or slim-dir) instead of reading "
               "images; needs --to and --out",
    "to": "with --convert: the target format, bin or slim-dir",
    "progress": "show the progress bar (default on; --no-progress to hide)",
    "allow_inside": "allow an --out inside --data-dir (refused by default; an output "
                    "that is the label list, a listed image or the data dir is always "
                    "refused)",
    **flags.help_for("json_", dry_run=" (the checked plan as comments and the command "
                                      "that runs it; with --json the plan as JSON)"),
}, numbers={"jobs": flags.JOBS, "limit": flags.LIMIT})
def preprocess(c, data_dir=None, label_list=None, out=None, format="bin", jobs=None,
               limit=None, skip_missing=False, skip_bad=False, convert=None, to=None,
               progress=True, allow_inside=False, dry_run=False, json_=False):
    """Preprocess images into a dataset file, byte-identical to Paddle's reference script.

    Reads the imagenet_user layout (images under --data-dir, a label list of
    `relative/path label` lines) and applies exactly the algorithm of Paddle's
    full_ILSVRC2012_val_preprocess.py (short side to 256 with LANCZOS, centre
    crop 224, RGB, CHW float32 /255, -mean, /std), in parallel worker
    processes, streaming (flat memory). The output is written under a temporary
    name, verified and renamed, with a sidecar `<output>.json` (count, label
    range, sha256, Pillow version, options) that later tasks check.

    Conversion without decoding again:
        invoke preprocess --convert val.bin --to slim-dir --out imagenet-eval-binary
    """
    from pathlib import Path

    from .progress import progress_for

    sink = progress_for(progress and not json_)
    if convert:
        from ..data.convert import convert_dataset

        if dry_run:
            raise LabError("--dry-run plans preprocessing; it is not used with --convert")
        if not to:
            raise LabError("--convert needs --to bin or --to slim-dir")
        if not out:
            raise LabError("--convert needs --out (where to write the converted dataset)")
        result = convert_dataset(Path(convert), Path(out), to, progress=sink)
        emit(result, json_, _render_convert)
        return result
    if to:
        raise LabError("--to is only used with --convert",
                       hint="use --format to choose the output format of preprocessing")
    from ..data.formats import format_named
    from ..data.preprocess import execute
    from ..data.preprocess_plan import plan_preprocess
    from ..data.sample import sample_dir

    dest = Path(out) if out else _data_dir(c) / format_named(format).default_name
    plan = plan_preprocess(
        Path(data_dir) if data_dir else sample_dir(LabSettings.from_context(c).work_dir),
        label_list or None, dest, fmt=format,
        jobs=jobs, limit=limit, skip_missing=skip_missing, skip_bad=skip_bad,
        allow_inside=allow_inside)
    if dry_run:
        emit(plan, json_, _render_plan)
        return plan
    result = execute(plan, progress=sink)
    emit(result, json_, _render_preprocess)
    return result


def _render_plan(con, plan) -> None:
    import sys

    sys.stdout.write(plan.script())
    sys.stdout.flush()


def _render_preprocess(con, r) -> None:
    from rich.table import Table

    t = Table(title=f"preprocess -> {r.output}", show_header=False)
    t.add_row("format", r.format)
    t.add_row("images", f"{r.count} of {r.listed} listed")
    t.add_row("labels", f"{r.label_min} .. {r.label_max}")
    t.add_row("size", f"{r.size_bytes:,} bytes")
    t.add_row("sha256", r.sha256)
    t.add_row("sidecar", str(r.sidecar))
    t.add_row("speed", f"{r.images_per_s} images/s ({r.jobs} jobs, {r.seconds} s)")
    t.add_row("Pillow", r.pillow)
    if r.skipped_missing:
        t.add_row("skipped missing", str(len(r.skipped_missing)))
    if r.skipped_bad:
        t.add_row("skipped bad", str(len(r.skipped_bad)))
    con.print(t)
    for item in (r.skipped_missing + r.skipped_bad)[:5]:
        con.print(f"  skipped line {item['line']}: {item['path']}"
                  + (f" ({item['error']})" if "error" in item else ""))


def _render_convert(con, r) -> None:
    from rich.table import Table

    t = Table(title=f"convert {r.source_format} -> {r.format}", show_header=False)
    t.add_row("from", str(r.source))
    t.add_row("to", str(r.output))
    t.add_row("images", str(r.count))
    t.add_row("sha256", r.sha256)
    t.add_row("source sidecar", "verified" if r.source_sidecar_verified else "none")
    t.add_row("sidecar", str(r.sidecar))
    con.print(t)


@lab_task(help={
    "out": "where to write the dataset (default: <work_dir>/data/sample)",
    "n": "number of images (default 400: 300 train, 100 val)",
    **flags.help_for("json_"),
}, numbers={"n": flags.SAMPLE_IMAGES})
def sample_data(c, out=None, n=None, json_=False):
    """Write a small real labelled image dataset (handwritten digits) for trying the lab.

    The images come from the UCI handwritten digits that ship inside the
    scikit-learn wheel (nothing is downloaded), rendered as ImageNet-sized
    JPEG/PNG files of mixed sizes and modes, in the imagenet_user layout:
    train/*, val/*, train_list.txt and val_list.txt (a deterministic 75/25
    split), plus sample.json describing the source.
    """
    from pathlib import Path

    from ..data.sample import sample_dir, write_sample_dataset

    from .progress import progress_for

    result = write_sample_dataset(Path(out) if out else
                                  sample_dir(LabSettings.from_context(c).work_dir), n,
                                  progress=progress_for(not json_))
    emit(result, json_, _render_sample)
    return result


def _render_sample(con, r) -> None:
    con.print(f"[bold green]wrote[/] {r.count} images ({r.train_count} train, {r.val_count} val, "
              f"{r.classes} classes) to {r.out_dir}")
    con.print(f"  source: {r.source_dataset}, from the {r.source_package} {r.source_version} wheel")
    con.print(f"  lists:  {r.train_list}  {r.val_list}")
    con.print("  next:   invoke preprocess --data-dir " + str(r.out_dir))
