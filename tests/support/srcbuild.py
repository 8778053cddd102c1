"""Test inputs for build-lib: TensorRT roots, CUDA roots and compilers made on disk.

TensorRT and CUDA cannot be installed here, so the tests write their file layout
(headers with the real macro styles, a library file) and STAND-IN executables
(nvcc, g++) that print what the real tools print; they are named as stand-ins in
their own text.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

# NvInferVersion.h of TRT 6.0 .. 10.10: literal NV_TENSORRT_* numbers.
TRT_LITERAL = """/*
 * Copyright (c) NVIDIA CORPORATION. (test copy: only the version macros)
 */
#ifndef NV_INFER_VERSION_H
#define NV_INFER_VERSION_H

#define NV_TENSORRT_MAJOR {major} //!< TensorRT major version.
#define NV_TENSORRT_MINOR {minor} //!< TensorRT minor version.
#define NV_TENSORRT_PATCH {patch} //!< TensorRT patch version.
#define NV_TENSORRT_BUILD {build} //!< TensorRT build number.

#define NV_TENSORRT_SONAME_MAJOR {major} //!< Shared object library major version number.
#define NV_TENSORRT_SONAME_MINOR {minor}
#define NV_TENSORRT_SONAME_PATCH {patch}
#endif // NV_INFER_VERSION_H
"""

# From TRT 10.11: TRT_*_ENTERPRISE literals with NV_TENSORRT_* aliased to them.
TRT_ENTERPRISE = """#ifndef NV_INFER_VERSION_H
#define NV_INFER_VERSION_H

#define TRT_MAJOR_ENTERPRISE {major}
#define TRT_MINOR_ENTERPRISE {minor}
#define TRT_PATCH_ENTERPRISE {patch}
#define TRT_BUILD_ENTERPRISE {build}
#define NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE //!< TensorRT major version.
#define NV_TENSORRT_MINOR TRT_MINOR_ENTERPRISE //!< TensorRT minor version.
#define NV_TENSORRT_PATCH TRT_PATCH_ENTERPRISE //!< TensorRT patch version.
#define NV_TENSORRT_BUILD TRT_BUILD_ENTERPRISE //!< TensorRT build number.

#define NV_TENSORRT_LWS_MAJOR 0
#define NV_TENSORRT_RELEASE_TYPE kSTANDARD
#endif
"""

NVINFER_H = '#pragma once\n#include "NvInferRuntime.h"\n// test copy of NvInfer.h: declarations left out\n'


def make_trt_root(dest: Path, version: str = "8.6.1.6", *, missing_header: bool = False,
                  missing_version_header: bool = False, missing_lib: bool = False,
                  versioned_lib_only: bool = False) -> Path:
    """A TensorRT root like the unpacked tar: include/NvInfer.h, the version header, lib/."""
    major, minor, patch, build = (version.split(".") + ["0"] * 4)[:4]
    include, lib = dest / "include", dest / "lib"
    include.mkdir(parents=True, exist_ok=True)
    lib.mkdir(parents=True, exist_ok=True)
    fields = dict(major=major, minor=minor, patch=patch, build=build)
    if int(major) <= 5:  # TRT 5: the macros live in NvInfer.h itself
        header = NVINFER_H + TRT_LITERAL.format(**fields).split("#ifndef NV_INFER_VERSION_H")[1]
        if not missing_header:
            (include / "NvInfer.h").write_text(header)
    else:
        if not missing_header:
            (include / "NvInfer.h").write_text(NVINFER_H)
        if not missing_version_header:
            style = TRT_ENTERPRISE if (int(major), int(minor)) >= (10, 11) else TRT_LITERAL
            (include / "NvInferVersion.h").write_text(style.format(**fields))
    if not missing_lib:
        real = lib / f"libnvinfer.so.{version}"
        real.write_bytes(b"\x7fELF stand-in libnvinfer for tests\n")
        (lib / f"libnvinfer.so.{major}").symlink_to(real.name)
        if not versioned_lib_only:
            (lib / "libnvinfer.so").symlink_to(f"libnvinfer.so.{major}")
    return dest


def write_standin_tool(path: Path, text: str) -> Path:
    """A stand-in executable (shell script) that prints `text` like the real tool."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = " ".join(shlex.quote(line) for line in text.rstrip("\n").splitlines())
    # printf is a shell builtin: the stand-in works with any PATH
    path.write_text(f"#!/bin/sh\n# STAND-IN for tests, not the real tool\nprintf '%s\\n' {lines}\n")
    path.chmod(0o755)
    return path


def nvcc_text(version: str) -> str:
    mm = ".".join(version.split(".")[:2])
    return ("nvcc: NVIDIA (R) Cuda compiler driver\n"
            "Copyright (c) 2005-2024 NVIDIA Corporation\n"
            "Built on Tue_Oct_29_23:50:19_PDT_2024\n"
            f"Cuda compilation tools, release {mm}, V{version}\n"
            f"Build cuda_{mm}.r{mm}/compiler.35059454_0\n")


def make_cuda_root(dest: Path, version: str = "12.6.85", cudnn: str | None = "9.5.1") -> Path:
    """A CUDA toolkit root with a stand-in bin/nvcc and (optionally) cuDNN's version header."""
    write_standin_tool(dest / "bin" / "nvcc", nvcc_text(version))
    if cudnn:
        major, minor, patch = cudnn.split(".")
        (dest / "include").mkdir(parents=True, exist_ok=True)
        (dest / "include" / "cudnn_version.h").write_text(
            f"#define CUDNN_MAJOR {major}\n#define CUDNN_MINOR {minor}\n"
            f"#define CUDNN_PATCHLEVEL {patch}\n"
            "#define CUDNN_VERSION (CUDNN_MAJOR * 10000 + CUDNN_MINOR * 100 + CUDNN_PATCHLEVEL)\n")
    return dest


def make_gcc_bin(dest_dir: Path, version: str) -> Path:
    """A stand-in g++ that reports `version` (for the compiler check only)."""
    return write_standin_tool(dest_dir / "g++", f"g++ (GCC stand-in) {version}\n"
                              "Copyright (C) Free Software Foundation, Inc.\n")


def tool_path(*dirs: Path) -> str:
    """PATH with `dirs` first, then the real system tools (git, cmake, make)."""
    return os.pathsep.join([*(str(d) for d in dirs), os.environ.get("PATH", "")])
