"""fetch-lib --auto weighs the runtime on the host: a build whose CUDA runtime is missing
ranks below one whose runtime is there, and the pick says what must be installed."""

from __future__ import annotations

from dataclasses import dataclass, field

from toolchain.fetch.resolve import LibraryRequest, apply_auto, resolve
from toolchain.fetch.run import list_libraries
from toolchain.library.manifest import load_manifest

ROWS = load_manifest()


@dataclass
class HostReport:
    """What apply_auto reads from a ProbeReport (the H200 device machine: driver 580,
    CUDA <= 13.0, no cuDNN, no TensorRT, gcc 13)."""

    driver_cuda_max: str = "13.0"
    cudnn_version: str | None = None
    tensorrt_version: str | None = None
    gcc_version: str | None = "13.3.0"
    runtime_libs: dict = field(default_factory=lambda: {
        "libcudart.so.13": "/usr/local/cuda-13.0/lib64/libcudart.so.13",
        "libcublas.so.13": "/usr/local/cuda-13.0/lib64/libcublas.so.13"})


def test_h200_with_only_cuda_13_is_told_what_a_12_9_build_needs():
    req, notes = apply_auto(LibraryRequest(), HostReport())
    res = resolve(req, ROWS)
    assert res.row.cuda == "12.9"
    text = "\n".join(res.reasons)
    assert "libcudart.so.13" in "\n".join(notes)
    for soname in ("libcudart.so.12", "libcublas.so.12", "libcudnn.so.9", "libnvinfer.so.10"):
        assert soname in text
    assert "nvidia-cuda-runtime-cu12" in text


def test_a_build_whose_cuda_runtime_is_present_ranks_first():
    host = HostReport(runtime_libs={"libcudart.so.11.0": "/x/libcudart.so.11.0",
                                    "libcublas.so.11": "/x/libcublas.so.11"})
    req, _ = apply_auto(LibraryRequest(), host)
    res = resolve(req, ROWS)
    assert res.row.cuda.startswith("11.")
    listed = list_libraries(req, ROWS)
    assert listed[0].cuda.startswith("11.")
    # without the probe the newest CUDA wins, as before
    plain = resolve(LibraryRequest(cuda_max="13.0", device="gpu"), ROWS)
    assert plain.row.cuda == "12.9"


def test_everything_present_says_so():
    sonames = ["libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libcudnn.so.9",
               "libnvinfer.so.10", "libnvinfer_plugin.so.10"]
    req, _ = apply_auto(LibraryRequest(), HostReport(runtime_libs={s: "/x/" + s
                                                                    for s in sonames}))
    res = resolve(req, ROWS)
    assert res.row.cuda == "12.9"
    assert any("every runtime library" in r for r in res.reasons)
