"""Typed access to the `lab` settings that invoke.yaml declares."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .results import JsonResult

# Defaults mirror invoke.yaml so the library also works without Invoke (tests, scripts).
DEFAULTS: dict[str, Any] = {
    "work_dir": ".lab",
    "cache_dir": "~/.cache/paddle-trt-lab",
    "lib_dir": ".lab/lib",
    "results_dir": "results",
    "paddle_version": "3.0.0",
    "lock_file": "lab.lock.toml",
    "cuda_root": "",
    "trt_root": "",
    "probe_timeout": 10,
}

PATH_KEYS = ("work_dir", "cache_dir", "lib_dir", "results_dir", "lock_file")


def _path(value: str, base: Path) -> Path:
    p = Path(os.path.expandvars(os.path.expanduser(str(value))))
    return p if p.is_absolute() else (base / p)


@dataclass
class LabSettings(JsonResult):
    work_dir: Path
    cache_dir: Path
    lib_dir: Path
    results_dir: Path
    lock_file: Path
    paddle_version: str = "3.0.0"
    cuda_root: str = ""
    trt_root: str = ""
    probe_timeout: float = 10
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None = None, base: Path | None = None
                     ) -> "LabSettings":
        """Settings from a mapping (Invoke's `c.config.lab`), defaults filled in.

        Keys this class does not name (sections later tasks declare in invoke.yaml)
        are kept in `extra`.
        """
        base = base or Path.cwd()
        merged = dict(DEFAULTS)
        merged.update({k: v for k, v in (values or {}).items()})
        known = {f.name for f in fields(cls)} - {"extra"}
        kwargs: dict[str, Any] = {}
        for key in known:
            value = merged.get(key, DEFAULTS.get(key))
            kwargs[key] = _path(value, base) if key in PATH_KEYS else value
        kwargs["probe_timeout"] = float(kwargs["probe_timeout"])
        kwargs["extra"] = {k: v for k, v in merged.items() if k not in known}
        return cls(**kwargs)

    @classmethod
    def from_context(cls, c) -> "LabSettings":
        lab = c.config.get("lab", None) if c is not None else None
        return cls.from_mapping(dict(lab) if lab else {})

    def section(self, name: str) -> dict[str, Any]:
        """A nested settings section (e.g. `lab.fetch`) as a plain dict."""
        value = self.extra.get(name) or {}
        return dict(value)
