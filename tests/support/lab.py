"""A small but complete lab on disk for the lock / verify / lab tests.

A library-shaped tree (the Paddle C++ SDK cannot be installed here: a stand-in,
named as such), registered as the current library the way fetch-lib does it; a
demo build record with two binaries; a model and a dataset under the work dir.
"""

from __future__ import annotations

from pathlib import Path

from toolchain.settings import LabSettings
from toolchain.state import save_demo_build, set_current_library

VERSION_TXT = """GIT COMMIT ID: 0123456789abcdef0123456789abcdef01234567
WITH_MKL: ON
WITH_MKLDNN: ON
WITH_GPU: ON
CUDA version: 12.6
CUDNN version: v9.5
CXX compiler version: 11.2.0
WITH_TENSORRT: ON
TensorRT version: v10.5.0.18
"""


def lab_settings(env: dict[str, str]) -> LabSettings:
    """LabSettings for the INVOKE_LAB_* environment of a test lab."""
    key = {"INVOKE_LAB_WORK_DIR": "work_dir", "INVOKE_LAB_CACHE_DIR": "cache_dir",
           "INVOKE_LAB_LIB_DIR": "lib_dir", "INVOKE_LAB_RESULTS_DIR": "results_dir",
           "INVOKE_LAB_LOCK_FILE": "lock_file"}
    return LabSettings.from_mapping({key[k]: v for k, v in env.items() if k in key})


def lab_env(base: Path) -> dict[str, str]:
    return {
        "INVOKE_LAB_WORK_DIR": str(base / "work"),
        "INVOKE_LAB_CACHE_DIR": str(base / "cache"),
        "INVOKE_LAB_LIB_DIR": str(base / "work" / "lib"),
        "INVOKE_LAB_RESULTS_DIR": str(base / "results"),
        "INVOKE_LAB_LOCK_FILE": str(base / "lab.lock.toml"),
    }


def build_lab(settings: LabSettings, row_id: str = "3.0.0-gpu-cuda12.6-trt10.5") -> dict:
    """Write the lab; returns the paths a test changes."""
    lib = settings.lib_dir / row_id / "paddle_inference"
    (lib / "paddle" / "include").mkdir(parents=True)
    (lib / "paddle" / "include" / "paddle_inference_api.h").write_text("// stand-in header\n")
    (lib / "paddle" / "lib").mkdir(parents=True)
    main_lib = lib / "paddle" / "lib" / "libpaddle_inference.so"
    main_lib.write_bytes(b"\x7fELF stand-in library " * 4096)
    (lib / "third_party" / "install" / "onednn").mkdir(parents=True)
    (lib / "third_party" / "install" / "onednn" / "libdnnl.so.3").write_bytes(b"dnnl" * 100)
    (lib / "version.txt").write_text(VERSION_TXT)
    set_current_library(settings.lib_dir, lib, row_id, "fetch",
                        url=f"https://paddle-inference-lib.bj.bcebos.com/{row_id}.tgz")

    build = settings.work_dir / "demo" / "build-abc123"
    build.mkdir(parents=True)
    binaries = {}
    for name in ("trt_clas", "test_acc"):
        path = build / name
        path.write_bytes(f"stand-in binary {name}".encode() * 100)
        binaries[name] = str(path)
    save_demo_build(settings.work_dir, {
        "lib": str(lib.resolve()), "binaries": binaries, "gpu": True, "paddle_api": "2.x",
        "built_at": "2026-11-26T12:00:00+00:00",
        "cmake_args": [f"-DPADDLE_LIB={lib.resolve()}", "-DWITH_GPU=ON",
                       "-DUSE_TENSORRT=ON", "-DCMAKE_BUILD_TYPE=Release"],
    })

    model = settings.work_dir / "models" / "mobilenet_v3_small" / "fp32"
    model.mkdir(parents=True)
    (model / "inference.pdmodel").write_bytes(b"model graph" * 1000)
    (model / "inference.pdiparams").write_bytes(bytes(range(256)) * 400)
    # made by running (TensorRT engine cache): not an input, not locked
    (model / "_opt_cache").mkdir()
    (model / "_opt_cache" / "engine.trt").write_bytes(b"engine")

    data = settings.work_dir / "data"
    data.mkdir(parents=True)
    (data / "val.bin").write_bytes(bytes(range(256)) * 1000)
    (data / "val.bin.json").write_text('{"count": 2}\n')
    return {"lib": lib, "main_lib": main_lib, "dataset": data / "val.bin", "model": model,
            "binaries": binaries}
