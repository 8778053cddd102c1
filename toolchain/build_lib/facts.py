"""The source-build facts kept as data: recipes/paddle_build.toml and recipes/build_compat.toml.

Per-era differences (flag names, install variable, compilers) and the shipped
CUDA/cuDNN/TensorRT combinations are read from TOML into plain dataclasses here;
the planner and the preflight only look them up.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .. import versions
from ..errors import LabError

RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"

# v2.6.2, 2.6.2, v3.0.0-beta1, v3.0.0rc0, release/2.6
_TAG = re.compile(r"^v?(\d+\.\d+\.\d+(?:[-.]?(?:a|b|alpha|beta|rc)\.?\d+)?)$", re.I)
_BRANCH = re.compile(r"^(?:origin/)?release/v?(\d+\.\d+)$")


@dataclass(frozen=True)
class Era:
    name: str
    label: str
    versions: str
    onednn_flag: str
    install_dir_var: str
    install_dir_name: str
    family: str
    main_lib: str
    tensorrt_switch: str
    ccache: str
    gcc_min: str
    gcc_known_good: tuple[str, ...]
    gcc_newest_major: int
    python_max: str
    cuda_arch_names: tuple[str, ...]
    submodules: bool

    def covers(self, version: str) -> bool:
        return versions.in_range(_checked(version), self.versions)


@dataclass(frozen=True)
class KnownFailure:
    name: str
    pattern: str
    hint: str


@dataclass(frozen=True)
class ShippedBuild:
    paddle: str
    cuda: str
    cudnn: str
    trt: str
    gcc: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class CompatRule:
    level: str
    why: str
    fix: str
    paddle: str = ""
    trt: str = ""
    cuda: str = ""
    arch_below: int | None = None


@dataclass
class BuildFacts:
    defaults: dict
    default_cmake: dict[str, str]
    eras: dict[str, Era]
    arch_min_cuda: dict[str, str]
    known_failures: list[KnownFailure]
    shipped: list[ShippedBuild]
    rules: list[CompatRule]
    enterprise: dict = field(default_factory=dict)

    def era(self, name: str) -> Era:
        if name not in self.eras:
            raise LabError(f"unknown Paddle era {name!r}",
                           hint="use one of: " + ", ".join(self.eras))
        return self.eras[name]

    def era_for_version(self, version: str) -> Era:
        for era in self.eras.values():
            if era.covers(version):
                return era
        raise LabError(
            f"Paddle {version} is not a release build-lib knows how to build",
            hint="supported: " + "; ".join(f"{e.name} ({e.versions})" for e in self.eras.values())
                 + ". Add an era to recipes/paddle_build.toml for others.")

    def shipped_for(self, version: str | None) -> list[ShippedBuild]:
        if not version:
            return []
        series = versions.major_minor(_checked(version))
        return [row for row in self.shipped if row.paddle == series]


def _checked(version: str) -> str:
    if versions.parse(version) is None:
        raise LabError(f"{version!r} is not a version number",
                       hint="give a Paddle release like 3.0.0 or 2.6.2")
    return version


def version_from_ref(ref: str) -> str | None:
    """The Paddle version a tag or release branch names ("v2.6.2" -> "2.6.2"), else None."""
    m = _TAG.match(ref.strip())
    if m:
        return m.group(1)
    m = _BRANCH.match(ref.strip())
    if m:
        return m.group(1) + ".0"
    return None


def _load(name: str, base: Path) -> dict:
    path = base / name
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise LabError(f"missing recipe file {name}", where=str(path)) from None
    except tomllib.TOMLDecodeError as err:
        raise LabError(f"recipe file {name} is not valid TOML: {err}", where=str(path)) from None


def load_build_facts(recipes_dir: Path | None = None) -> BuildFacts:
    base = Path(recipes_dir or RECIPES_DIR)
    build = _load("paddle_build.toml", base)
    compat = _load("build_compat.toml", base)
    defaults = dict(build.get("defaults", {}))
    default_cmake = {k: str(v) for k, v in defaults.pop("cmake", {}).items()}
    eras = {}
    for name, raw in build.get("eras", {}).items():
        eras[name] = Era(name=name, label=raw["label"], versions=raw["versions"],
                         onednn_flag=raw["onednn_flag"], install_dir_var=raw["install_dir_var"],
                         install_dir_name=raw["install_dir_name"], family=raw["family"],
                         main_lib=raw["main_lib"], tensorrt_switch=raw.get("tensorrt_switch", ""),
                         ccache=raw.get("ccache", "auto"), gcc_min=raw["gcc_min"],
                         gcc_known_good=tuple(raw.get("gcc_known_good", ())),
                         gcc_newest_major=int(raw["gcc_newest_major"]),
                         python_max=raw.get("python_max", "3.99"),
                         cuda_arch_names=tuple(raw.get("cuda_arch_names", ())),
                         submodules=bool(raw.get("submodules", True)))
    return BuildFacts(
        defaults=defaults,
        default_cmake=default_cmake,
        eras=eras,
        arch_min_cuda={str(k): str(v) for k, v in build.get("cuda_arch_min_cuda", {}).items()},
        known_failures=[KnownFailure(**kf) for kf in build.get("known_failures", [])],
        shipped=[ShippedBuild(paddle=r["paddle"], cuda=r["cuda"], cudnn=r["cudnn"], trt=r["trt"],
                              gcc=tuple(r.get("gcc", ())), note=r.get("note", ""))
                 for r in compat.get("shipped", [])],
        rules=[CompatRule(**r) for r in compat.get("rules", [])],
        enterprise=dict(compat.get("enterprise_macros", {})),
    )
