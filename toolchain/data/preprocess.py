"""Images -> a dataset file, exactly as Paddle's full_ILSVRC2012_val_preprocess.py.

The per-image algorithm (`process_image`) is the reference's, step for step:
short side to 256 (`int(round(side * 256 / short))`, LANCZOS), centre crop 224
(floor division), `convert('RGB')` after the crop, then CHW float32 / 255,
`-= mean`, `/= std` with float64 mean/std subtracted in place. The last three
steps map each (channel, uint8 value) to one float32, so they are done with a
3x256 lookup table computed by those very numpy operations: same bytes, a
fraction of the work.

The pipeline: the label list is parsed and every image path checked before any
work; the output is preallocated under a temporary name beside the target;
worker processes decode, transform and `os.pwrite` each image straight into its
slot (the parent only counts), so memory stays flat and the parent does not
copy 600 KB per image. The result is verified, hashed, given a sidecar, and
renamed into place. Any failure removes the temporary output.
"""

from __future__ import annotations

import os
import shutil
import struct
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import LabError
from ..results import JsonResult
from . import binfmt
from .labels import LabelEntry, read_label_list

RESIZE_SHORT = 256
CROP = 224
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
ALGORITHM = ("Paddle full_ILSVRC2012_val_preprocess.py process_image: short side to 256 "
             "(round, LANCZOS), centre crop 224 (floor), RGB after crop, CHW float32 /255, "
             "-mean, /std")
CHUNK = 8               # images per task sent to a worker
SHOW_FIRST = 5          # how many missing/bad images an error lists


class ImageTooSmall(ValueError):
    pass


def normalize_lut():
    """float32 (3, 256): the reference's `/255, -= mean, /= std` for every uint8 value."""
    import numpy as np

    img_mean = np.array(MEAN).reshape((3, 1))     # float64, as in the reference
    img_std = np.array(STD).reshape((3, 1))
    values = np.broadcast_to(np.arange(256, dtype=np.uint8), (3, 256))
    lut = values.astype("float32") / 255
    lut -= img_mean
    lut /= img_std
    assert lut.dtype == np.float32
    return np.ascontiguousarray(lut)


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
    """Decode, resize short side, centre crop, convert: uint8 (224, 224, 3).

    Exactly the reference's calls. (Splitting the two resampling passes to
    skip the cropped-away lines is not byte-exact: Pillow 13 picks the pass
    order from the sizes, see python-pillow/Pillow#9549.)
    """
    import numpy as np
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
    return np.asarray(img)


def process_image(path: str, lut=None, out=None):
    """One image file -> float32 (3, 224, 224), byte-identical to the reference."""
    import numpy as np

    lut = normalize_lut() if lut is None else lut
    pixels = load_cropped_rgb(path)
    out = np.empty((3, CROP, CROP), dtype=np.float32) if out is None else out
    for c in range(3):
        np.take(lut[c], pixels[:, :, c], out=out[c])
    return out


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
    import numpy as np

    if in_worker:   # Ctrl-C goes to the whole process group; only the parent acts on it
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if parent_pid is not None:
            die_with_parent(parent_pid)
    _W.clear()
    _W["fmt"] = fmt
    _W["lut"] = normalize_lut()
    _W["out"] = np.empty((3, CROP, CROP), dtype=np.float32)
    if fmt == "bin":
        _W["fd"] = os.open(target, os.O_WRONLY)
    else:
        _W["dir"] = target


def _worker_close() -> None:
    fd = _W.pop("fd", None)
    if fd is not None:
        os.close(fd)
    _W.clear()


def _pwrite_all(fd: int, data, offset: int) -> None:
    view = memoryview(data).cast("B")
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _worker_chunk(chunk: list[tuple[int, str, int]]) -> list[tuple[int, str, str]]:
    """Process (slot, path, label) items; return (slot, kind, message) for failures.

    kind "bad": the image could not be decoded/processed (skippable);
    kind "write": the output could not be written (always fatal).
    """
    failures = []
    out = _W["out"]
    for slot, path, label in chunk:
        try:
            process_image(path, _W["lut"], out)
        except Exception as err:  # any decode failure is reported, never zero-filled
            failures.append((slot, "bad", f"{type(err).__name__}: {err}"))
            continue
        try:
            if _W["fmt"] == "bin":
                _pwrite_all(_W["fd"], out, binfmt.image_offset(slot))
            else:
                with open(os.path.join(_W["dir"], binfmt.slim_name(slot)), "wb") as f:
                    f.write(memoryview(out).cast("B"))
                    f.write(struct.pack("<i", label))
        except OSError as err:
            failures.append((slot, "write", f"{err.strerror or err}"))
    return failures


