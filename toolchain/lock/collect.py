"""`invoke lock`: everything a lab's results depend on, pinned in lab.lock.toml.

The lock is a TOML document with one table per concern:

  [meta]       when and where it was made (informational, never compared)
  [tool]       paddle-trt-lab's version and git commit
  [python]     interpreter version, the project's dependencies' installed versions
  [library]    the current Paddle Inference library (manifest row, URL, archive size
               and sha256, main library sha256, version.txt digest and fields)
  [system]     driver, CUDA, cuDNN, TensorRT, GPU, gcc, C++ ABI, cmake, CPU
  [demo]       the demo build's flags and its binaries' sha256
  [models."<relative path>"] / [data."<relative path>"]   sha256 and size of each file
  [missing]    "<item>" = "why it could not be collected"
  [libraries]  fetch-lib's trust-on-first-use checksums: kept as they are

Items that cannot be collected (no GPU, a step not run yet, another area's code
not installed) go to [missing] with the reason; collecting never fails for them.
`flatten_lock` turns the compared tables into `item name -> value`, the common
ground of `invoke verify` and the cross-host table of `invoke lab`.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import platform
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

# SCHEMA: the lock format's version (meta.schema); COMPARED_TABLES: the tables this
# module owns and compares ([meta] and [libraries] are never compared). Both live
# with the one lock reader, which refuses a lock of a newer schema.
from ..fsio import sha256_file, tree_listing_digest  # noqa: F401 (sha256_file re-exported)
from .file import COMPARED_TABLES, SCHEMA, load_lock, save_lock
from ..results import JsonResult
from ..settings import LabSettings, LockSettings

FILE_TABLES = ("models", "data")
# Files under models/ and data/ that are made by running, not inputs of a result.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# CPU flags that decide which INT8/FP16 kernels oneDNN can use.
CPU_INT8_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
                  "amx_int8", "amx_bf16", "avx512_fp16")
NOT_FOUND = "not found on this machine"


@dataclass
class LockResult(JsonResult):
    """What `invoke lock` wrote: the lock path, its data, what could not be collected."""

    path: Path | None
    data: dict[str, Any]
    missing: dict[str, str] = field(default_factory=dict)
    kept_libraries: list[str] = field(default_factory=list)
    files_hashed: int = 0
    bytes_hashed: int = 0


class _Lock:
    """A lock under construction: nested tables plus the [missing] reasons."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.missing: dict[str, str] = {}

    def put(self, path: tuple[str, ...], value: Any, reason: str = NOT_FOUND) -> None:
        """Set data[path] = value; a None/empty value is recorded as missing instead."""
        if value is None or value == "" or value == [] or value == {}:
            self.missing[item_name(path)] = reason
            return
        node = self.data
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _toml_value(value)

    def absent(self, path: tuple[str, ...], reason: str) -> None:
        self.missing[item_name(path)] = reason


def _toml_value(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_toml_value(v) for v in value if v is not None]
        return sorted(items) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, dict):
        return {str(k): _toml_value(v) for k, v in value.items() if v is not None}
    return value


def item_name(path: tuple[str, ...]) -> str:
    """("models", "r50/fp32/x.pdmodel", "sha256") -> 'models["r50/fp32/x.pdmodel"].sha256'."""
    out = ""
    for part in path:
        if re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += ("." if out else "") + part
        else:
            out += f'["{part}"]'
    return out


def flatten_lock(data: dict[str, Any], tables: tuple[str, ...] = COMPARED_TABLES
                 ) -> dict[str, Any]:
    """The compared tables as {item name: leaf value} (lists are leaves)."""
    flat: dict[str, Any] = {}

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path + (str(key),))
        else:
            flat[item_name(path)] = node

    for table in tables:
        if table in data:
            walk(data[table], (table,))
    return flat


def matches(name: str, patterns: Any) -> bool:
    return any(fnmatch.fnmatchcase(name, str(p)) for p in (patterns or ()))


def artifact_files(root: Path, exclude: Any = LockSettings().exclude) -> Iterator[tuple[str, Path]]:
    """(relative posix path, path) of every file under root, sorted, minus `exclude` globs."""
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if matches(rel, exclude):
            continue
        yield rel, path


# -- collectors: each fills its table and records what it cannot find ------------------

