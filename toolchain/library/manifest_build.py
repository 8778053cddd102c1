"""Turn the download matrix (recipes/sources/paddle_lib_matrix.json.gz) into recipes/paddle_inference.toml.

The matrix reached the project as shared/reference/paddle_lib_matrix.json; the gzipped copy in
recipes/sources/ is what the script and the tests read, so a clone stands alone.

Only `channel == "release"` rows are kept (nightlies and the 2018 CI links have
no version or no longer exist). Each row gets a stable, readable id built from
its fields, and a status:
- "ok":           in the final table of its version, fields consistent;
- "removed":      listed in a draft of the table and removed later
                  (`in_final_doc_table_for_version == false`);
- "contradicted": the docs disagree with the URL or with themselves about a field
                  (`doc_inconsistencies`).
Non-"ok" rows are never chosen by default. Checksums already present in an
existing TOML (sha256/md5 added by hand) are carried over by row id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import versions
from ..fsio import atomic_write_text

MATRIX_NAME = "paddle_lib_matrix.json"
MATRIX_PATH = Path(__file__).resolve().parents[2] / "recipes" / "sources" / f"{MATRIX_NAME}.gz"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")

# Order of the fields in each TOML row (None values are left out: TOML has no null).
ROW_FIELDS = ("id", "paddle_version", "status", "note", "device", "arch", "gcc", "math_lib",
              "avx", "cuda", "cudnn", "tensorrt", "jetpack", "jetson_target", "lib_family",
              "lib_file", "url", "url_published", "sha256", "md5")


def _tok(prefix: str, value: Any) -> str | None:
    return f"{prefix}{value}" if value not in (None, "") else None


def row_id(row: dict) -> str:
    """e.g. 2.5.2-linux-gpu-cuda10.2-cudnn7.6.5-trt7.0.0.11-gcc8.2-mkl-avx."""
    parts: list[str | None] = [row["paddle_version"], "linux", row["device"]]
    if row["device"] == "jetson":
        parts += [_tok("jetpack", row.get("jetpack")), row.get("jetson_target")]
    parts += [_tok("cuda", row.get("cuda")), _tok("cudnn", row.get("cudnn")),
              _tok("trt", row.get("tensorrt")), _tok("gcc", row.get("gcc")),
              row.get("math_lib")]
    if row.get("avx") is not None:
        parts.append("avx" if row["avx"] else "noavx")
    return "-".join(p for p in parts if p)


def _status(row: dict) -> tuple[str, str | None]:
    notes = []
    status = "ok"
    if row.get("in_final_doc_table_for_version") is False:
        status = "removed"
        notes.append("listed in a draft of the download table and removed before the final one")
    if row.get("doc_inconsistencies"):
        if status == "ok":
            status = "contradicted"
        notes.append("docs contradict: " + "; ".join(row["doc_inconsistencies"]))
    if row.get("null_because_docs_disagree"):
        fields = ", ".join(sorted(row["null_because_docs_disagree"]))
        notes.append(f"left unset because doc revisions disagree: {fields}")
    return status, (" | ".join(notes) or None)


def convert_row(row: dict) -> dict:
    status, note = _status(row)
    device = row["device"]
    out = {
        "id": row_id(row),
        "paddle_version": row["paddle_version"],
        "status": status,
        "note": note,
        "device": device,
        "arch": row.get("arch") or ("aarch64" if device == "jetson" else "x86_64"),
        "gcc": row.get("gcc"),
        "math_lib": row.get("math_lib"),
        "avx": row.get("avx"),
        # cuda_major_minor turns "10" into "10.0": what the user types and what
        # version.txt prints.
        "cuda": row.get("cuda_major_minor") or row.get("cuda"),
        "cudnn": row.get("cudnn"),
        "tensorrt": row.get("tensorrt"),
        "jetpack": row.get("jetpack"),
        "jetson_target": row.get("jetson_target"),
        "lib_family": row["lib_family"],
        "lib_file": row["lib_file"],
        "url": row.get("url_normalized") or row["url"],
        "url_published": row["url"] if row["url"] != row.get("url_normalized") else None,
        "sha256": None,
        "md5": row.get("md5"),
    }
    return out


def _disambiguate(rows: list[dict]) -> None:
    """Append the archive kind to the few ids two files share (e.g. .zip and .tgz)."""
    seen: dict[str, list[dict]] = {}
    for r in rows:
        seen.setdefault(r["id"], []).append(r)
    for rid, group in seen.items():
        if len(group) < 2:
            continue
        for r in group:
            name = r["lib_file"]
            kind = next((s.lstrip(".").replace(".", "") for s in ARCHIVE_SUFFIXES
                         if name.endswith(s)), name)
            stem = name[: -len(kind) - 1] if name.endswith(kind) else name
            r["id"] = f"{rid}-{stem.replace('_', '')}-{kind}"
    ids = [r["id"] for r in rows]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"manifest row ids are not unique: {dupes}")


def build_rows(matrix: list[dict], existing: dict[str, dict] | None = None) -> list[dict]:
    """Release rows of the matrix as manifest rows, sorted, ids unique."""
    rows = [convert_row(r) for r in matrix if r.get("channel") == "release"]
    _disambiguate(rows)
    for r in rows:
        old = (existing or {}).get(r["id"]) or {}
        for key in ("sha256", "md5"):
            if old.get(key) and not r.get(key):
                r[key] = old[key]
    rows.sort(key=lambda r: (versions.sort_key(r["paddle_version"]), r["id"]))
    return rows


def render_toml(rows: list[dict], source: str) -> str:
    import tomli_w

    header = (
        "# Prebuilt Paddle Inference C++ libraries for Linux (x86_64 CPU/GPU, Jetson).\n"
        "# GENERATED by scripts/build_manifest.py from " + source + "; do not edit by hand,\n"
        "# except to add sha256/md5 of a row (kept when the file is regenerated).\n"
        "# status: ok | removed (dropped from the docs' table) | contradicted (docs disagree\n"
        "# about a field); only \"ok\" rows are chosen unless --include-removed is given.\n\n"
    )
    clean = [{k: r[k] for k in ROW_FIELDS if r.get(k) is not None} for r in rows]
    body = tomli_w.dumps({"schema": 1, "source": source, "library": clean})
    return header + body


def load_existing(toml_path: Path) -> dict[str, dict]:
    import tomllib

    try:
        data = tomllib.loads(Path(toml_path).read_text())
    except FileNotFoundError:
        return {}
    return {r["id"]: r for r in data.get("library", [])}


def load_matrix(matrix_path: Path) -> list[dict]:
    """The matrix rows, from the JSON file or its gzipped copy (`.gz`)."""
    import gzip

    raw = Path(matrix_path).read_bytes()
    if str(matrix_path).endswith(".gz"):
        raw = gzip.decompress(raw)
    return json.loads(raw)


def build_manifest(matrix_path: Path, out_path: Path) -> int:
    """Regenerate `out_path` from `matrix_path`; returns the number of rows written."""
    rows = build_rows(load_matrix(matrix_path), load_existing(out_path))
    # The header names the matrix by its published name, whichever copy was read.
    text = render_toml(rows, f"shared/reference/{MATRIX_NAME}")
    atomic_write_text(Path(out_path), text)
    return len(rows)