# -- result ------------------------------------------------------------------

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


# -- parent side ---------------------------------------------------------------

def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def resolve_label_list(data_dir: Path, label_list: Path | str | None) -> Path:
    """Default `val_list.txt` in data_dir; a given path as is, else inside data_dir."""
    if label_list is None or str(label_list) == "":
        return data_dir / "val_list.txt"
    p = Path(label_list)
    if p.is_absolute() or p.exists():
        return p
    return data_dir / p


def _describe(entries: list[tuple[LabelEntry, str]], source: Path) -> str:
    lines = [f"  line {e.line_no}: {e.rel_path}" + (f" ({msg})" if msg else "")
             for e, msg in entries[:SHOW_FIRST]]
    if len(entries) > SHOW_FIRST:
        lines.append(f"  ... and {len(entries) - SHOW_FIRST} more")
    return "\n".join(lines)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_partials(output: Path) -> None:
    """Temporary outputs of runs that were killed (SIGKILL, power loss) are removed."""
    try:
        candidates = list(output.parent.glob(f".{output.name}.partial-*"))
    except OSError:
        return
    for stale in candidates:
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            try:
                binfmt.remove_path(stale)
            except OSError:
                pass


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def refuse_output_over_inputs(output: Path, data_dir: Path, list_path: Path,
                              images: list[Path], allow_inside: bool = False) -> None:
    """LabError if writing `output` would overwrite or delete an input.

    Paths are compared resolved (symlinks, `..`): the output may not be the label
    list, a listed image, the data dir or a folder holding any of them, nor lie
    inside the data dir unless allow_inside.
    """
    out = output.resolve()
    data = data_dir.resolve()
    hint = ("choose an --output outside --data-dir, e.g. the default "
            "<work_dir>/data/val.bin")

    def refuse(what: str, where: Path) -> None:
        raise LabError(f"--output {output} {what}; preprocess would destroy its input",
                       where=str(where), hint=hint)

    if out == list_path.resolve():
        refuse("is the label list", list_path)
    if out == data:
        refuse("is the --data-dir", data_dir)
    if _inside(data, out):
        refuse(f"is a folder holding the --data-dir {data_dir}", data_dir)
    if _inside(list_path.resolve(), out):
        refuse(f"is a folder holding the label list {list_path}", list_path)
    if os.path.lexists(output):
        out_stat = os.stat(output) if output.exists() else None
        for image in images:
            real = image.resolve()
            if real == out or _inside(real, out):
                refuse(f"is (or holds) the listed image {image}", image)
            if out_stat is not None and image.exists():
                st = os.stat(image)
                if (st.st_dev, st.st_ino) == (out_stat.st_dev, out_stat.st_ino):
                    refuse(f"is the listed image {image} (the same file)", image)
    if _inside(out, data) and not allow_inside:
        raise LabError(f"--output {output} is inside the image folder --data-dir {data_dir}",
                       where=str(output),
                       hint=hint + "; or pass --allow-inside to write it there anyway")