def _run(args: list[str], cwd: Path, timeout: float = 10) -> str | None:
    try:
        proc = subprocess.run(args, cwd=str(cwd), capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def collect_tool(lock: _Lock, root: Path = PROJECT_ROOT) -> None:
    from .. import __version__

    lock.put(("tool", "version"), __version__)
    commit = _run(["git", "rev-parse", "HEAD"], root)
    if commit is None:
        lock.absent(("tool", "git_commit"), f"{root} is not a git checkout (or git is missing)")
        return
    lock.put(("tool", "git_commit"), commit)
    status = _run(["git", "status", "--porcelain", "--untracked-files=no"], root)
    if status is not None:
        lock.put(("tool", "git_dirty"), bool(status))


def project_requirements(dist: str = "paddle-trt-lab") -> list[str]:
    """Names of the project's dependencies (all extras but `test`), for this Python."""
    from importlib import metadata

    from packaging.requirements import Requirement

    try:
        lines = metadata.requires(dist) or []
    except metadata.PackageNotFoundError:
        lines = []
    names: list[str] = []
    for line in lines:
        req = Requirement(line)
        marker = str(req.marker or "")
        extra = re.search(r'extra\s*==\s*"([^"]+)"', marker)
        if extra and extra.group(1) == "test":
            continue
        if req.marker is not None and not extra:
            if not req.marker.evaluate({"extra": ""}):
                continue
        if req.name not in names:
            names.append(req.name)
    return names


def collect_python(lock: _Lock) -> None:
    from importlib import metadata

    lock.put(("python", "version"), platform.python_version())
    lock.put(("python", "implementation"), platform.python_implementation())
    names = project_requirements()
    if not names:
        lock.absent(("python", "packages"), "paddle-trt-lab is not installed "
                    "(pip install -e .), so its dependency list is unknown")
    for name in names:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = None
        lock.put(("python", "packages", name), version, "not installed")


def _manifest_row(row_id: str | None) -> Any:
    from ..library.manifest import find_recipe

    return find_recipe(row_id) if row_id else None


def collect_library(lock: _Lock, settings: LabSettings, libraries: dict[str, Any],
                    on_bytes: Callable[[int], None] | None = None) -> None:
    from ..state import current_library

    current = current_library(settings.lib_dir)
    if not current or not current.get("path"):
        lock.absent(("library",), "no current library (run `invoke fetch-lib` or "
                    "`invoke build-lib`)")
        return
    path = Path(current["path"])
    row_id = current.get("row_id")
    lock.put(("library", "location"), portable(str(path), settings))
    lock.put(("library", "row_id"), row_id, "the library is not a manifest row")
    lock.put(("library", "source"), current.get("source"))
    # Where it came from: what fetch-lib recorded with the current library, then its
    # checksum in [libraries], then the manifest row.
    entry = ((libraries or {}).get(row_id) or {}) if row_id else {}
    row = _manifest_row(row_id)
    for key, names in (("url", ("url",)), ("archive_sha256", ("sha256", "archive_sha256")),
                       ("archive_size", ("size", "archive_size"))):
        value = None
        for source in (current, entry):
            for name in names:
                value = value if value is not None else source.get(name)
        if value is None and row is not None:
            for name in names:
                value = value if value is not None else getattr(row, name, None)
        lock.put(("library", key), value, "unknown (not a fetched manifest row)")
    if not path.is_dir():
        lock.absent(("library", "main_lib_sha256"), f"{path} does not exist")
        return
    from ..library.installed import inspect_library

    found = inspect_library(path)
    lock.put(("library", "family"), found.family, "; ".join(found.problems) or NOT_FOUND)
    root = Path(found.path)
    if found.main_lib is not None:
        main_lib = Path(found.main_lib)
        lock.put(("library", "main_lib"), main_lib.relative_to(root).as_posix()
                 if main_lib.is_relative_to(root) else str(main_lib))
        lock.put(("library", "main_lib_size"), main_lib.stat().st_size)
        lock.put(("library", "main_lib_sha256"), sha256_file(main_lib, on_bytes))
    else:
        lock.absent(("library", "main_lib_sha256"), "no libpaddle_inference / libpaddle_fluid")
    if found.version is not None and found.version.wheel_derived:
        # fetch-lib --from-wheel: the main lib is a linker script; the engine is the
        # wheel's libpaddle.so it links (an upgraded or removed wheel shows here).
        engine = root / "paddle" / "lib" / "libpaddle.so"
        lock.put(("library", "wheel_derived"), True)
        if engine.is_file():
            lock.put(("library", "engine_sha256"), sha256_file(engine, on_bytes))
        else:
            lock.absent(("library", "engine_sha256"),
                        f"{engine} is missing (the wheel was removed or upgraded; run "
                        "`invoke fetch-lib --from-wheel` again)")
    version_txt = root / "version.txt"
    if version_txt.is_file():
        lock.put(("library", "version_txt_sha256"), sha256_file(version_txt))
    else:
        lock.absent(("library", "version_txt_sha256"), "no version.txt")
    if found.version is not None:
        for name in ("paddle_version", "git_commit", "with_gpu", "with_tensorrt", "with_onednn",
                     "with_mkl", "cuda_version", "cudnn_version", "tensorrt_version",
                     "cxx_compiler_version"):
            lock.put(("library", "version_txt", name), getattr(found.version, name, None),
                     "not stated in version.txt")
    tree, count = tree_listing_digest(root)
    lock.put(("library", "tree_listing_sha256"), tree)
    lock.put(("library", "file_count"), count)


def _get(obj: Any, *names: str) -> Any:
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return None


def collect_system(lock: _Lock, settings: LabSettings) -> dict | None:
    """Toolchain and hardware from the doctor probe; returns host_summary() for [meta]."""
    host = None
    try:
        from ..doctor import host_summary
        host = host_summary()
    except Exception:  # noqa: BLE001 - provenance only
        host = None
    try:
        from ..doctor import collect_report
    except ImportError as exc:
        lock.absent(("system",), f"toolchain.doctor.collect_report is not available ({exc})")
        return host
    try:
        report = collect_report(settings)
    except Exception as exc:  # noqa: BLE001 - a probe failure is a missing item, not a crash
        lock.absent(("system",), f"the probe failed: {type(exc).__name__}: {exc}")
        return host
    for key, names in (("driver_version", ("driver_version",)),
                       ("driver_cuda_max", ("driver_cuda_max",)),
                       ("cuda_version", ("cuda_version",)),
                       ("cudnn_version", ("cudnn_version",)),
                       ("tensorrt_version", ("tensorrt_version",)),
                       ("gcc_version", ("gcc_version",)),
                       ("cxx11_abi", ("cxx11_abi",)),
                       ("cmake_version", ("cmake_version",))):
        lock.put(("system", key), _get(report, *names))
    gpus = _get(report, "gpus") or []
    lock.put(("system", "gpu_count"), len(gpus))
    names = [str(_get(g, "name")) for g in gpus if _get(g, "name")]
    lock.put(("system", "gpu_models"), sorted(set(names)), "no NVIDIA GPU found")
    caps = [str(_get(g, "compute_capability")) for g in gpus if _get(g, "compute_capability")]
    lock.put(("system", "gpu_compute_capabilities"), sorted(set(caps)), "no NVIDIA GPU found")
    flags = set(_get(report, "cpu_flags") or ())
    if flags:
        lock.put(("system", "cpu_int8_flags"), sorted(flags & set(CPU_INT8_FLAGS)) or ["none"])
    else:
        lock.absent(("system", "cpu_int8_flags"), "CPU flags unknown")
    cpu = _get(host or {}, "cpu_model", "cpu") or _get(report, "cpu_model")
    lock.put(("system", "cpu_model"), cpu)
    wheel = _get(report, "paddle_wheel")
    if isinstance(wheel, dict) and wheel:
        for key in ("version", "commit", "cuda", "cudnn", "tensorrt", "onednn"):
            lock.put(("python", "paddle_wheel", key), wheel.get(key), "not stated by the wheel")
    else:
        lock.absent(("python", "paddle_wheel"), "the paddle wheel is not importable")
    return host


def collect_demo(lock: _Lock, settings: LabSettings,
                 on_bytes: Callable[[int], None] | None = None) -> None:
    from ..state import demo_build

    record = demo_build(settings.work_dir)
    if not record:
        lock.absent(("demo",), "no demo build (run `invoke build-demo`)")
        return
    lock.put(("demo", "lib"), portable(str(record.get("lib") or ""), settings))
    lock.put(("demo", "gpu"), record.get("gpu"))
    lock.put(("demo", "paddle_api"), record.get("paddle_api"))
    if record.get("with_tensorrt") is not None:
        lock.put(("demo", "with_tensorrt"), record.get("with_tensorrt"))
    lock.put(("demo", "cmake_args"), [portable(str(a), settings)
                                      for a in record.get("cmake_args") or []],
             "the build record lists no cmake flags")
    for name, binary in sorted((record.get("binaries") or {}).items()):
        path = Path(binary)
        if path.is_file():
            lock.put(("demo", "binaries", name, "sha256"), sha256_file(path, on_bytes))
            lock.put(("demo", "binaries", name, "size"), path.stat().st_size)
        else:
            lock.absent(("demo", "binaries", name), f"{path} does not exist")


def collect_files(lock: _Lock, settings: LabSettings, table: str, exclude: Any,
                  on_bytes: Callable[[int], None] | None = None) -> tuple[int, int]:
    root = settings.work_dir / table
    files = list(artifact_files(root, exclude))
    if not files:
        lock.absent((table,), f"no files under {root}")
        return 0, 0
    total = 0
    for rel, path in files:
        size = path.stat().st_size
        lock.put((table, rel, "sha256"), sha256_file(path, on_bytes))
        lock.put((table, rel, "size"), size)
        total += size
    return len(files), total


def portable(value: str, settings: LabSettings) -> str:
    """Replace the lab's own directories in a path or flag by $LIB_DIR / $WORK_DIR /
    $CHECKOUT (this project's folder).

    Two checkouts of one lab then lock the same strings for the same setup.
    """
    for name, base in (("$LIB_DIR", settings.lib_dir), ("$WORK_DIR", settings.work_dir),
                       ("$CHECKOUT", PROJECT_ROOT)):
        base_s = str(Path(base).resolve())
        for candidate in {base_s, str(base)}:
            if candidate and candidate in value:
                value = value.replace(candidate, name)
    return value


# -- the lock ---------------------------------------------------------------------------

def expected_bytes(settings: LabSettings) -> int:
    """Rough number of bytes collect_lock will hash (for a progress bar)."""
    exclude = settings.lock.exclude
    total = 0
    for table in FILE_TABLES:
        total += sum(p.stat().st_size for _, p in artifact_files(settings.work_dir / table,
                                                                 exclude))
    return total


def collect_lock(settings: LabSettings, libraries: dict[str, Any] | None = None,
                 on_bytes: Callable[[int], None] | None = None) -> LockResult:
    """Collect this machine's lock (without [libraries] unless given). Never raises for
    an item it cannot collect: that item goes to [missing] with the reason."""
    lock = _Lock()
    collect_tool(lock)
    collect_python(lock)
    collect_library(lock, settings, libraries or {}, on_bytes)
    host = collect_system(lock, settings)
    collect_demo(lock, settings, on_bytes)
    exclude = settings.lock.exclude
    files = size = 0
    for table in FILE_TABLES:
        n, b = collect_files(lock, settings, table, exclude, on_bytes)
        files, size = files + n, size + b
    meta: dict[str, Any] = {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "hostname": platform.node(),
        "work_dir": str(settings.work_dir),
    }
    if host:
        meta["host"] = _toml_value({k: v for k, v in dict(host).items()
                                    if isinstance(v, (str, int, float, bool))})
    # The tables a reader must understand to compare with this lock: a newer tool
    # that adds one names it here, and an older tool then refuses instead of
    # silently skipping it (toolchain.lock.file).
    meta["required"] = [t for t in COMPARED_TABLES if t in lock.data] + \
        (["missing"] if lock.missing else [])
    data: dict[str, Any] = {"meta": meta, **lock.data}
    if libraries:
        data["libraries"] = libraries
    if lock.missing:
        data["missing"] = dict(sorted(lock.missing.items()))
    return LockResult(path=None, data=data, missing=dict(lock.missing), files_hashed=files,
                      bytes_hashed=size)


def write_lock(settings: LabSettings, out: Path | None = None,
               on_bytes: Callable[[int], None] | None = None) -> LockResult:
    """Collect and write the lock to `out` (default: lab.lock_file), keeping [libraries].

    fetch-lib records its checksums in lab.lock_file; entries there and in `out`
    (when it is another file) are both kept, `out`'s winning on a clash.
    """
    out = Path(out) if out else settings.lock_file
    libraries: dict[str, Any] = {}
    for source in dict.fromkeys([settings.lock_file, out]):
        libraries.update(load_lock(source).get("libraries") or {})
    result = collect_lock(settings, libraries, on_bytes)
    save_lock(out, result.data)
    result.path = out
    result.kept_libraries = sorted(libraries)
    return result
