"""Images -> a dataset file, exactly as Paddle's full_ILSVRC2012_val_preprocess.py.

The per-image algorithm (`process_image`) is the reference's, step for step:
short side to 256 (`int(round(side * 256 / short))`, LANCZOS), centre crop 224
(floor division), `convert('RGB')` after the crop, then CHW float32 / 255,
`-= mean`, `/= std` with float64 mean/std subtracted in place. The last three
steps map each (channel, uint8 value) to one float32, so they are done with a
3x256 lookup table (the same roundings as those numpy operations, see
`normalize_lut`) applied by Pillow's `point` to each band: same bytes, a
fraction of the work, and no numpy anywhere in a run. (Importing numpy took
0.2 s of the start-up on a 16-core host, with every core waiting, and its
OpenBLAS threads then spin about 0.1 s of CPU each: 1.5 s on 16 cores.)

The pipeline is planned, then executed. `plan_preprocess` (preprocess_plan.py)
parses the label list and checks every image path and the output before any
work, writing nothing (`--dry-run` shows the plan). `execute` preallocates the
output under a temporary name beside the target; worker processes decode,
transform, write each image straight into its slot and return its sha256 (the
parent only counts and combines the 32-byte digests), so memory stays flat, the
parent neither copies nor hashes 600 KB per image, and no serial pass over the
output is left. The result is verified, given a sidecar with the dataset digest
(sidecar.py), and renamed into place. Any failure removes the temporary output.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from ..errors import LabError
from ..progress import NO_PROGRESS, ProgressSink
from ..results import JsonResult
from .formats import FORMATS, DatasetFormat
from .labels import LabelEntry
from .phases import ChunkSpan, RunPhases
from .preprocess_plan import PreprocessPlan, plan_preprocess
from .sidecar import (build_sidecar, combine_digests, data_size, image_digest, sidecar_path,
                      write_sidecar)
from .staging import remove_path, stage_output

RESIZE_SHORT = 256
CROP = 224
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
ALGORITHM = ("Paddle full_ILSVRC2012_val_preprocess.py process_image: short side to 256 "
             "(round, LANCZOS), centre crop 224 (floor), RGB after crop, CHW float32 /255, "
             "-mean, /std")


class ImageTooSmall(ValueError):
    pass


def _float32(values) -> list[float]:
    """Each value rounded to the nearest float32 (kept as a Python float)."""
    from array import array

    return list(array("f", values))


def normalize_lut() -> list[list[float]]:
    """3 x 256 float32 values: the reference's `/255, -= mean, /= std` for every uint8 value.

    As numpy computes it: float32 / 255 (a float32 division, which float64 division then
    rounding to float32 equals exactly), then each float64 mean/std step in float64,
    rounded back to float32 by the in-place assignment.
    """
    scaled = _float32(v / 255 for v in range(256))
    return [_float32(x / std for x in _float32(x - mean for x in scaled))
            for mean, std in zip(MEAN, STD)]


def resized_size(width: int, height: int, target: int | None = None) -> tuple[int, int]:
    target = RESIZE_SHORT if target is None else target
    percent = float(target) / min(width, height)
    return int(round(width * percent)), int(round(height * percent))


def crop_box(width: int, height: int, size: int | None = None) -> tuple[int, int, int, int]:
    size = CROP if size is None else size
    w_start = (width - size) // 2
    h_start = (height - size) // 2
    return w_start, h_start, w_start + size, h_start + size


def load_cropped_rgb(path: str):
    """Decode, resize short side, centre crop, convert: an RGB 224x224 PIL image.

    Exactly the reference's calls. (Splitting the two resampling passes to
    skip the cropped-away lines is not byte-exact: Pillow 13 picks the pass
    order from the sizes, see python-pillow/Pillow#9549.)
    """
    from PIL import Image

    with Image.open(path) as img:
        size = resized_size(*img.size)
        if min(size) < CROP:
            raise ImageTooSmall(f"resized to {size[0]}x{size[1]}, smaller than the "
                                f"{CROP} crop")
        img = img.resize(size, Image.LANCZOS)
    img = img.crop(crop_box(*size))
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def process_image(path: str, lut: list[list[float]] | None = None) -> bytes:
    """One image file -> its float32 (3, 224, 224) little-endian bytes, byte-identical
    to the reference's."""
    lut = normalize_lut() if lut is None else lut
    bands = load_cropped_rgb(path).split()
    # "F;32F": little-endian float32, whatever the host's byte order
    return b"".join(band.point(lut[c], "F").tobytes("raw", "F;32F")
                    for c, band in enumerate(bands))


# -- worker side -------------------------------------------------------------

_W: dict = {}


PR_SET_PDEATHSIG = 1     # linux/prctl.h


