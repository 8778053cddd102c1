"""What an installed Paddle Inference C++ library is: its version.txt and its layout.

Two families exist (the official download layouts):
- 1.x `fluid_inference`: paddle/lib/libpaddle_fluid.so
- 2.x/3.x `paddle_inference`: paddle/lib/libpaddle_inference.so
Both have paddle/include/paddle_inference_api.h, third_party/ and version.txt.

`parse_version_txt` is pure; `inspect_library` looks at a directory and reports
what it finds (never raises for a bad layout); `validate_library` raises a
LabError listing everything that is missing. fetch-lib, build-lib, build-demo,
doctor --lib and lock all use these, so a built library registers exactly like a
fetched one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import versions
from ..errors import LabError
from ..results import JsonResult

FAMILY_LIBS = {
    "paddle_inference": "libpaddle_inference",
    "fluid_inference": "libpaddle_fluid",
}
API_HEADER = "paddle_inference_api.h"
# Directories a tarball or a build tree puts the library in, tried in order when
# the path given is their parent (e.g. the folder a tarball was extracted into).
WRAPPER_DIRS = ("paddle_inference", "paddle_inference_install_dir", "fluid_inference",
                "fluid_inference_install_dir")


@dataclass
class LibraryVersionInfo(JsonResult):
    """The fields of a library's version.txt (None when the line is absent)."""

    paddle_version: str | None = None
    git_commit: str | None = None
    with_mkl: bool | None = None
    with_onednn: bool | None = None
    with_gpu: bool | None = None
    with_tensorrt: bool | None = None
    cuda_version: str | None = None
    cudnn_version: str | None = None
    tensorrt_version: str | None = None
    cxx_compiler_version: str | None = None
    # `Source: wheel (...)`: assembled by fetch-lib --from-wheel from a paddlepaddle wheel
    wheel_derived: bool = False
    raw: dict[str, str] = field(default_factory=dict)


# normalised key (lower case, spaces collapsed) -> field
_KEYS = {
    "paddle version": "paddle_version",
    "git commit id": "git_commit",
    "with_mkl": "with_mkl",
    "with_mkldnn": "with_onednn",
    "with_onednn": "with_onednn",
    "with_gpu": "with_gpu",
    "with_tensorrt": "with_tensorrt",
    "cuda version": "cuda_version",
    "cudnn version": "cudnn_version",
    "tensorrt version": "tensorrt_version",
    "cxx compiler version": "cxx_compiler_version",
}
_BOOL_FIELDS = {"with_mkl", "with_onednn", "with_gpu", "with_tensorrt"}


def _bool(value: str) -> bool | None:
    v = value.strip().upper()
    if v in ("ON", "TRUE", "1", "YES", "Y"):
        return True
    if v in ("OFF", "FALSE", "0", "NO", "N", ""):
        return False
    return None


def parse_version_txt(text: str) -> LibraryVersionInfo:
    """Parse version.txt (the 2018..2.x format and the 3.x `Paddle version:` one).

    Keys match case-insensitively (`CUDNN version` / `cuDNN version`,
    `WITH_MKLDNN` / `WITH_ONEDNN`); `# comments` and unknown lines are kept in
    `raw` only. A GPU build's `WITH_TENSORRT` line is absent when TRT was not
    found, so with_tensorrt is None then, not False.
    """
    info = LibraryVersionInfo()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        info.raw[key] = value
        if key.lower() == "source":
            info.wheel_derived = value.lower().startswith("wheel")
            continue
        name = _KEYS.get(" ".join(key.lower().split()))
        if name is None:
            continue
        if name in _BOOL_FIELDS:
            setattr(info, name, _bool(value))
        elif name == "git_commit":
            info.git_commit = value or None
        elif name == "paddle_version":
            info.paddle_version = value or None
        else:
            # "v7。", "v8.6": the doc examples carry a leading v, sometimes punctuation
            setattr(info, name, versions.number_in(value))
    if info.tensorrt_version and info.with_tensorrt is None:
        info.with_tensorrt = True
    return info


