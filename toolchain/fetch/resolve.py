"""Pick one manifest row for a request (pure: request + rows in, choice out).

Partial versions match by prefix of their dotted parts (`--trt 7` matches
7.0.0.11 and 7.2.3.4, `--cuda 11` matches 11.2 and 11.8). Among the matches the
newest final Paddle release wins, then the newest CUDA, cuDNN, TensorRT, gcc,
MKL before OpenBLAS, AVX before no-AVX. Rows marked removed/contradicted take
part only with `include_removed`. No match raises a LabError naming what exists
near the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from .. import versions
from ..errors import LabError
from ..library.manifest import LibraryRecipe
from ..results import JsonResult

DEVICES = ("cpu", "gpu", "jetson")
MATH_LIBS = ("mkl", "openblas")


@dataclass(frozen=True)
class LibraryRequest(JsonResult):
    """What the user asked for; None = any."""

    paddle: str | None = None
    cuda: str | None = None
    cudnn: str | None = None
    trt: str | None = None
    gcc: str | None = None
    device: str | None = None
    math: str | None = None
    no_avx: bool = False
    include_removed: bool = False
    # Filled by --auto (upper bounds, not prefixes):
    cuda_max: str | None = None
    gcc_max: str | None = None
    # lab.paddle_version: preferred when --paddle is not given and it has a match.
    preferred_paddle: str | None = None
    # --auto: the CUDA-family sonames found on the host (probe/runtime.py); rows whose
    # CUDA runtime is missing then rank below rows whose runtime is present.
    host_sonames: frozenset[str] | None = None


@dataclass
class Resolution(JsonResult):
    row: LibraryRecipe
    reasons: list[str] = field(default_factory=list)
    candidates: int = 0


def effective_device(req: LibraryRequest) -> tuple[str, str]:
    """The device to look for, and why."""
    if req.device:
        return req.device, f"device {req.device}: from --{req.device}/--device/--auto"
    if req.cuda or req.cudnn or req.trt or req.cuda_max:
        return "gpu", "device gpu: a CUDA/cuDNN/TensorRT version was given"
    return "cpu", "device cpu: no CUDA/cuDNN/TensorRT asked for (pass --gpu for a GPU build)"


# (request field, row attribute, label, flag) for the prefix filters
_PREFIX_FILTERS = (
    ("paddle", "paddle_version", "Paddle", "--paddle"),
    ("cuda", "cuda", "CUDA", "--cuda"),
    ("cudnn", "cudnn", "cuDNN", "--cudnn"),
    ("trt", "tensorrt", "TensorRT", "--trt"),
    ("gcc", "gcc", "gcc", "--gcc"),
)


def _filters(req: LibraryRequest, device: str) -> list[tuple[str, str, str, Any]]:
    """(name, row attribute, label, predicate) for every constraint in force."""
    out: list[tuple[str, str, str, Any]] = [
        ("device", "device", "device", lambda r: r.device == device)]
    for name, attr, label, _flag in _PREFIX_FILTERS:
        wanted = getattr(req, name)
        if wanted:
            out.append((name, attr, label,
                        lambda r, w=wanted, a=attr: versions.prefix_match(w, getattr(r, a))))
    if req.cuda_max and not req.cuda:
        out.append(("cuda_max", "cuda", "CUDA",
                    lambda r, m=req.cuda_max: versions.at_most(m, r.cuda)))
    if req.gcc_max and not req.gcc:
        # rows with an unknown gcc stay in (ranked below known ones)
        out.append(("gcc_max", "gcc", "gcc",
                    lambda r, m=req.gcc_max: r.gcc is None or versions.at_most(m, r.gcc)))
    if req.math:
        out.append(("math", "math_lib", "math library", lambda r, m=req.math: r.math_lib == m))
    if req.no_avx:
        out.append(("no_avx", "avx", "AVX", lambda r: r.avx is False))
    return out


def filter_rows(req: LibraryRequest, rows: Iterable[LibraryRecipe],
                include_unselectable: bool | None = None) -> list[LibraryRecipe]:
    """Rows matching every constraint of `req` (the --list view uses this too)."""
    device, _ = effective_device(req)
    preds = [p for *_, p in _filters(req, device)]
    keep_all = req.include_removed if include_unselectable is None else include_unselectable
    return [r for r in rows if (keep_all or r.selectable) and all(p(r) for p in preds)]


def rank_key(r: LibraryRecipe):
    """Higher is better."""
    return (
        r.selectable,
        not versions.is_prerelease(r.paddle_version),
        versions.sort_key(r.paddle_version),
        versions.sort_key(r.cuda),
        versions.sort_key(r.cudnn),
        versions.sort_key(r.tensorrt),
        r.gcc is not None,
        versions.sort_key(r.gcc),
        r.math_lib == "mkl",
        r.avx is not False,
        not r.lib_file.endswith(".zip"),
        r.id,
    )


def _describe(req: LibraryRequest, device: str) -> str:
    parts = [f"device={device}"]
    for name, _attr, _label, flag in _PREFIX_FILTERS:
        if getattr(req, name):
            parts.append(f"{flag.lstrip('-')}={getattr(req, name)}")
    if req.cuda_max and not req.cuda:
        parts.append(f"cuda<={req.cuda_max}")
    if req.gcc_max and not req.gcc:
        parts.append(f"gcc<={req.gcc_max}")
    if req.math:
        parts.append(f"math={req.math}")
    if req.no_avx:
        parts.append("no-avx")
    return ", ".join(parts)


def _filter_text(req: LibraryRequest, name: str, device: str) -> str:
    if name == "device":
        return f"device={device}"
    if name == "no_avx":
        return "no-avx"
    if name.endswith("_max"):
        return f"{name[:-4]}<={getattr(req, name)}"
    return f"{name}={getattr(req, name)}"


def _values(rows: Iterable[LibraryRecipe], attr: str) -> list[str]:
    vals = {str(getattr(r, attr)) for r in rows if getattr(r, attr) is not None}
    plain = attr in ("device", "math_lib", "avx")
    return sorted(vals, key=str if plain else versions.sort_key)


def nearest(req: LibraryRequest, rows: list[LibraryRecipe]) -> list[str]:
    """For each constraint: what exists when it is dropped and the others kept."""
    device, _ = effective_device(req)
    filters = _filters(req, device)
    pool = [r for r in rows if req.include_removed or r.selectable]
    lines = []
    for i, (name, attr, label, _pred) in enumerate(filters):
        others = [p for j, (*_, p) in enumerate(filters) if j != i]
        near = [r for r in pool if all(p(r) for p in others)]
        if not near:
            continue
        rest = ", ".join(_filter_text(req, n, device) for n, *_ in filters if n != name)
        vals = _values(near, attr)
        if vals:
            lines.append(f"{label} versions that exist with {rest or 'no other filter'}: "
                         + ", ".join(vals) if attr not in ("device", "math_lib", "avx") else
                         f"{label} values that exist with {rest}: " + ", ".join(vals))
    return lines


def resolve(req: LibraryRequest, rows: list[LibraryRecipe]) -> Resolution:
    """The best row for `req`, with the reasons for the choice."""
    device, why_device = effective_device(req)
    reasons = [why_device]
    matches = filter_rows(req, rows)
    if not matches:
        hidden = [r for r in filter_rows(req, rows, include_unselectable=True)
                  if not r.selectable]
        lines = nearest(req, rows)
        if hidden:
            lines.insert(0, f"{len(hidden)} row(s) marked removed/contradicted would match "
                            f"(e.g. {hidden[0].id}: {hidden[0].status}); add --include-removed "
                            "to allow them")
        raise LabError(
            f"no prebuilt Paddle Inference library matches {_describe(req, device)}"
            + ("\n  " + "\n  ".join(lines) if lines else ""),
            hint="relax a filter (see the versions above), or list rows with "
                 "`invoke fetch-lib --list` and the same filters",
        )
    skipped = len(filter_rows(req, rows, include_unselectable=True)) - len(matches)
    reasons.append(f"{len(matches)} row(s) match {_describe(req, device)}"
                   + (f" ({skipped} removed/contradicted row(s) skipped; --include-removed "
                      "allows them)" if skipped and not req.include_removed else ""))
    if not req.paddle and req.preferred_paddle:
        preferred = [r for r in matches if r.paddle_version == req.preferred_paddle]
        if preferred:
            matches = preferred
            reasons.append(f"Paddle {req.preferred_paddle}: lab.paddle_version (invoke.yaml); "
                           "pass --paddle to choose another")
        else:
            reasons.append(f"lab.paddle_version {req.preferred_paddle} has no such build; "
                           "taking the newest release that has one")
    best = max(matches, key=ranking(req))
    same_version = [r for r in matches if r.paddle_version == best.paddle_version]
    if not req.paddle and not (req.preferred_paddle == best.paddle_version):
        kind = "pre-release" if versions.is_prerelease(best.paddle_version) else "release"
        reasons.append(f"Paddle {best.paddle_version}: the newest {kind} among the matches")
    if len(same_version) > 1:
        picks = [f"CUDA {best.cuda}" if best.cuda else None,
                 f"cuDNN {best.cudnn}" if best.cudnn else None,
                 f"TensorRT {best.tensorrt}" if best.tensorrt else None,
                 f"gcc {best.gcc}" if best.gcc else None,
                 best.math_lib, "AVX" if best.avx else ("no AVX" if best.avx is False else None)]
        reasons.append(f"{len(same_version)} builds of {best.paddle_version} match; took the "
                       "newest CUDA/cuDNN/TensorRT/gcc, MKL and AVX first: "
                       + ", ".join(p for p in picks if p))
    if not best.selectable:
        reasons.append(f"note: this row is marked {best.status}: {best.note}")
    reasons += runtime_reasons(req, best, matches)
    return Resolution(row=best, reasons=reasons, candidates=len(matches))


def missing_runtime(req: LibraryRequest, row: LibraryRecipe) -> list:
    """The RuntimeNeeds of `row` absent from req.host_sonames ([] when not probed)."""
    if req.host_sonames is None or row.device == "cpu":
        return []
    from ..doctor.runtime import SUPPORT_PATH, required_sonames
    from ..doctor.verdicts import load_rules

    needs = required_sonames(row.cuda, row.cudnn, row.tensorrt, load_rules(SUPPORT_PATH))
    return [n for n in needs if n.soname not in req.host_sonames]


def ranking(req: LibraryRequest):
    """rank_key, with rows whose CUDA runtime is on the host first when --auto probed it."""
    if req.host_sonames is None:
        return rank_key

    def key(r: LibraryRecipe):
        base = rank_key(r)
        cuda_missing = any(n.component == "CUDA runtime" for n in missing_runtime(req, r))
        return (base[0], not cuda_missing, *base[1:])
    return key


def runtime_reasons(req: LibraryRequest, best: LibraryRecipe,
                    matches: list[LibraryRecipe]) -> list[str]:
    """What the user must install for the picked row to load, and why it ranked first."""
    missing = missing_runtime(req, best)
    if req.host_sonames is None or best.device == "cpu":
        return []
    if not missing:
        return ["--auto: every runtime library this build needs is on the host"]
    lines = []
    if any(n.component == "CUDA runtime" for n in missing):
        lines.append("--auto: no matching row has its CUDA runtime on this host; took the "
                     "best row anyway")
    steps: list[str] = []
    for n in missing:
        if n.install and n.install not in steps:
            steps.append(n.install)
    lines.append("to load this build, install " + ", ".join(n.soname for n in missing)
                 + " (" + "; ".join(steps) + ")")
    return lines


def apply_auto(req: LibraryRequest, report: Any) -> tuple[LibraryRequest, list[str]]:
    """Fill what the user did not give from a ProbeReport-like object.

    Reads `driver_cuda_max`, `cudnn_version`, `tensorrt_version`, `gcc_version`
    (all str | None). Explicit flags always win.
    """
    notes: list[str] = []
    changes: dict[str, Any] = {}
    driver_max = getattr(report, "driver_cuda_max", None)
    cudnn = getattr(report, "cudnn_version", None)
    trt = getattr(report, "tensorrt_version", None)
    gcc = getattr(report, "gcc_version", None)
    if not req.device:
        if driver_max:
            changes["device"] = "gpu"
            notes.append(f"--auto: device gpu (NVIDIA driver supports CUDA <= {driver_max})")
        elif not (req.cuda or req.cudnn or req.trt):
            changes["device"] = "cpu"
            notes.append("--auto: device cpu (no NVIDIA driver found)")
    gpu = (changes.get("device") or req.device) in ("gpu", "jetson") or bool(
        req.cuda or req.cudnn or req.trt)
    if gpu and not req.cuda and driver_max:
        changes["cuda_max"] = versions.major_minor(driver_max)
        notes.append(f"--auto: CUDA <= {changes['cuda_max']} (the driver's maximum)")
    if gpu and not req.cudnn and cudnn:
        changes["cudnn"] = versions.major(cudnn)
        notes.append(f"--auto: cuDNN {changes['cudnn']}.x (installed cuDNN {cudnn})")
    if gpu and not req.trt and trt:
        changes["trt"] = versions.major(trt)
        notes.append(f"--auto: TensorRT {changes['trt']}.x (installed TensorRT {trt})")
    if not req.gcc and gcc:
        changes["gcc_max"] = versions.major_minor(gcc)
        notes.append(f"--auto: built with gcc <= {changes['gcc_max']} (installed gcc {gcc}; "
                     "a library built by an older gcc links with a newer one)")
    if gpu and not driver_max and not req.cuda:
        notes.append("--auto: no NVIDIA driver found; CUDA left open")
    runtime = getattr(report, "runtime_libs", None)
    if gpu and runtime is not None:
        changes["host_sonames"] = frozenset(runtime)
        # sonames only (libcudart.so.13, libcudart.so.11.0), not the full-version files
        have = sorted(n for n in runtime
                      if n.startswith("libcudart.so.") and n.count(".") <= 3)
        notes.append("--auto: CUDA runtime on this host: " + (", ".join(have) or "none")
                     + "; builds whose runtime is missing rank lower")
    return replace(req, **changes), notes
