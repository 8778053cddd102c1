"""What produced the numbers: host, GPU and driver, CUDA/cuDNN/TensorRT, Paddle, the
library's version.txt, model and dataset sha256, tool version and git commit.

Each part is collected on its own; one that cannot be had is recorded as an
error string instead of failing the bench (the numbers are still worth keeping).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from .. import __version__
from ..fsio import sha256_file, sha256_tree
from ..settings import LabSettings

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def model_sha256(path: Path) -> str:
    """The model's identity as the model zoo defines it (program + params bytes),
    else the folder digest."""
    try:
        from ..models.layout import find_model_files

        return find_model_files(path).sha256()
    except Exception:  # noqa: BLE001 - not a lab model layout: hash the folder
        return sha256_tree(path)


def git_info(root: Path = PACKAGE_ROOT) -> dict[str, Any]:
    """Commit and dirty flag of the checkout the tool runs from (None outside a checkout)."""
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                                  text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"git_commit": commit, "git_dirty": bool(status) if status is not None else None}


def paddle_info() -> dict[str, Any]:
    try:
        import paddle
    except ImportError as err:
        return {"error": f"paddle not importable: {err}"}
    info: dict[str, Any] = {"version": paddle.__version__}
    ver = getattr(paddle, "version", None)
    for key, attr in (("commit", "commit"), ("cuda", "cuda"), ("cudnn", "cudnn"),
                      ("with_gpu", "with_gpu"), ("tensorrt", "tensorrt")):
        value = getattr(ver, attr, None)
        try:
            info[key] = value() if callable(value) else value
        except Exception as err:  # noqa: BLE001 - a version query must not stop the bench
            info[key] = f"error: {err}"
    info["compiled_with_cuda"] = bool(paddle.device.is_compiled_with_cuda())
    return info


def library_info(settings: LabSettings) -> dict[str, Any]:
    from ..state import current_library, demo_build

    lib = current_library(settings.lib_dir)
    out: dict[str, Any] = {"path": lib.get("path") if lib else None,
                           "row_id": lib.get("row_id") if lib else None,
                           "source": lib.get("source") if lib else None}
    if lib:
        version_txt = Path(lib["path"]) / "version.txt"
        if version_txt.is_file():
            out["version_sha256"] = sha256_file(version_txt)
            out["version_txt"] = version_txt.read_text(errors="replace")
    demo = demo_build(settings.work_dir)
    if demo:
        out["demo"] = {k: demo.get(k) for k in ("lib", "gpu", "paddle_api", "built_at")}
    return out


def probe_info(settings: LabSettings, lib: str | None) -> dict[str, Any]:
    """Host, GPU, driver, CUDA, cuDNN, TensorRT from the doctor probe."""
    try:
        from ..doctor import collect_report, host_summary
    except ImportError as err:
        return {"host": _fallback_host(), "software": {"error": f"probe unavailable: {err}"}}
    out: dict[str, Any] = {}
    try:
        out["host"] = host_summary()
    except Exception as err:  # noqa: BLE001
        out["host"] = {**_fallback_host(), "error": str(err)}
    try:
        rep = collect_report(settings, lib=Path(lib) if lib else None)
        out["gpu"] = list(rep.gpus or [])
        out["software"] = {"driver": rep.driver_version, "driver_cuda_max": rep.driver_cuda_max,
                           "cuda": rep.cuda_version, "cudnn": rep.cudnn_version,
                           "tensorrt": rep.tensorrt_version, "gcc": rep.gcc_version,
                           "cpu_flags": sorted(f for f in (rep.cpu_flags or ())
                                               if f.startswith(("avx", "amx", "fma")))}
    except Exception as err:  # noqa: BLE001
        out["software"] = {"error": f"probe failed: {err}"}
    return out


def _fallback_host() -> dict[str, Any]:
    import os
    import platform
    import socket

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"hostname": socket.gethostname(), "os": platform.platform(), "cpu_model": cpu,
            "cores": os.cpu_count(), "python": platform.python_version()}


def dataset_info(data_file: Path | None) -> dict[str, Any]:
    if data_file is None:
        return {"path": None}
    data_file = Path(data_file)
    out: dict[str, Any] = {"path": str(data_file)}
    sidecar = Path(str(data_file) + ".json")
    if sidecar.is_file():
        try:
            from ..data.sidecar import verify_sidecar

            meta = verify_sidecar(data_file)
        except ImportError:
            meta = json.loads(sidecar.read_text())
        out.update({k: meta.get(k) for k in ("sha256", "format", "size_bytes") if k in meta})
        if "count" in meta:
            out["images"] = meta["count"]
    if not out.get("sha256") and data_file.exists():
        out["sha256"] = sha256_tree(data_file)
    return out


def collect(settings: LabSettings, models: dict[str, dict[str, Path]],
            data_file: Path | None) -> dict[str, Any]:
    """Everything bench.json records about where its numbers come from."""
    lib = library_info(settings)
    prov = probe_info(settings, lib.get("path"))
    prov.setdefault("gpu", [])
    prov["paddle"] = paddle_info()
    prov["library"] = lib
    prov["dataset"] = dataset_info(data_file)
    prov["models"] = {name: {p: model_sha256(d) for p, d in dirs.items()}
                      for name, dirs in models.items()}
    prov["tool"] = {"name": "paddle-trt-lab", "version": __version__, **git_info()}
    return prov

