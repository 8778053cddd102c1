"""A STAND-IN for Paddle's source tree, for build-lib's executor tests only.

A real Paddle build cannot run here (hours, and its third-party downloads need
the internet), so the tests build this small CMake project instead. It is shaped
like Paddle where build-lib depends on it:
- it accepts Paddle's -D flags (ON_INFER, WITH_GPU, WITH_TENSORRT, TENSORRT_ROOT,
  WITH_MKL, WITH_MKLDNN/WITH_ONEDNN, WITH_PYTHON, CUDA_ARCH_NAME, ...) and fails
  configure without ON_INFER=ON;
- it writes version.txt into PADDLE_INFERENCE_INSTALL_DIR (or the 1.x
  FLUID_INFERENCE_INSTALL_DIR) at configure time, as cmake/inference_lib.cmake does;
- `make` prints `[ NN%]` progress while g++ compiles a few translation units into
  libpaddle_inference.so (libpaddle_fluid.so for 1.x);
- a third-party step stands in for ExternalProject downloads: it fails with git's
  "Could not resolve host: github.com" message unless <build>/third_party/gflags/READY
  exists (what pre-filling the third_party dir gives);
- `make inference_lib_dist` installs paddle/include/paddle_inference_api.h and
  paddle/lib/libpaddle_*.so into the install dir.
Each configure appends a line to <build>/configure_count.txt so tests can tell a
resumed build from a reconfigured one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

CMAKELISTS = r"""
cmake_minimum_required(VERSION 3.10)
project(standin_paddle_for_tests CXX)
# STAND-IN for Paddle's source tree (paddle-trt-lab tests); see tests/standin_paddle_src.

option(ON_INFER "" OFF)
option(WITH_GPU "" OFF)
option(WITH_TENSORRT "" OFF)
option(WITH_MKL "" ON)
option(WITH_MKLDNN "" OFF)
option(WITH_ONEDNN "" OFF)
option(WITH_PYTHON "" ON)
option(WITH_TESTING "" OFF)
option(WITH_INFERENCE_API_TEST "" OFF)
set(TENSORRT_ROOT "/usr" CACHE PATH "")
set(CUDA_ARCH_NAME "Auto" CACHE STRING "")
set(CUDA_ARCH_BIN "" CACHE STRING "")
set(PY_VERSION "" CACHE STRING "")
set(STANDIN_ERA "@ERA@")
set(STANDIN_VERSION "@VERSION@")

if(NOT ON_INFER)
  message(FATAL_ERROR "stand-in: ON_INFER=ON is required")
endif()
file(APPEND "${CMAKE_BINARY_DIR}/configure_count.txt" "configured\n")

if(STANDIN_ERA STREQUAL "1.8")
  set(FLUID_INFERENCE_INSTALL_DIR "${CMAKE_BINARY_DIR}/fluid_inference_install_dir" CACHE PATH "")
  set(INSTALL_DIR "${FLUID_INFERENCE_INSTALL_DIR}")
  set(LIB_NAME paddle_fluid)
  set(ONEDNN_LINE "WITH_MKLDNN: ${WITH_MKLDNN}")
  set(VERSION_HEAD "")
else()
  set(PADDLE_INFERENCE_INSTALL_DIR "${CMAKE_BINARY_DIR}/paddle_inference_install_dir" CACHE PATH "")
  set(INSTALL_DIR "${PADDLE_INFERENCE_INSTALL_DIR}")
  set(LIB_NAME paddle_inference)
  set(ONEDNN_LINE "WITH_ONEDNN: ${WITH_ONEDNN}")
  set(VERSION_HEAD "Paddle version: ${STANDIN_VERSION}\n")
endif()

execute_process(COMMAND git rev-parse HEAD WORKING_DIRECTORY "${CMAKE_SOURCE_DIR}"
                OUTPUT_VARIABLE GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE)
# Like Paddle's cmake/inference_lib.cmake: version.txt is written at configure time.
file(WRITE "${INSTALL_DIR}/version.txt"
  "${VERSION_HEAD}GIT COMMIT ID: ${GIT_COMMIT}\nWITH_MKL: ${WITH_MKL}\n${ONEDNN_LINE}\nWITH_GPU: ${WITH_GPU}\nCXX compiler version: ${CMAKE_CXX_COMPILER_VERSION}\n")

# Stand-in for an ExternalProject download of a third-party library.
add_custom_command(
  OUTPUT "${CMAKE_BINARY_DIR}/third_party/gflags.stamp"
  COMMAND "${CMAKE_COMMAND}" -DBUILD_DIR=${CMAKE_BINARY_DIR} -P "${CMAKE_SOURCE_DIR}/cmake/third_party_standin.cmake"
  COMMENT "stand-in: fetching gflags")