def die_with_parent(parent_pid: int, poll_s: float = 0.5) -> str:
    """Make this worker process end when `parent_pid` (its parent) dies, even by SIGKILL.

    Linux: prctl(PR_SET_PDEATHSIG, SIGKILL), then a check that the parent did not
    die before the call. Elsewhere (or if prctl fails): a daemon thread that
    watches getppid() change. Returns which mechanism is in place.
    """
    import signal

    how = "watch"
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
            how = "pdeathsig"
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:      # the parent died before prctl took effect
        os._exit(1)
    if how == "watch":
        import threading

        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(poll_s)
            os._exit(1)

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    return how


def _worker_init(fmt: str, target: str, in_worker: bool = True,
                 parent_pid: int | None = None) -> None:
    if in_worker:   # Ctrl-C goes to the whole process group; only the parent acts on it
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if parent_pid is not None:
            die_with_parent(parent_pid)
    _W.clear()
    _W["lut"] = normalize_lut()
    _W["writer"] = FORMATS[fmt].open_writer(Path(target))


def _worker_close() -> None:
    writer = _W.pop("writer", None)
    if writer is not None:
        writer.close()
    _W.clear()


class ChunkResult(NamedTuple):
    """What a worker returns for one chunk of (slot, path, label) items."""

    failures: list[tuple[int, str, str]]    # (slot, kind, message)
    digests: list[bytes | None]             # per item: sha256 of the image written, or None
    span: ChunkSpan


def _worker_chunk(chunk: list[tuple[int, str, int]]) -> ChunkResult:
    """Process (slot, path, label) items: write each image, hash what was written.

    Failure kind "bad": the image could not be decoded/processed (skippable);
    kind "write": the output could not be written (always fatal).
    """
    started = time.perf_counter()
    failures, digests = [], []
    for slot, path, label in chunk:
        digests.append(None)
        try:
            image = process_image(path, _W["lut"])
        except Exception as err:  # any decode failure is reported, never zero-filled
            failures.append((slot, "bad", f"{type(err).__name__}: {err}"))
            continue
        try:
            _W["writer"].write(slot, image, label)
        except OSError as err:
            failures.append((slot, "write", f"{err.strerror or err}"))
            continue
        digests[-1] = image_digest(image)
    return ChunkResult(failures, digests, ChunkSpan(os.getpid(), started, time.perf_counter()))


# -- execute -------------------------------------------------------------------

@dataclass
class PreprocessResult(JsonResult):
    output: Path
    format: str
    count: int
    listed: int
    label_list: Path
    data_dir: Path
    sidecar: Path
    sha256: str
    size_bytes: int
    label_min: int | None
    label_max: int | None
    jobs: int
    seconds: float
    images_per_s: float
    skipped_missing: list[dict] = field(default_factory=list)
    skipped_bad: list[dict] = field(default_factory=list)
    pillow: str = ""
    phases: dict = field(default_factory=dict)      # phases.RunPhases.summary()


class _Rate:
    """The '<n> images/s' note of the progress bar, since the first result."""

    def __init__(self) -> None:
        self.start, self.done = time.perf_counter(), 0

    def note(self, n: int) -> str:
        self.done += n
        return f"{self.done / max(1e-9, time.perf_counter() - self.start):.0f} images/s"


def _run_pool(tasks, layout: DatasetFormat, target: Path, jobs: int, progress: ProgressSink,
              total: int, on_failure, digests: list, phases: RunPhases) -> None:
    """Run every chunk, results in order, each image's digest into digests[slot];
    on_failure(slot, kind, msg) may raise to stop."""

    def handle(chunk, res: ChunkResult, bar, rate: _Rate) -> None:
        phases.chunk(res.span)
        for fail in res.failures:
            on_failure(*fail)
        for (slot, _path, _label), digest in zip(chunk, res.digests):
            digests[slot] = digest
        bar.advance(len(chunk))
        bar.update(note=rate.note(len(chunk)))

    if jobs == 1:
        _worker_init(layout.name, str(target), False)
        phases.mark("pool_started")
        try:
            with progress.track("preprocessing", total=total, unit="images") as bar:
                rate = _Rate()
                for chunk in tasks:
                    handle(chunk, _worker_chunk(chunk), bar, rate)
        finally:
            _worker_close()
        phases.mark("last_result")
        phases.mark("pool_closed")
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    import importlib

    importlib.import_module("PIL.Image")    # imported once here, inherited by the workers

    # fork: workers start at once and share the parent's imported modules.
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init,
                               initargs=(layout.name, str(target), True, os.getpid()))
    try:
        results = pool.map(_worker_chunk, tasks)
        phases.mark("pool_started")
        # Only now, with the workers forked, may a progress display start its threads.
        with progress.track("preprocessing", total=total, unit="images") as bar:
            rate = _Rate()
            for chunk, res in zip(tasks, results):
                handle(chunk, res, bar, rate)
        phases.mark("last_result")
    except BrokenProcessPool:
        raise LabError("a worker process died (killed for memory, or crashed)",
                       hint="retry with fewer --jobs; run with --debug for details") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    phases.mark("pool_closed")