@dataclass
class InstalledLibrary(JsonResult):
    """An installed library's layout as found on disk."""

    path: Path
    family: str | None = None            # "fluid_inference" | "paddle_inference" | None
    main_lib: Path | None = None
    include_dir: Path | None = None
    version: LibraryVersionInfo | None = None
    third_party: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def library_root(path: Path) -> Path:
    """The library root under `path`: itself, or a single known wrapper dir inside it."""
    path = Path(path)
    if (path / "paddle").is_dir() or (path / "version.txt").is_file():
        return path
    for name in WRAPPER_DIRS:
        if (path / name / "paddle").is_dir():
            return path / name
    return path


def _find_main_lib(lib_dir: Path) -> tuple[str | None, Path | None]:
    for family, stem in FAMILY_LIBS.items():
        for suffix in (".so", ".a"):
            candidate = lib_dir / f"{stem}{suffix}"
            if candidate.exists():
                return family, candidate
    return None, None


def inspect_library(path: Path) -> InstalledLibrary:
    """Look at a library directory (or the folder a tarball extracted it into)."""
    root = library_root(Path(path))
    found = InstalledLibrary(path=root)
    if not root.is_dir():
        found.problems.append(f"{root} is not a directory")
        return found
    include = root / "paddle" / "include"
    if (include / API_HEADER).is_file():
        found.include_dir = include
    else:
        found.problems.append(f"missing paddle/include/{API_HEADER}")
    found.family, found.main_lib = _find_main_lib(root / "paddle" / "lib")
    if found.main_lib is None:
        found.problems.append("missing paddle/lib/libpaddle_inference.so (2.x/3.x) "
                              "or paddle/lib/libpaddle_fluid.so (1.x)")
    version_txt = root / "version.txt"
    if version_txt.is_file():
        found.version = parse_version_txt(version_txt.read_text(errors="replace"))
    else:
        found.problems.append("missing version.txt")
    tp_install = root / "third_party" / "install"
    if tp_install.is_dir():
        found.third_party = sorted(p.name for p in tp_install.iterdir() if p.is_dir())
    return found


def first_library_steps(then: str = "") -> str:
    """The commands that give a lab its first Paddle Inference library, offline first.

    Every hint that ends at "there is no library" names these, so that no hint
    sends the user to a command that itself fails for want of a library.
    """
    text = ("run `invoke fetch-lib --from-wheel` (offline: assembled from the installed "
            "paddlepaddle wheel), or `invoke fetch-lib --auto` (downloads the official "
            "library that fits this machine) or `invoke build-lib`")
    return f"{text}, then {then}" if then else text


def validate_library(path: Path) -> InstalledLibrary:
    """inspect_library, raising one LabError that lists every missing part."""
    found = inspect_library(path)
    if found.problems:
        raise LabError(
            "not a usable Paddle Inference library: " + "; ".join(found.problems),
            where=str(found.path),
            hint="point at the folder that holds paddle/include, paddle/lib and version.txt "
                 "(the `paddle_inference/` folder of the tarball), or get one: "
                 + first_library_steps(),
        )
    return found


def version_mismatches(info: LibraryVersionInfo, cuda: str | None, cudnn: str | None,
                       tensorrt: str | None) -> list[str]:
    """Where version.txt disagrees with expected CUDA/cuDNN/TensorRT versions.

    Versions compare by common prefix, since version.txt and the manifest give
    different precision (`v8` vs `8.1.1`, `v7.2.3.4` vs `7`).
    """
    out = []
    for label, expected, actual in (("CUDA", cuda, info.cuda_version),
                                    ("cuDNN", cudnn, info.cudnn_version),
                                    ("TensorRT", tensorrt, info.tensorrt_version)):
        if not expected:
            continue
        if not actual:
            out.append(f"{label}: expected {expected}, version.txt states none")
            continue
        a, e = actual.split("."), expected.split(".")
        n = min(len(a), len(e))
        if a[:n] != e[:n]:
            out.append(f"{label}: expected {expected}, version.txt says {actual}")
    return out
