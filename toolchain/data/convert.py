"""bin <-> slim-dir conversion: the float records are copied, no image is decoded again."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError
from ..progress import NO_PROGRESS, ProgressSink
from ..results import JsonResult
from .binfmt import DatasetReader
from .formats import INT32_MAX, INT32_MIN, SLIM_DIR, format_named, format_of
from .sidecar import build_sidecar, dataset_digest, sidecar_path, verify_sidecar, write_sidecar
from .staging import remove_path, stage_output

# What a converted dataset's sidecar keeps from its source's: how the images were made.
CARRIED_KEYS = ("label_list", "data_dir", "algorithm", "pillow", "numpy", "options",
                "skipped_missing", "skipped_bad", "created_at")


@dataclass
class ConvertResult(JsonResult):
    source: Path
    source_format: str
    output: Path
    format: str
    count: int
    sha256: str
    size_bytes: int
    sidecar: Path
    source_sidecar_verified: bool
    seconds: float


def convert_dataset(source: Path | str, output: Path | str, to_fmt: str,
                    progress: ProgressSink = NO_PROGRESS) -> ConvertResult:
    """Convert a dataset to the other format.

    The source's sidecar, when present, must match (it is checked first); its
    provenance (label list, Pillow version, options) is carried into the new
    sidecar. The output is written under a temporary name and renamed.
    """
    started = time.perf_counter()
    source, output = Path(source), Path(output)
    target = format_named(to_fmt, "--to")
    src_fmt = format_of(source)
    if src_fmt is target:
        raise LabError(f"{source} is already in the {target.name} format", where=str(source),
                       hint="pick the other format with --to (bin or slim-dir)")
    if output.resolve() == source.resolve():
        raise LabError("--out must differ from the source", where=str(output))
    carried: dict = {}
    verified = False
    if sidecar_path(source).exists():
        old = verify_sidecar(source)
        verified = True
        carried = {k: v for k, v in old.items() if k in CARRIED_KEYS}
    with DatasetReader(source) as reader:
        labels = reader.labels.copy()
        if target is SLIM_DIR and labels.size and (labels.min() < INT32_MIN
                                                   or labels.max() > INT32_MAX):
            raise LabError("labels do not fit the slim-dir 4-byte int", where=str(source))
        tmp = stage_output(output, target, target.size(reader.count))
        try:
            writer = target.open_writer(tmp)
            try:
                with progress.track("converting", total=reader.count, unit="images") as bar:
                    for slot, (image, label) in enumerate(reader.iter_records()):
                        writer.write(slot, image, label)
                        bar.advance(1)
            finally:
                writer.close()
            target.finish(tmp, labels)
            digest, size = dataset_digest(tmp)
            meta = build_sidecar(output, target.name, reader.count, labels, digest, size,
                                 converted_from={"path": str(source.resolve()),
                                                 "format": src_fmt.name,
                                                 "sidecar_verified": verified},
                                 **carried)
            sidecar_path(output).unlink(missing_ok=True)
            target.publish(tmp, output)
            side = write_sidecar(output, meta)
        except BaseException:
            remove_path(tmp)
            raise
    return ConvertResult(source=source, source_format=src_fmt.name, output=output,
                         format=target.name, count=reader.count, sha256=digest,
                         size_bytes=size, sidecar=side, source_sidecar_verified=verified,
                         seconds=round(time.perf_counter() - started, 3))