def _prepare_output(output: Path, fmt: str, need_bytes: int) -> Path:
    """Check the output location and create the temporary output; LabError if unusable."""
    if fmt == "bin" and output.is_dir():
        raise LabError(f"--output {output} is a directory; a bin dataset is a file",
                       where=str(output), hint="give a file name, or use --format slim-dir")
    if fmt == "slim-dir" and output.exists() and not output.is_dir():
        raise LabError(f"--output {output} is a file; a slim-dir dataset is a directory",
                       where=str(output), hint="give a directory name, or use --format bin")
    parent = output.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise LabError(f"cannot create the output directory {parent}: {err.strerror or err}",
                       where=str(parent), hint="choose an --output in a writable directory") \
            from None
    tmp = binfmt.temp_sibling(output)
    binfmt.remove_path(tmp)
    _remove_stale_partials(output)
    try:
        if fmt == "bin":
            with open(tmp, "xb") as f:
                os.ftruncate(f.fileno(), need_bytes)
        else:
            tmp.mkdir()
    except OSError as err:
        binfmt.remove_path(tmp)
        raise LabError(f"cannot write the output in {parent}: {err.strerror or err}",
                       where=str(output),
                       hint="the directory is read-only or not writable by you; choose an "
                            "--output in a writable directory") from None
    try:
        free = shutil.disk_usage(parent).free
    except OSError:
        free = None
    if free is not None and fmt == "slim-dir" and free < need_bytes:
        binfmt.remove_path(tmp)
        raise LabError(f"not enough disk space in {parent}: need {need_bytes / 1e9:.2f} GB, "
                       f"{free / 1e9:.2f} GB free", where=str(parent),
                       hint="free space or choose another --output")
    if free is not None and fmt == "bin":
        allocated = os.stat(tmp).st_blocks * 512
        if free + allocated < need_bytes:
            binfmt.remove_path(tmp)
            raise LabError(f"not enough disk space in {parent}: need {need_bytes / 1e9:.2f} GB, "
                           f"{free / 1e9:.2f} GB free", where=str(parent),
                           hint="free space or choose another --output")
    return tmp


class _Progress:
    """rich progress bar on stderr: done/total, images/s, elapsed, ETA.

    Shown only on a terminal. `start()` is separate so that worker processes
    are forked before rich's refresh thread exists.
    """

    def __init__(self, total: int, enabled: bool, label: str = "preprocessing"):
        self._p = None
        self._total, self._label = total, label
        self._enabled = enabled

    def start(self) -> "_Progress":
        if not self._enabled or self._p is not None:
            return self
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        con = Console(stderr=True)
        if not con.is_terminal:
            return self
        self._p = Progress(TextColumn(f"[bold]{self._label}"), BarColumn(),
                           MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                           TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                           console=con, transient=False)
        self._task = self._p.add_task(self._label, total=self._total, rate="")
        self._start = time.perf_counter()
        self._done = 0
        self._p.start()
        return self

    def advance(self, n: int) -> None:
        if self._p is None:
            return
        self._done += n
        rate = self._done / max(1e-9, time.perf_counter() - self._start)
        self._p.update(self._task, advance=n, rate=f"{rate:.0f} images/s")

    def close(self) -> None:
        self._enabled = False
        if self._p is not None:
            self._p.stop()
            self._p = None


class _InOrderDigest:
    """sha256 of the output, fed slot by slot as the in-order results arrive.

    Hashing while the workers still run uses the parent's share of the CPU
    instead of a serial pass over the whole file at the end. Any skipped image
    invalidates it (the file is compacted afterwards and hashed again).
    """

    def __init__(self, target: Path, fmt: str, count: int):
        import hashlib

        self.fmt, self.target, self.valid = fmt, target, True
        self.h = hashlib.sha256()
        self.size = 0
        self.fd = os.open(target, os.O_RDONLY) if fmt == "bin" else None
        if fmt == "bin":
            self._update(struct.pack("<q", count))

    def _update(self, data) -> None:
        self.h.update(data)
        self.size += len(data)

    def add(self, chunk) -> None:
        if not self.valid:
            return
        for slot, _path, _label in chunk:
            if self.fmt == "bin":
                self._update(os.pread(self.fd, binfmt.IMAGE_BYTES, binfmt.image_offset(slot)))
            else:
                with open(os.path.join(self.target, binfmt.slim_name(slot)), "rb") as f:
                    self._update(f.read())

    def finish(self, labels) -> tuple[str, int] | None:
        import numpy as np

        self.close()
        if not self.valid:
            return None
        if self.fmt == "bin":
            self._update(np.asarray(labels, dtype="<i8").tobytes())
        return self.h.hexdigest(), self.size

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _run_pool(tasks, fmt: str, target: Path, jobs: int, bar: _Progress,
              on_failure, digest: _InOrderDigest) -> None:
    """Run every chunk, results in order; on_failure(slot, kind, msg) may raise to stop."""

    def handle(chunk, failures) -> None:
        for fail in failures:
            on_failure(*fail)
        if failures:
            digest.valid = False
        digest.add(chunk)
        bar.advance(len(chunk))

    if jobs == 1:
        _worker_init(fmt, str(target), False)
        bar.start()
        try:
            for chunk in tasks:
                handle(chunk, _worker_chunk(chunk))
        finally:
            _worker_close()
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from PIL import Image  # noqa: F401  (imported once here, inherited by the forked workers)

    # fork: workers start at once and share the parent's imported modules.
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init,
                               initargs=(fmt, str(target), True, os.getpid()))
    try:
        results = pool.map(_worker_chunk, tasks)
        bar.start()
        for chunk, failures in zip(tasks, results):
            handle(chunk, failures)
    except BrokenProcessPool:
        raise LabError("a worker process died (killed for memory, or crashed)",
                       hint="retry with fewer --jobs; run with --debug for details") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _compact_bin(tmp: Path, keep: list[int]) -> None:
    """Drop the slots of skipped images: move the kept records down, in order."""
    fd = os.open(tmp, os.O_RDWR)
    try:
        for new, old in enumerate(keep):
            if new != old:
                data = os.pread(fd, binfmt.IMAGE_BYTES, binfmt.image_offset(old))
                _pwrite_all(fd, data, binfmt.image_offset(new))
        os.ftruncate(fd, binfmt.labels_offset(len(keep)))
    finally:
        os.close(fd)


