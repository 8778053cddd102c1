"""Build real library archives (both layouts, good and malicious) for fetch-lib tests.

The Paddle C++ SDK cannot be downloaded here, so the archives are stand-ins with
the real layout (paddle/include/paddle_inference_api.h, paddle/lib/<main lib>.so,
third_party/install/..., version.txt in the format of the row's era) and small
placeholder files instead of the real multi-hundred-MB binaries.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from toolchain.library.manifest import LibraryRecipe


def version_txt_for(row: LibraryRecipe, **override: str) -> str:
    """version.txt in the format the row's Paddle version wrote (§6.1 of the notes)."""
    cuda = override.get("cuda", row.cuda)
    cudnn = override.get("cudnn", row.cudnn)
    trt = override.get("trt", row.tensorrt)
    gpu = row.device != "cpu"
    major = int(row.paddle_version.split(".")[0])
    lines = []
    if major >= 3:
        lines.append(f"Paddle version: {row.paddle_version}")
    lines += ["GIT COMMIT ID: 0123456789abcdef0123456789abcdef01234567",
              f"WITH_MKL: {'ON' if row.math_lib == 'mkl' else 'OFF'}",
              f"{'WITH_ONEDNN' if major >= 3 else 'WITH_MKLDNN'}: ON",
              f"WITH_GPU: {'ON' if gpu else 'OFF'}"]
    if gpu:
        cudnn_shown = ".".join(cudnn.split(".")[:2]) if major >= 2 else cudnn.split(".")[0]
        lines += [f"CUDA version: {cuda}", f"CUDNN version: v{cudnn_shown}"]
    if major >= 2 or row.paddle_version.startswith("1.8"):
        lines.append(f"CXX compiler version: {row.gcc or '8.2'}.0")
    if gpu and trt:
        lines += ["WITH_TENSORRT: ON", f"TensorRT version: v{trt}"]
    return "\n".join(lines) + "\n"


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


def build_library_archive(dest: Path, row: LibraryRecipe, version_txt: str | None = None,
                          top: str | None = None, padding: int = 0,
                          extra: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]] = ()
                          ) -> Path:
    """A .tgz shaped like the row's official archive (1.x fluid_inference or 2.x/3.x)."""
    fluid = row.lib_family == "fluid_inference"
    top = top if top is not None else ("fluid_inference" if fluid else "paddle_inference")
    lib = "libpaddle_fluid" if fluid else "libpaddle_inference"
    p = f"{top}/" if top else ""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w:gz", compresslevel=1) as tar:
        for d in ("", "paddle", "paddle/include", "paddle/lib", "third_party",
                  "third_party/install", "third_party/install/mklml",
                  "third_party/install/mklml/lib", "third_party/install/glog"):
            if p or d:
                _add_dir(tar, (p + d).rstrip("/"))
        _add_bytes(tar, f"{p}paddle/include/paddle_inference_api.h",
                   b"// stand-in header\n#pragma once\n")
        _add_bytes(tar, f"{p}paddle/include/paddle_analysis_config.h", b"#pragma once\n")
        _add_bytes(tar, f"{p}paddle/lib/{lib}.so", b"\x7fELF stand-in" + os.urandom(256)
                   + os.urandom(padding), 0o755)
        _add_bytes(tar, f"{p}third_party/install/mklml/lib/libmklml_intel.so", b"\x7fELF")
        # a relative symlink inside the tree is fine (real archives have them)
        link = tarfile.TarInfo(f"{p}third_party/install/mklml/lib/libmklml.so")
        link.type = tarfile.SYMTYPE
        link.linkname = "libmklml_intel.so"
        tar.addfile(link)
        _add_bytes(tar, f"{p}CMakeCache.txt", b"# stand-in\n")
        _add_bytes(tar, f"{p}version.txt",
                   (version_txt if version_txt is not None else version_txt_for(row)).encode())
        for item in extra:
            if isinstance(item, tuple):
                tar.addfile(item[0], io.BytesIO(item[1]))
            else:
                tar.addfile(item)
    return dest


def malicious_member(kind: str, top: str = "paddle_inference"):
    """One unsafe tar member of the given kind."""
    if kind == "absolute":
        info = tarfile.TarInfo("/tmp/paddle-trt-lab-evil")
        info.size = 1
        return (info, b"x")
    if kind == "dotdot":
        info = tarfile.TarInfo(f"{top}/../../evil.txt")
        info.size = 1
        return (info, b"x")
    if kind == "symlink":
        info = tarfile.TarInfo(f"{top}/paddle/lib/evil")
        info.type = tarfile.SYMTYPE
        info.linkname = "../../../../etc/passwd"
        return info
    if kind == "abs_symlink":
        info = tarfile.TarInfo(f"{top}/paddle/lib/evil")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        return info
    if kind == "hardlink":
        info = tarfile.TarInfo(f"{top}/paddle/lib/evil")
        info.type = tarfile.LNKTYPE
        info.linkname = "../etc/passwd"
        return info
    if kind == "device":
        info = tarfile.TarInfo(f"{top}/dev-null")
        info.type = tarfile.CHRTYPE
        info.devmajor, info.devminor = 1, 3
        return info
    if kind == "fifo":
        info = tarfile.TarInfo(f"{top}/fifo")
        info.type = tarfile.FIFOTYPE
        return info
    raise ValueError(kind)


MALICIOUS_KINDS = ("absolute", "dotdot", "symlink", "abs_symlink", "hardlink", "device", "fifo")


def mirror_path(row: LibraryRecipe) -> str:
    """The URL path of the row (what --mirror keeps)."""
    from urllib.parse import urlsplit

    return urlsplit(row.url).path
