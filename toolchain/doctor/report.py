"""The result of a probe: every finding (with where it came from) and the verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..results import JsonResult

# Finding status values.
FOUND = "found"
NOT_FOUND = "not found"
UNPARSED = "unparsed"
TIMEOUT = "timeout"
ERROR = "error"

# Verdict levels, mildest first.
OK, WARN, FAIL = "ok", "warn", "fail"

SECTIONS = ("host", "toolchain", "paddle", "cuda", "driver", "cudnn", "tensorrt", "library")
SECTION_TITLES = {
    "host": "Host", "toolchain": "Toolchain", "paddle": "Paddle wheel",
    "cuda": "CUDA toolkits", "driver": "Driver and GPUs", "cudnn": "cuDNN",
    "tensorrt": "TensorRT", "library": "Paddle Inference library",
}


@dataclass
class Finding(JsonResult):
    """One thing looked at: what, its value, and the file or command it came from.

    `raw` holds the text as read when it could not be parsed (status "unparsed").
    """

    section: str
    name: str
    status: str
    value: str | None = None
    source: str | None = None
    raw: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Verdict(JsonResult):
    check: str
    level: str            # ok | warn | fail
    message: str
    fix: str | None = None


@dataclass
class ProbeReport(JsonResult):
    """What `invoke doctor` found. The flat fields are the versions other steps use."""

    host: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    driver_version: str | None = None
    driver_cuda_max: str | None = None
    cuda_version: str | None = None
    cudnn_version: str | None = None
    tensorrt_version: str | None = None
    gcc_version: str | None = None
    cxx11_abi: int | None = None
    cmake_version: str | None = None
    gpus: list[dict[str, Any]] = field(default_factory=list)
    cpu_flags: set[str] = field(default_factory=set)
    paddle_wheel: dict[str, Any] | None = None
    library: dict[str, Any] | None = None
    cuda_toolkits: list[dict[str, Any]] = field(default_factory=list)
    cudnn_installs: list[dict[str, Any]] = field(default_factory=list)
    tensorrt_installs: list[dict[str, Any]] = field(default_factory=list)
    libnvinfer_unversioned: list[str] = field(default_factory=list)
    probe_seconds: float | None = None

    def to_dict(self) -> dict:
        data = super().to_dict()
        data["cpu_flags"] = sorted(self.cpu_flags)
        data["summary"] = self.counts()
        return data

    def counts(self) -> dict[str, int]:
        out = {OK: 0, WARN: 0, FAIL: 0}
        for v in self.verdicts:
            out[v.level] = out.get(v.level, 0) + 1
        return out

    @property
    def failed(self) -> bool:
        return any(v.level == FAIL for v in self.verdicts)

    @property
    def runtime_libs(self) -> dict[str, str] | None:
        """Every CUDA-family soname found on the host -> its path (probe/runtime.py);
        None when the probe did not look."""
        f = self.finding("cuda", "runtime sonames")
        return dict(f.details.get("sonames", {})) if f else None

    def in_section(self, section: str) -> list[Finding]:
        return [f for f in self.findings if f.section == section]

    def finding(self, section: str, name: str) -> Finding | None:
        for f in self.findings:
            if f.section == section and f.name == name:
                return f
        return None
