"""The imagenet_user label list: one `relative/image/path label` per line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError

FORMAT_HINT = ("each line must be `relative/path/to/image.jpg LABEL` (two whitespace-"
               "separated fields, LABEL an integer >= 0), e.g. `val/ILSVRC2012_val_00000001.jpg 65`")


@dataclass(frozen=True)
class LabelEntry:
    line_no: int        # 1-based line in the label list
    rel_path: str       # as written in the list, relative to the data dir
    label: int


def parse_label_text(text: str, source: str = "<label list>") -> list[LabelEntry]:
    """Parse label-list text; blank lines are ignored, any other bad line is an error.

    Raises LabError naming the file and line number of the first bad line, and
    when no entry is found at all.
    """
    entries: list[LabelEntry] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{source}:{line_no}"
        if len(fields) != 2:
            raise LabError(f"label list line {line_no} has {len(fields)} field(s), expected 2: "
                           f"{line.strip()[:120]!r}", where=where, hint=FORMAT_HINT)
        rel, label_text = fields
        try:
            label = int(label_text)
        except ValueError:
            raise LabError(f"label list line {line_no}: label {label_text!r} is not an integer",
                           where=where, hint=FORMAT_HINT) from None
        if label < 0:
            raise LabError(f"label list line {line_no}: label {label} is negative",
                           where=where, hint=FORMAT_HINT)
        if label >= 2 ** 31:
            raise LabError(f"label list line {line_no}: label {label} is too large",
                           where=where, hint="labels must fit a 4-byte int (slim-dir format)")
        entries.append(LabelEntry(line_no, rel, label))
    if not entries:
        raise LabError(f"label list {source} is empty", where=source,
                       hint="it needs one `relative/path label` line per image; "
                            "`invoke sample-data` writes an example")
    return entries


def read_label_list(path: Path) -> tuple[list[LabelEntry], bytes]:
    """Entries and the raw bytes (for the sidecar's sha256) of a label-list file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LabError(f"label list not found: {path}", where=str(path),
                       hint="pass --label-list (default: val_list.txt inside --data-dir)") from None
    except IsADirectoryError:
        raise LabError(f"label list is a directory: {path}", where=str(path),
                       hint="pass the label-list file with --label-list") from None
    except OSError as err:
        raise LabError(f"cannot read the label list: {err.strerror}", where=str(path)) from None
    try:
        text = raw.decode("utf-8-sig")     # a BOM some editors write is not part of a path
    except UnicodeDecodeError as err:
        line_no = raw[:err.start].count(b"\n") + 1
        raise LabError(f"label list line {line_no} is not UTF-8 text",
                       where=f"{path}:{line_no}", hint=FORMAT_HINT) from None
    return parse_label_text(text, str(path)), raw
