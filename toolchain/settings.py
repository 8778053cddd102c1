"""The `lab` settings of invoke.yaml as typed, frozen sections, with every default stated once.

invoke.yaml declares the same keys and defaults (Invoke reads environment variables only for
declared keys); tests/unit/test_settings.py checks the two agree, key by key. Library functions take
the section they need (`settings.fetch`, `settings.run`, ...), not the whole object.
"""

from __future__ import annotations

import os
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from .errors import LabError
from .results import JsonResult


@dataclass(frozen=True)
class FetchSettings:
    """`lab.fetch`: fetch-lib's network and archive limits (docs/fetch-lib.md)."""

    mirror: str = ""
    connect_timeout: float = 10
    read_timeout: float = 60
    retries: int = 5
    attempts: int = 6
    max_download_mb: int = 16384
    min_speed_bps: int = 1024
    speed_window_s: float = 30
    deadline_s: float = 3600
    extract_max_mb: int = 32768
    extract_max_ratio: float = 50
    extract_max_members: int = 200000


@dataclass(frozen=True)
class BuildSettings:
    """`lab.build`: build-lib's source and preflight limits (docs/build-lib.md)."""

    repo_url: str = "https://github.com/PaddlePaddle/Paddle.git"
    disk_warn_gb: float = 60
    disk_fail_gb: float = 15
    memory_gb_per_job: float = 3


@dataclass(frozen=True)
class BenchSettings:
    """`lab.bench`: runs per window, warm-up, the stability rule and its time budget."""

    repeats: int = 50
    warmup: int = 10
    tolerance: float = 0.05
    time_budget: float = 60


@dataclass(frozen=True)
class QuickstartSettings:
    """`lab.quickstart`: which zoo models and how long to measure each."""

    models: str = "small_cnn,mobilenet_v1,mobilenet_v2,resnet50"
    repeats: int = 30
    warmup: int = 5
    time_budget: float = 15
    samples: int = 0                 # sample images; 0 = sample-data's default


@dataclass(frozen=True)
class ModelsSettings:
    """`lab.models`: the zoo model run/test-acc/quantize use without --model-dir."""

    default: str = "small_cnn"


@dataclass(frozen=True)
class DataSettings:
    """`lab.data`: dataset files used when no flag names one ("" = <work_dir>/data/<split>.bin)."""

    val_file: str = ""
    train_file: str = ""


@dataclass(frozen=True)
class RunSettings:
    """`lab.run`: defaults of run and test-acc (docs/run.md)."""

    device: str = "auto"
    runner: str = "auto"
    batch_size: int = 1
    warmup: int = 10
    repeats: int = 100
    threads: int = 0                 # 0 = all cores
    data_file: str = ""
    timeout: float = 1800
    workspace_mb: int = 1024
    min_subgraph_size: int = 3
    dynamic_shape: bool = False
    trt_cache_dir: str = ""
    sample_size: int = 1024          # images drawn from in seeded order (all when fewer)
    seed: int = 0


@dataclass(frozen=True)
class QuantizeSettings:
    """`lab.quantize`: PostTrainingQuantization's algorithm and calibration size."""

    algo: str = "KL"
    batch_size: int = 10
    batch_nums: int = 10


@dataclass(frozen=True)
class LockSettings:
    """`lab.lock`: files under models/ and data/ that `invoke lock` does not lock."""

    exclude: tuple[str, ...] = ("*/_opt_cache/*", "*_opt_cache*", "*.tmp", ".*", "*/.*")


@dataclass(frozen=True)
class VerifySettings:
    """`lab.verify`: differences that only warn, and items not compared."""

    warn: tuple[str, ...] = ("tool.*", "demo.binaries.*")
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class HostDefaults:
    """`lab.lab`: what every host of `invoke lab` gets unless its lab.hosts entry says otherwise."""

    user: str = ""
    key: str = ""
    port: int = 22
    checkout: str = "~/paddle-trt-lab"
    env: Mapping[str, Any] = field(default_factory=dict)
    invoke: str = "invoke"
    timeout: float = 1800
    connect_timeout: float = 15
    parallel: bool = True
    remote_timeout: bool = True
    max_rows: int = 40
    # Keys of the hosts' JSON that differ by nature (times, paths to temp files).
    ignore_keys: tuple[str, ...] = ("*time*", "*elapsed*", "*created*", "*_at", "*hostname*",
                                    "*timestamp*", "*duration*", "*seconds*", "*free*",
                                    "*.note", "meta.*")


SECTIONS: dict[str, type] = {
    "fetch": FetchSettings, "build": BuildSettings, "bench": BenchSettings,
    "quickstart": QuickstartSettings, "models": ModelsSettings, "data": DataSettings,
    "run": RunSettings, "quantize": QuantizeSettings, "lock": LockSettings,
    "verify": VerifySettings, "lab": HostDefaults,
}
PATH_KEYS = ("work_dir", "cache_dir", "lib_dir", "results_dir", "lock_file")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _convert(value: Any, kind: Any, where: str) -> Any:
    """`value` as the field type `kind` (values from YAML, or strings from the environment)."""
    origin = typing.get_origin(kind)
    try:
        if kind is bool:
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
            if isinstance(value, (bool, int)):
                return bool(value)
            raise ValueError
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is str:
            return str(value)
        if origin is tuple:
            if isinstance(value, str):
                value = [value]
            return tuple(str(v) for v in value)
        if origin in (Mapping, dict) or kind is Mapping:
            return dict(value)
    except (TypeError, ValueError):
        pass
    else:
        return value
    name = getattr(kind, "__name__", None) or str(kind).replace("typing.", "")
    raise LabError(f"setting {where} must be {_kind_words(name)}, got {value!r}",
                   where="invoke.yaml (or its INVOKE_LAB_* environment variable)",
                   hint=f"fix {where} in invoke.yaml, ~/.invoke.yaml or the environment")