def _verify_written(tmp: Path, layout: DatasetFormat, labels) -> None:
    """The temporary output holds exactly the expected count and labels."""
    if not layout.holds_labels(tmp, labels):
        raise LabError("the written dataset does not hold the expected images and labels",
                       where=str(tmp), hint="this is a bug; rerun with --debug and report it")


def execute(plan: PreprocessPlan, progress: ProgressSink = NO_PROGRESS) -> PreprocessResult:
    """Run a plan: every image into a staged output, verified, hashed, given a sidecar
    and renamed into place (see the module doc). Any failure removes the staged output."""
    import PIL

    phases = RunPhases()
    layout, todo, output = plan.layout, plan.entries, plan.output
    tmp = stage_output(output, layout, plan.need_bytes)
    bad: list[tuple[LabelEntry, str]] = []
    try:
        layout.finish(tmp, [e.label for e in todo])
        items = [(slot, str(plan.image_path(e)), e.label) for slot, e in enumerate(todo)]
        tasks = [items[i:i + plan.chunk_size] for i in range(0, len(items), plan.chunk_size)]
        phases.mark("staged")

        def on_failure(slot: int, kind: str, msg: str) -> None:
            e = todo[slot]
            if kind == "write":
                raise LabError(f"cannot write the output: {msg}", where=str(output),
                               hint="check free disk space and permissions")
            if not plan.skip_bad:
                raise LabError(f"image on label-list line {e.line_no} cannot be read: {msg}",
                               where=f"{plan.label_list}:{e.line_no}: {plan.image_path(e)}",
                               hint="replace or remove the image, or pass --skip-bad to "
                                    "leave unreadable images out")
            bad.append((e, msg))

        digests: list[bytes | None] = [None] * len(todo)
        _run_pool(tasks, layout, tmp, plan.jobs, progress, len(todo), on_failure, digests,
                  phases)

        keep = list(range(len(todo)))
        if bad:
            bad_lines = {e.line_no for e, _ in bad}
            keep = [slot for slot, e in enumerate(todo) if e.line_no not in bad_lines]
            if not keep:
                raise LabError("no image of the label list could be read",
                               where=str(plan.label_list), hint="check the image files")
            layout.compact(tmp, keep)
        labels = [todo[s].label for s in keep]
        layout.finish(tmp, labels)
        _verify_written(tmp, layout, labels)
        # Compaction moves records unchanged, so the kept images' digests still hold.
        sha = combine_digests(len(labels), [digests[s] for s in keep], labels)
        size = data_size(tmp, layout.name, len(labels))
        if size != layout.size(len(labels)):
            raise LabError("the written dataset has the wrong size", where=str(tmp),
                           hint="this is a bug; rerun with --debug and report it")
        meta = build_sidecar(
            output, layout.name, len(labels), labels, sha, size,
            label_list={"path": str(plan.label_list.resolve()),
                        "sha256": plan.label_list_sha256,
                        "entries": plan.listed},
            data_dir=str(plan.data_dir.resolve()),
            algorithm=ALGORITHM,
            pillow=PIL.__version__,
            options={"format": layout.name, "jobs": plan.jobs, "limit": plan.limit,
                     "skip_missing": plan.skip_missing, "skip_bad": plan.skip_bad},
            skipped_missing=[{"line": e.line_no, "path": e.rel_path} for e in plan.missing],
            skipped_bad=[{"line": e.line_no, "path": e.rel_path, "error": m} for e, m in bad],
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        # An older sidecar must never describe the new data, even for a moment.
        sidecar_path(output).unlink(missing_ok=True)
        layout.publish(tmp, output)
        side = write_sidecar(output, meta)
    except BaseException:
        remove_path(tmp)
        raise
    phases.mark("done")
    seconds = phases.marks["done"]
    return PreprocessResult(
        output=output, format=layout.name, count=len(labels), listed=plan.listed,
        label_list=plan.label_list, data_dir=plan.data_dir, sidecar=side, sha256=sha,
        size_bytes=size, label_min=meta["label_min"], label_max=meta["label_max"],
        jobs=plan.jobs, seconds=round(seconds, 3), images_per_s=round(len(labels) / seconds, 1),
        skipped_missing=meta["skipped_missing"], skipped_bad=meta["skipped_bad"],
        pillow=PIL.__version__, phases=phases.summary())


def preprocess_dataset(data_dir: Path | str, label_list: Path | str | None, output: Path | str,
                       fmt: str = "bin", jobs: int | None = None, limit: int | None = None,
                       skip_missing: bool = False, skip_bad: bool = False,
                       progress: ProgressSink = NO_PROGRESS,
                       allow_inside: bool = False) -> PreprocessResult:
    """Preprocess the images of a label list into a bin file or a slim-dir: plan, then
    execute (see the module doc)."""
    return execute(plan_preprocess(data_dir, label_list, output, fmt=fmt, jobs=jobs,
                                   limit=limit, skip_missing=skip_missing, skip_bad=skip_bad,
                                   allow_inside=allow_inside), progress)
