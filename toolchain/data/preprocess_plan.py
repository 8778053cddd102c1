"""The plan of a preprocessing run: every input checked, every decision made, nothing
written. `--dry-run` shows it; toolchain/data/preprocess.py `execute` runs it."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError
from ..shellscript import ShellScript
from ..results import JsonResult
from .formats import FORMATS, DatasetFormat, format_named
from .labels import LabelEntry, read_label_list

CHUNK = 8               # images per task sent to a worker, at most
SHOW_FIRST = 5          # how many missing images an error lists


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


def _describe(entries: list[tuple[LabelEntry, str]]) -> str:
    lines = [f"  line {e.line_no}: {e.rel_path}" + (f" ({msg})" if msg else "")
             for e, msg in entries[:SHOW_FIRST]]
    if len(entries) > SHOW_FIRST:
        lines.append(f"  ... and {len(entries) - SHOW_FIRST} more")
    return "\n".join(lines)


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
    hint = ("choose an --out outside --data-dir, e.g. the default "
            "<work_dir>/data/val.bin")

    def refuse(what: str, where: Path) -> None:
        raise LabError(f"--out {output} {what}; preprocess would destroy its input",
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
        raise LabError(f"--out {output} is inside the image folder --data-dir {data_dir}",
                       where=str(output),
                       hint=hint + "; or pass --allow-inside to write it there anyway")


def _free_bytes(folder: Path) -> int | None:
    """Free space where `folder` is or will be created (its nearest existing ancestor)."""
    for place in (folder, *folder.parents):
        if place.exists():
            try:
                return shutil.disk_usage(place).free
            except OSError:
                return None
    return None


@dataclass(frozen=True)
class PreprocessPlan(JsonResult):
    """What a preprocessing run will read, write and use; made before anything is written."""

    data_dir: Path
    label_list: Path
    label_list_sha256: str
    listed: int                         # entries in the label list
    entries: tuple[LabelEntry, ...]     # the images to process, in output order
    missing: tuple[LabelEntry, ...]     # listed but absent (left out with skip_missing)
    output: Path
    format: str
    jobs: int                           # worker processes that will run
    chunk_size: int                     # images per task sent to a worker
    chunks: int
    need_bytes: int                     # size of the output before any image is skipped
    free_bytes: int | None              # free now where the output goes
    limit: int | None = None
    skip_missing: bool = False
    skip_bad: bool = False
    allow_inside: bool = False

    @property
    def layout(self) -> DatasetFormat:
        return FORMATS[self.format]

    def image_path(self, entry: LabelEntry) -> Path:
        return self.data_dir / entry.rel_path

    def script(self) -> str:
        """The plan as a shell script one can paste (what `--dry-run` prints): what was
        found and decided, as comments, then the command that runs exactly this plan."""
        def size(n: int) -> str:
            return f"{n:,} bytes ({n / 1e9:.2f} GB)"

        notes = [f"label list: {self.label_list} ({self.listed} entries, "
                 f"sha256 {self.label_list_sha256[:16]}...)",
                 f"images:     {len(self.entries)} to process"
                 + (f", {len(self.missing)} missing left out" if self.missing else ""),
                 f"workers:    {self.jobs} ({self.chunks} chunks of up to "
                 f"{self.chunk_size} images)",
                 f"disk:       {size(self.need_bytes)} needed, "
                 + ("free space unknown" if self.free_bytes is None
                    else f"{size(self.free_bytes)} free")]
        notes += [f"missing:    line {e.line_no}: {e.rel_path}" for e in self.missing[:SHOW_FIRST]]
        argv = ["invoke", "preprocess", "--data-dir", str(self.data_dir),
                "--label-list", str(self.label_list), "--out", str(self.output),
                "--format", self.format, "--jobs", str(self.jobs)]
        if self.limit is not None:
            argv += ["--limit", str(self.limit)]
        argv += [flag for flag, on in (("--skip-missing", self.skip_missing),
                                       ("--skip-bad", self.skip_bad),
                                       ("--allow-inside", self.allow_inside)) if on]
        sh = ShellScript("preprocess --dry-run", "nothing was written")
        for text in notes:
            sh.note(text)
        return sh.run(argv).render()


def plan_preprocess(data_dir: Path | str, label_list: Path | str | None, output: Path | str,
                    fmt: str = "bin", jobs: int | None = None, limit: int | None = None,
                    skip_missing: bool = False, skip_bad: bool = False,
                    allow_inside: bool = False) -> PreprocessPlan:
    """Check every input and decide the run; reads the label list and looks the images
    up, writes nothing. LabError for anything that would make the run fail or harm
    its inputs."""
    import hashlib

    layout = format_named(fmt)
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
            + _describe([(e, "") for e in missing]),
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
    # Chunks small enough that every worker gets several, at most CHUNK images.
    chunk_size = max(1, min(CHUNK, len(todo) // (jobs * 4)))
    chunks = -(-len(todo) // chunk_size)
    return PreprocessPlan(
        data_dir=data_dir, label_list=list_path,
        label_list_sha256=hashlib.sha256(list_raw).hexdigest(), listed=listed,
        entries=tuple(todo), missing=tuple(missing), output=output, format=layout.name,
        jobs=max(1, min(jobs, chunks)), chunk_size=chunk_size, chunks=chunks,
        need_bytes=layout.size(len(todo)), free_bytes=_free_bytes(output.parent),
        limit=limit, skip_missing=skip_missing, skip_bad=skip_bad, allow_inside=allow_inside)