def _kind_words(name: str) -> str:
    return {"int": "an integer", "float": "a number", "bool": "true or false",
            "str": "a string"}.get(name, f"a {name}")


def build_section(cls: type, values: Mapping[str, Any] | None, where: str) -> Any:
    """A section dataclass from a mapping: defaults for keys missing or None (or "" for
    non-strings), each value converted to the field's type. Keys the class does not name are
    ignored (a later version's settings in an older checkout)."""
    values = dict(values or {})
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in values:
            continue
        raw = values[f.name]
        kind = hints[f.name]
        if raw is None or (raw == "" and kind is not str):
            continue
        kwargs[f.name] = _convert(raw, kind, f"lab.{where}.{f.name}" if where else f.name)
    return cls(**kwargs)


def _path(value: str, base: Path) -> Path:
    p = Path(os.path.expandvars(os.path.expanduser(str(value))))
    return p if p.is_absolute() else (base / p)


@dataclass(frozen=True)
class LabSettings(JsonResult):
    """Every `lab` setting: top-level paths and values, then one typed section per task."""

    work_dir: Path = Path(".lab")
    cache_dir: Path = Path("~/.cache/paddle-trt-lab")
    lib_dir: Path = Path(".lab/lib")
    results_dir: Path = Path("results")
    lock_file: Path = Path("lab.lock.toml")
    paddle_version: str = "3.0.0"
    cuda_root: str = ""
    trt_root: str = ""
    probe_timeout: float = 10
    fetch: FetchSettings = field(default_factory=FetchSettings)
    build: BuildSettings = field(default_factory=BuildSettings)
    bench: BenchSettings = field(default_factory=BenchSettings)
    quickstart: QuickstartSettings = field(default_factory=QuickstartSettings)
    models: ModelsSettings = field(default_factory=ModelsSettings)
    data: DataSettings = field(default_factory=DataSettings)
    run: RunSettings = field(default_factory=RunSettings)
    quantize: QuantizeSettings = field(default_factory=QuantizeSettings)
    lock: LockSettings = field(default_factory=LockSettings)
    verify: VerifySettings = field(default_factory=VerifySettings)
    lab: HostDefaults = field(default_factory=HostDefaults)
    # `lab.hosts`: name -> {host, port, user, key, checkout, env, invoke, timeout} or "user@host:port"
    hosts: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None = None, base: Path | None = None
                     ) -> "LabSettings":
        """Settings from a mapping (Invoke's `c.config.lab`), defaults filled in;
        relative paths are taken from `base` (the current directory)."""
        base = base or Path.cwd()
        values = dict(values or {})
        top = build_section(_TopLevel, values, "")
        kwargs: dict[str, Any] = {}
        for f in fields(_TopLevel):
            value = getattr(top, f.name)
            kwargs[f.name] = _path(value, base) if f.name in PATH_KEYS else value
        for name, section in SECTIONS.items():
            raw = values.get(name)
            if raw is not None and not isinstance(raw, Mapping):
                raise LabError(f"setting lab.{name} must be a mapping of keys, got {raw!r}",
                               where="invoke.yaml", hint=f"see invoke.yaml's lab.{name} section")
            kwargs[name] = build_section(section, raw, name)
        hosts = values.get("hosts") or {}
        if not isinstance(hosts, Mapping):
            raise LabError(f"setting lab.hosts must be a mapping of host names, got {hosts!r}",
                           where="invoke.yaml", hint="see the lab.hosts example in invoke.yaml")
        kwargs["hosts"] = {str(k): (dict(v) if isinstance(v, Mapping) else v)
                           for k, v in hosts.items()}
        return cls(**kwargs)

    @classmethod
    def from_context(cls, c) -> "LabSettings":
        lab = c.config.get("lab", None) if c is not None else None
        return cls.from_mapping(_plain(lab) if lab else {})


@dataclass(frozen=True)
class _TopLevel:
    """The top-level keys of `lab`, as read (before paths are resolved)."""

    work_dir: str = ".lab"
    cache_dir: str = "~/.cache/paddle-trt-lab"
    lib_dir: str = ".lab/lib"
    results_dir: str = "results"
    lock_file: str = "lab.lock.toml"
    paddle_version: str = "3.0.0"
    cuda_root: str = ""
    trt_root: str = ""
    probe_timeout: float = 10


def _plain(value: Any) -> Any:
    """Invoke's DataProxy tree as plain dicts and lists."""
    if isinstance(value, Mapping) or hasattr(value, "keys"):
        return {str(k): _plain(value[k]) for k in value.keys()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def declared_defaults() -> dict[str, Any]:
    """Every default as invoke.yaml should declare it (lists for tuples), for the check."""
    def plain(obj) -> dict[str, Any]:
        out = {}
        for f in fields(obj):
            v = getattr(obj, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else (dict(v) if isinstance(v, Mapping)
                                                                else v)
        return out

    out = plain(_TopLevel())
    out.update({name: plain(cls()) for name, cls in SECTIONS.items()})
    out["hosts"] = {}
    return out