def _compact_slim(tmp: Path, keep: list[int]) -> None:
    keep_set = set(keep)
    for name in os.listdir(tmp):
        idx = int(name.split(".")[0])
        if idx not in keep_set:
            os.unlink(tmp / name)
    for new, old in enumerate(keep):
        if new != old:
            os.rename(tmp / binfmt.slim_name(old), tmp / binfmt.slim_name(new))


def _finish_bin(tmp: Path, labels) -> None:
    import numpy as np

    count = len(labels)
    with open(tmp, "r+b") as f:
        f.write(struct.pack("<q", count))
        f.seek(binfmt.labels_offset(count))
        f.write(np.asarray(labels, dtype="<i8").tobytes())
        f.truncate(binfmt.bin_size(count))


def _verify_written(tmp: Path, fmt: str, labels) -> None:
    """The temporary output holds exactly the expected count and labels."""
    import numpy as np

    with binfmt.DatasetReader(tmp) as reader:
        ok = reader.count == len(labels) and np.array_equal(reader.labels,
                                                             np.asarray(labels, np.int64))
    if not ok:
        raise LabError("the written dataset does not hold the expected images and labels",
                       where=str(tmp), hint="this is a bug; rerun with --debug and report it")


def preprocess_dataset(data_dir: Path | str, label_list: Path | str | None, output: Path | str,
                       fmt: str = "bin", jobs: int | None = None, limit: int | None = None,
                       skip_missing: bool = False, skip_bad: bool = False,
                       progress: bool = True, allow_inside: bool = False) -> PreprocessResult:
    """Preprocess the images of a label list into a bin file or a slim-dir (see module doc)."""
    import numpy as np
    import PIL

    from .sidecar import build_sidecar, dataset_digest, sidecar_path, write_sidecar

    started = time.perf_counter()
    if fmt not in binfmt.FORMATS:
        raise LabError(f"unknown --format {fmt!r}", hint="use bin or slim-dir")
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise LabError(f"--data-dir {data_dir} is not a directory", where=str(data_dir),
                       hint="point --data-dir at the folder the label-list paths are relative to")
    list_path = resolve_label_list(data_dir, label_list)
    entries, list_raw = read_label_list(list_path)
    listed = len(entries)
    if limit is not None:
        if limit < 1:
            raise LabError(f"--limit {limit} must be at least 1")
        entries = entries[:limit]
    jobs = default_jobs() if not jobs else int(jobs)
    if jobs < 1:
        raise LabError(f"--jobs {jobs} must be at least 1")

    missing = [e for e in entries if not os.path.exists(data_dir / e.rel_path)]
    if missing and not skip_missing:
        raise LabError(
            f"{len(missing)} of {len(entries)} images in the label list are missing:\n"
            + _describe([(e, "") for e in missing], list_path),
            where=f"{list_path}:{missing[0].line_no}: {data_dir / missing[0].rel_path}",
            hint="fix the paths (they are relative to --data-dir) or pass --skip-missing to "
                 "leave them out (N shrinks; nothing is zero-filled)")
    missing_set = {e.line_no for e in missing}
    todo = [e for e in entries if e.line_no not in missing_set]
    if not todo:
        raise LabError("none of the images in the label list exist", where=str(list_path),
                       hint="check --data-dir: label-list paths are relative to it")

    output = Path(output)
    refuse_output_over_inputs(output, data_dir, list_path,
                              [data_dir / e.rel_path for e in todo], allow_inside)
    need = (binfmt.bin_size(len(todo)) if fmt == "bin"
            else len(todo) * binfmt.SLIM_RECORD_BYTES)
    tmp = _prepare_output(output, fmt, need)
    bad: list[tuple[LabelEntry, str]] = []
    bar = None
    try:
        if fmt == "bin":
            _finish_bin(tmp, [e.label for e in todo])
        items = [(slot, str(data_dir / e.rel_path), e.label) for slot, e in enumerate(todo)]
        # Chunks small enough that every worker gets several, at most CHUNK images.
        chunk = max(1, min(CHUNK, len(items) // (jobs * 4)))
        tasks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
        jobs = max(1, min(jobs, len(tasks)))

        def on_failure(slot: int, kind: str, msg: str) -> None:
            e = todo[slot]
            if kind == "write":
                raise LabError(f"cannot write the output: {msg}", where=str(output),
                               hint="check free disk space and permissions")
            if not skip_bad:
                raise LabError(f"image on label-list line {e.line_no} cannot be read: {msg}",
                               where=f"{list_path}:{e.line_no}: {data_dir / e.rel_path}",
                               hint="replace or remove the image, or pass --skip-bad to "
                                    "leave unreadable images out")
            bad.append((e, msg))

        bar = _Progress(len(todo), progress)
        hasher = _InOrderDigest(tmp, fmt, len(todo))
        try:
            _run_pool(tasks, fmt, tmp, jobs, bar, on_failure, hasher)
        finally:
            hasher.close()
        bar.close()

        kept = todo
        if bad:
            bad_lines = {e.line_no for e, _ in bad}
            keep = [slot for slot, e in enumerate(todo) if e.line_no not in bad_lines]
            kept = [todo[s] for s in keep]
            if not kept:
                raise LabError("no image of the label list could be read",
                               where=str(list_path), hint="check the image files")
            if fmt == "bin":
                _compact_bin(tmp, keep)
            else:
                _compact_slim(tmp, keep)
        labels = [e.label for e in kept]
        if fmt == "bin":
            _finish_bin(tmp, labels)
        _verify_written(tmp, fmt, labels)
        hashed = hasher.finish(labels)
        sha, size = hashed if hashed else dataset_digest(tmp, fmt, len(labels))
        if size != (binfmt.bin_size(len(labels)) if fmt == "bin"
                    else len(labels) * binfmt.SLIM_RECORD_BYTES):
            raise LabError("the written dataset has the wrong size", where=str(tmp),
                           hint="this is a bug; rerun with --debug and report it")
        label_arr = np.asarray(labels)
        import hashlib

        meta = build_sidecar(
            output, fmt, len(labels), label_arr, sha, size,
            label_list={"path": str(list_path.resolve()),
                        "sha256": hashlib.sha256(list_raw).hexdigest(),
                        "entries": listed},
            data_dir=str(data_dir.resolve()),
            algorithm=ALGORITHM,
            pillow=PIL.__version__, numpy=np.__version__,
            options={"format": fmt, "jobs": jobs, "limit": limit,
                     "skip_missing": skip_missing, "skip_bad": skip_bad},
            skipped_missing=[{"line": e.line_no, "path": e.rel_path} for e in missing],
            skipped_bad=[{"line": e.line_no, "path": e.rel_path, "error": m} for e, m in bad],
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        # An older sidecar must never describe the new data, even for a moment.
        sidecar_path(output).unlink(missing_ok=True)
        binfmt.replace_path(tmp, output)
        side = write_sidecar(output, meta)
    except BaseException:
        if bar is not None:
            bar.close()
        binfmt.remove_path(tmp)
        raise
    seconds = time.perf_counter() - started
    return PreprocessResult(
        output=output, format=fmt, count=len(labels), listed=listed, label_list=list_path,
        data_dir=data_dir, sidecar=side, sha256=sha, size_bytes=size,
        label_min=meta["label_min"], label_max=meta["label_max"], jobs=jobs,
        seconds=round(seconds, 3), images_per_s=round(len(labels) / seconds, 1),
        skipped_missing=meta["skipped_missing"], skipped_bad=meta["skipped_bad"],
        pillow=PIL.__version__)
