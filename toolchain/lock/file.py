"""lab.lock.toml: the one reader and writer, atomic, keeping tables this code does not own.

Tables:
  [meta]                  schema (the lock format's version), required (the tables a
                          reader must understand), when and where it was made
  [libraries."<row id>"]  url, sha256, size, md5 (optional), recorded  (fetch-lib,
                          trust on first use when the manifest has no checksum)
  everything else         owned by `invoke lock` (toolchain.lock.collect)

`load_lock` is what every reader (verify, fetch-lib, lock, lab) goes through: it
refuses, as one LabError naming the file, the table or key and the fix, a file that
is not UTF-8 or not TOML, values of the wrong type where the readers need a type,
and a lock a newer paddle-trt-lab wrote (a higher `meta.schema`, or a table named
in `meta.required` that this version does not know). A file without `meta.schema`
(fetch-lib's own, or hand-written) is read as schema 1.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import tomllib

from ..errors import LabError

# The lock format this version reads and writes. Raise it when a reader of the old
# format would misread the new one (then an old tool refuses the new lock).
SCHEMA = 1
# Tables `invoke lock` owns and `invoke verify` compares; [meta], [missing] and
# [libraries] are bookkeeping.
COMPARED_TABLES = ("tool", "python", "library", "system", "demo", "models", "data")
KNOWN_TABLES = ("meta", *COMPARED_TABLES, "missing", "libraries")
_HEX = {"sha256": 64, "md5": 32}


def _fix(path: Path) -> str:
    return (f"restore {path.name} from git (`git checkout -- {path.name}`) or delete it and "
            "run `invoke lock` again (fetch-lib records its checksums again on the next fetch)")


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f'"{name}"'


def load_lock(path: Path) -> dict[str, Any]:
    """The lock as a dict ({} when the file does not exist), checked by `check_lock`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise LabError(f"cannot read the lock file: {exc.strerror or exc}", where=str(path),
                       hint="check the path (lab.lock_file / --lock) and its permissions"
                       ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise LabError(f"the lock file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                       f"line {line}); TOML files are UTF-8", where=str(path),
                       hint=_fix(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LabError(f"the lock file is not valid TOML: {exc}", where=str(path),
                       hint=_fix(path)) from None
    check_lock(data, path)
    return data


def check_lock(data: dict[str, Any], path: Path | str = "lab.lock.toml") -> None:
    """Refuse a lock this version cannot read; raise LabError naming the table/key."""
    path = Path(path)

    def bad(what: str, why: str) -> LabError:
        return LabError(f"the lock file's {what} {why}", where=str(path), hint=_fix(path))

    for table in KNOWN_TABLES:
        if table in data and not isinstance(data[table], dict):
            raise bad(f"[{table}]", f"must be a table, not {_type_name(data[table])} "
                                    f"({table} = {data[table]!r})")
    _check_version(data, path)
    for name, value in (data.get("missing") or {}).items():
        if not isinstance(value, str):
            raise bad(f"[missing] {_key(name)}", f"must be a string (why the item is "
                                                 f"missing), not {_type_name(value)}")
    for row, entry in (data.get("libraries") or {}).items():
        where = f'[libraries."{row}"]'
        if not isinstance(entry, dict):
            raise bad(where, f"must be a table (url, sha256, size), not {_type_name(entry)}")
        _check_fields(entry, where, bad, {"url": str, "sha256": str, "md5": str, "size": int,
                                          "source": str}, hex_digests=True)
    for table in ("models", "data"):
        for rel, entry in (data.get(table) or {}).items():
            where = f'[{table}."{rel}"]'
            if not isinstance(entry, dict):
                raise bad(where, f"must be a table (sha256, size), not {_type_name(entry)}")
            _check_fields(entry, where, bad, {"sha256": str, "size": int})
    library = data.get("library") or {}
    _check_fields(library, "[library]", bad, {"archive_sha256": str, "archive_size": int,
                                              "main_lib_sha256": str, "url": str,
                                              "row_id": str, "version_txt": dict})


def _check_fields(entry: dict, where: str, bad: Any, types: dict[str, type],
                  hex_digests: bool = False) -> None:
    """Type-check the keys readers use; with hex_digests (fetch-lib's checksums, which
    decide what is downloaded) sha256/md5 must also be hex digests of the right length."""
    for key, want in types.items():
        if key not in entry:
            continue
        value = entry[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise bad(f"{where} {key}", f"must be {_type_name(want())}, not "
                                        f"{_type_name(value)} ({key} = {value!r})")
        if want is int and value < 0:
            raise bad(f"{where} {key}", f"must not be negative ({key} = {value})")
        if hex_digests and key in _HEX and not re.fullmatch(f"[0-9a-fA-F]{{{_HEX[key]}}}", value):
            raise bad(f"{where} {key}", f"must be {_HEX[key]} hex digits ({key} = {value!r})")


def _check_version(data: dict[str, Any], path: Path) -> None:
    meta = data.get("meta") or {}
    schema = meta.get("schema", 1)
    writer = (data.get("tool") or {}).get("version") if isinstance(data.get("tool"), dict) \
        else None
    by = f"paddle-trt-lab {writer}" if isinstance(writer, str) else "another paddle-trt-lab"
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        raise LabError(f"the lock file's [meta] schema must be a whole number >= 1, not "
                       f"{schema!r}", where=str(path), hint=_fix(path))
    from .. import __version__

    if schema > SCHEMA:
        raise LabError(f"the lock file was written by {by} in lock schema {schema}; this is "
                       f"paddle-trt-lab {__version__}, which reads lock schema {SCHEMA} only",
                       where=str(path),
                       hint=f"upgrade paddle-trt-lab here to the version that wrote the lock"
                            f"{' (' + writer + ')' if isinstance(writer, str) else ''}, or "
                            "run `invoke lock` with this version to pin this machine instead")
    required = meta.get("required", [])
    if not isinstance(required, list) or not all(isinstance(t, str) for t in required):
        raise LabError(f"the lock file's [meta] required must be an array of table names, "
                       f"not {required!r}", where=str(path), hint=_fix(path))
    unknown = [t for t in required if t not in KNOWN_TABLES]
    if unknown:
        raise LabError(f"the lock file needs table(s) {', '.join(unknown)} that paddle-trt-lab "
                       f"{__version__} does not know (written by {by}); comparing without "
                       "them would wrongly say the machine matches", where=str(path),
                       hint="upgrade paddle-trt-lab here to the version that wrote the lock, "
                            "or run `invoke lock` with this version to pin this machine instead")


def save_lock(path: Path, data: dict[str, Any]) -> None:
    """Write the lock atomically; the file keeps its mode (0644 under umask 022 if new),
    since it holds no secrets and is meant to be committed. Stamps meta.schema."""
    import tomli_w

    from ..fsio import atomic_write_bytes

    out = dict(data)
    out["meta"] = {"schema": SCHEMA, **dict(data.get("meta") or {})}
    out = {"meta": out.pop("meta"), **out}
    atomic_write_bytes(Path(path), tomli_w.dumps(out).encode("utf-8"))


def library_entry(data: dict[str, Any], row_id: str) -> dict[str, Any] | None:
    return (data.get("libraries") or {}).get(row_id)


def set_library_entry(data: dict[str, Any], row_id: str, entry: dict[str, Any]) -> None:
    data.setdefault("libraries", {})[row_id] = entry
