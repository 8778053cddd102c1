"""`invoke verify`: compare this machine with lab.lock.toml, item by item.

Each compared item of the lock (see toolchain.lock.collect) is
  ok         same value (or missing both in the lock and here)
  different  another value here (also: an item here that the lock does not have,
             or one the lock recorded as missing)
  missing    the lock has a value, this machine has none
A difference matters unless its name matches a `lab.verify.warn` pattern (then it
is only a warning; `--strict` makes warnings matter too). Items matching
`lab.verify.ignore` are not compared at all. Patterns are shell globs on item
names as `invoke verify` prints them, e.g. "tool.*", "python.packages.rich",
'data["calib/*'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import LabError
from .collect import COMPARED_TABLES, collect_lock, flatten_lock, matches
from .file import load_lock
from ..results import JsonResult
from ..settings import LabSettings, VerifySettings

# The tool's own version, and the demo binaries' bytes: a rebuild from the same flags
# and library differs in embedded paths (RPATH) and build ids, so it only warns.


@dataclass
class VerifyItem(JsonResult):
    key: str
    status: str                      # "ok" | "different" | "missing"
    expected: Any = None             # None: not in the lock / recorded missing there
    found: Any = None                # None: not found on this machine
    matters: bool = True
    note: str = ""                   # why an item is missing, on either side


@dataclass
class VerifyResult(JsonResult):
    lock_file: Path
    strict: bool
    items: list[VerifyItem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    failing: list[str] = field(default_factory=list)   # differences that matter
    warnings: list[str] = field(default_factory=list)  # differences that do not
    ok: bool = True


def _owner_table(name: str) -> str:
    return name.split(".", 1)[0].split("[", 1)[0]


def compare(lock: dict[str, Any], here: dict[str, Any], warn: Any = VerifySettings().warn,
            ignore: Any = VerifySettings().ignore, strict: bool = False) -> list[VerifyItem]:
    """Compare two lock dicts (the file's and this machine's). Pure."""
    expected, found = flatten_lock(lock), flatten_lock(here)
    exp_missing = {k: v for k, v in (lock.get("missing") or {}).items()
                   if _owner_table(k) in COMPARED_TABLES}
    found_missing = dict(here.get("missing") or {})
    names = list(dict.fromkeys([*expected, *exp_missing, *found, *found_missing]))
    items: list[VerifyItem] = []
    for name in sorted(names, key=lambda n: (COMPARED_TABLES.index(_owner_table(n))
                                             if _owner_table(n) in COMPARED_TABLES else 99, n)):
        if matches(name, ignore):
            continue
        exp, got = expected.get(name), found.get(name)
        if name in expected and name in found:
            status, note = ("ok" if exp == got else "different"), ""
        elif name in expected:
            status = "missing"
            note = found_missing.get(name) or _parent_reason(name, found_missing) \
                or "not found on this machine"
        elif name in found:
            status = "different"
            note = exp_missing.get(name) or _parent_reason(name, exp_missing) \
                or "not in the lock"
        else:
            # recorded missing on both sides
            status, note = "ok", "missing in the lock and here"
        matters = status != "ok" and (strict or not matches(name, warn))
        items.append(VerifyItem(key=name, status=status, expected=exp, found=got,
                                matters=matters, note=note))
    return items


def _parent_reason(name: str, missing: dict[str, str]) -> str | None:
    """The [missing] reason of a table holding `name` (e.g. "system" for system.cuda)."""
    for key, reason in missing.items():
        if name.startswith(key + ".") or name.startswith(key + "["):
            return f"{key}: {reason}"
    return None


def verify_lock(settings: LabSettings, lock_path: Path | None = None, strict: bool = False,
                on_bytes: Callable[[int], None] | None = None) -> VerifyResult:
    """Collect this machine's state and compare it with the lock file."""
    path = Path(lock_path) if lock_path else settings.lock_file
    if not path.is_file():
        raise LabError(f"no lock file at {path}", where=str(path),
                       hint="run `invoke lock` on the reference machine and copy its "
                            "lab.lock.toml here, or pass --lock FILE")
    lock = load_lock(path)
    if not any(t in lock for t in (*COMPARED_TABLES, "missing")):
        raise LabError("the lock file has no tables `invoke lock` writes (only fetch-lib's "
                       "[libraries]?)", where=str(path), hint="run `invoke lock` first")
    # This machine's own fetch-lib records tell where its library came from; the
    # verified lock's [libraries] only fill in rows this machine has no record of.
    libraries = {**(lock.get("libraries") or {}),
                 **(load_lock(settings.lock_file).get("libraries") or {})}
    here = collect_lock(settings, libraries, on_bytes=on_bytes).data
    items = compare(lock, here, settings.verify.warn, settings.verify.ignore, strict)
    result = VerifyResult(lock_file=path, strict=strict, items=items)
    for item in items:
        result.counts[item.status] = result.counts.get(item.status, 0) + 1
        if item.status != "ok":
            (result.failing if item.matters else result.warnings).append(item.key)
    result.ok = not result.failing
    return result