add_custom_target(extern_gflags DEPENDS "${CMAKE_BINARY_DIR}/third_party/gflags.stamp")

add_library(${LIB_NAME} SHARED
  paddle/fluid/inference/api/analysis_config.cc
  paddle/fluid/inference/api/analysis_predictor.cc
  paddle/fluid/inference/api/paddle_api.cc
  paddle/fluid/inference/api/version.cc)
target_include_directories(${LIB_NAME} PUBLIC "${CMAKE_SOURCE_DIR}/paddle/fluid/inference/api")
add_dependencies(${LIB_NAME} extern_gflags)

add_custom_target(inference_lib_dist
  COMMAND "${CMAKE_COMMAND}" -E make_directory "${INSTALL_DIR}/paddle/include" "${INSTALL_DIR}/paddle/lib"
  COMMAND "${CMAKE_COMMAND}" -E copy "${CMAKE_SOURCE_DIR}/paddle/fluid/inference/api/paddle_inference_api.h" "${INSTALL_DIR}/paddle/include/"
  COMMAND "${CMAKE_COMMAND}" -E copy "$<TARGET_FILE:${LIB_NAME}>" "${INSTALL_DIR}/paddle/lib/"
  DEPENDS ${LIB_NAME}
  COMMENT "stand-in: installing into ${INSTALL_DIR}")
"""

THIRD_PARTY_CMAKE = r"""
# stand-in: an offline machine cannot fetch gflags; a pre-filled third_party dir can.
if(NOT EXISTS "${BUILD_DIR}/third_party/gflags/READY")
  message("Cloning into 'extern_gflags'...")
  message("fatal: unable to access 'https://github.com/gflags/gflags.git/': Could not resolve host: github.com")
  message(FATAL_ERROR "Failed to clone repository: 'https://github.com/gflags/gflags.git'")
endif()
file(WRITE "${BUILD_DIR}/third_party/gflags.stamp" "ok\n")
"""

HEADER = """#pragma once
// stand-in for paddle_inference_api.h (tests only)
namespace paddle_infer { const char* GetVersion(); }
"""

SOURCES = {
    "analysis_config.cc": "#include \"paddle_inference_api.h\"\nint standin_config() { return 1; }\n",
    "analysis_predictor.cc": "#include \"paddle_inference_api.h\"\nint standin_predictor() { return 2; }\n",
    "paddle_api.cc": "#include \"paddle_inference_api.h\"\nint standin_api() { return 3; }\n",
    "version.cc": "#include \"paddle_inference_api.h\"\n"
                  "namespace paddle_infer { const char* GetVersion() { return \"@VERSION@\"; } }\n",
}


def _git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", "-c", "user.name=standin", "-c", "user.email=standin@localhost",
                          "-c", "init.defaultBranch=develop", "-c", "advice.detachedHead=false",
                          *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


def write_tree(root: Path, era: str, version: str) -> None:
    api = root / "paddle" / "fluid" / "inference" / "api"
    api.mkdir(parents=True, exist_ok=True)
    (root / "cmake").mkdir(exist_ok=True)
    (root / "CMakeLists.txt").write_text(
        CMAKELISTS.replace("@ERA@", era).replace("@VERSION@", version))
    (root / "cmake" / "third_party_standin.cmake").write_text(THIRD_PARTY_CMAKE)
    (root / "cmake" / "tensorrt.cmake").write_text(
        "# stand-in: reads NV_TENSORRT_MAJOR only (like Paddle before the TRT_*_ENTERPRISE "
        "fallback)\n")
    (api / "paddle_inference_api.h").write_text(HEADER)
    for name, text in SOURCES.items():
        (api / name).write_text(text.replace("@VERSION@", version))


def create_standin_paddle_repo(base: Path, tags: dict[str, str] | None = None) -> Path:
    """A bare git repo (file path usable as a clone URL) with one commit per tag.

    `tags` maps tag -> era, e.g. {"v1.8.5": "1.8", "v3.0.0": "3.x"} (commits in that order).
    """
    tags = tags or {"v3.0.0": "3.x"}
    work = base / "standin-paddle-work"
    work.mkdir(parents=True)
    _git(work, "init", "-q")
    for tag, era in tags.items():
        write_tree(work, era, tag.lstrip("v"))
        _git(work, "add", "-A")
        _git(work, "commit", "-q", "-m", f"stand-in Paddle {tag}")
        _git(work, "tag", tag)
    _git(work, "commit", "-q", "--allow-empty", "-m", "develop after the last tag")
    bare = base / "standin-paddle.git"
    _git(base, "clone", "-q", "--bare", str(work), str(bare))
    return bare
