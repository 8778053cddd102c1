"""The runtime a GPU library needs: NEEDED entries of real ELF files built with g++, the
sonames of its version.txt, found (or not) in fake roots laid out like the real ones."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from toolchain.errors import LabError
from toolchain.library.installed import inspect_library
from toolchain.doctor.report import ProbeReport
from toolchain.doctor.runtime import (SUPPORT_PATH, check_library, host_runtime_dirs,
                                     parse_elf_dynamic, read_elf_dynamic, required_sonames,
                                     scan_runtime_dirs)
from toolchain.doctor.verdicts import judge, load_rules

SUPPORT = load_rules(SUPPORT_PATH)
needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")

# The 3.x version.txt format (tests/fixtures/probe/public/paddle-version-3.0.0-rc0-*.txt)
# with the versions of the 3.2.1 CUDA 12.9 row of recipes/paddle_inference.toml.
VERSION_CU129 = """Paddle version: 3.2.1
GIT COMMIT ID: 0123456789abcdef0123456789abcdef01234567
WITH_MKL: ON
WITH_ONEDNN: ON
WITH_GPU: ON
CUDA version: 12.9
CUDNN version: v9.9
CXX compiler version: 11.2.0
WITH_TENSORRT: ON
TensorRT version: v10.5.0.18
"""


def _stub(out_dir: Path, soname: str) -> Path:
    """A real shared object whose SONAME is `soname` (one symbol, compiled by g++)."""
    src = out_dir / f"{soname}.cc"
    src.write_text(f'extern "C" int stub_{abs(hash(soname))}() {{ return 1; }}\n')
    path = out_dir / soname
    subprocess.run(["g++", "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", str(path),
                    str(src)], check=True, timeout=120)
    return path


def build_gpu_library(root: Path, sonames: list[str], version_txt: str = VERSION_CU129,
                      extra_flags: tuple[str, ...] = ()) -> Path:
    """A Paddle Inference layout whose libpaddle_inference.so is a real ELF linked
    against stub libraries named like the CUDA ones (so its NEEDED entries are real)."""
    stubs = root.parent / f"{root.name}-stubs"
    stubs.mkdir(parents=True)
    libs = [_stub(stubs, s) for s in sonames]
    lib_dir = root / "paddle" / "lib"
    lib_dir.mkdir(parents=True)
    (root / "paddle" / "include").mkdir(parents=True)
    (root / "paddle" / "include" / "paddle_inference_api.h").write_text("// stand-in\n")
    src = stubs / "paddle.cc"
    src.write_text('extern "C" int paddle_stub() { return 0; }\n')
    subprocess.run(["g++", "-shared", "-fPIC", "-Wl,-soname,libpaddle_inference.so",
                    "-Wl,--no-as-needed", *extra_flags, "-o",
                    str(lib_dir / "libpaddle_inference.so"), str(src), *map(str, libs)],
                   check=True, timeout=120)
    (root / "version.txt").write_text(version_txt)
    return root


def _readelf_needed(path: Path) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True,
                         timeout=60).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines()
            if "(NEEDED)" in line]


@needs_gxx
def test_needed_entries_of_a_real_elf_match_readelf(tmp_path):
    lib = build_gpu_library(tmp_path / "lib", ["libcudart.so.12", "libcublas.so.12"],
                            extra_flags=("-Wl,-rpath,$ORIGIN/../../third_party",))
    so = lib / "paddle" / "lib" / "libpaddle_inference.so"
    dyn = read_elf_dynamic(so)
    assert dyn.soname == "libpaddle_inference.so"
    assert {"libcudart.so.12", "libcublas.so.12"} <= set(dyn.needed)
    assert dyn.runpath == ["$ORIGIN/../../third_party"]
    if shutil.which("readelf"):
        assert dyn.needed == _readelf_needed(so)


def test_not_an_elf_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "libpaddle_inference.so"
    bad.write_text("stand-in")
    with pytest.raises(LabError, match="cannot read the dynamic section"):
        read_elf_dynamic(bad)
    with pytest.raises(ValueError, match="not an ELF"):
        parse_elf_dynamic(lambda off, n: b"MZ\x90\x00"[off:off + n])


@pytest.mark.parametrize("cuda, cudnn, trt, expected", [
    ("12.9", "9.9", "10.5.0.18", {"libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12",
                                  "libcudnn.so.9", "libnvinfer.so.10",
                                  "libnvinfer_plugin.so.10"}),
    ("11.8", "8.9.7", "8.6.1.6", {"libcudart.so.11.0", "libcublas.so.11",
                                  "libcublasLt.so.11", "libcudnn.so.8", "libnvinfer.so.8",
                                  "libnvinfer_plugin.so.8"}),
    ("10.2", "7.6.5", None, {"libcudart.so.10.2", "libcublas.so.10", "libcublasLt.so.10",
                             "libcudnn.so.7"}),
])
def test_sonames_a_library_needs_follow_its_versions(cuda, cudnn, trt, expected):
    assert {n.soname for n in required_sonames(cuda, cudnn, trt, SUPPORT)} == expected


def test_pip_wheels_are_named_for_cuda_12_builds():
    needs = {n.soname: n for n in required_sonames("12.9", "9.9", "10.5", SUPPORT)}
    assert "nvidia-cuda-runtime-cu12" in needs["libcudart.so.12"].install
    assert "nvidia-cudnn-cu12" in needs["libcudnn.so.9"].install
    assert "tensorrt-cu12-libs" in needs["libnvinfer.so.10"].install


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("stand-in")
    return path


@needs_gxx
def test_h200_host_with_only_cuda_13_lacks_what_a_12_9_build_needs(tmp_path):
    lib = build_gpu_library(tmp_path / "lib", ["libcudart.so.12"])
    cuda13 = tmp_path / "cuda-13.0"
    _touch(cuda13 / "lib64" / "libcudart.so.13")
    _touch(cuda13 / "lib64" / "libcublas.so.13")
    dirs = host_runtime_dirs(env={}, site_dirs=[], cuda_roots=[cuda13], library=lib)
    present = scan_runtime_dirs(dirs, ldconfig={})
    found = inspect_library(lib)
    check = check_library(lib, found.main_lib, found.version, SUPPORT, present)
    missing = {n.soname for n in check.missing}
    assert {"libcudart.so.12", "libcublas.so.12", "libcudnn.so.9",
            "libnvinfer.so.10"} <= missing
    cudart = next(n for n in check.needs if n.soname == "libcudart.so.12")
    assert cudart.why.startswith("NEEDED by libpaddle_inference.so")


@needs_gxx
def test_each_place_a_runtime_lives_is_found_and_named(tmp_path):
    lib = build_gpu_library(tmp_path / "lib", ["libcudart.so.12"])
    site = tmp_path / "site-packages"
    _touch(site / "nvidia" / "cuda_runtime" / "lib" / "libcudart.so.12")
    _touch(site / "nvidia" / "cublas" / "lib" / "libcublas.so.12")
    _touch(site / "nvidia" / "cublas" / "lib" / "libcublasLt.so.12")
    trt = tmp_path / "TensorRT-10.5.0.18"
    _touch(trt / "lib" / "libnvinfer.so.10")
    _touch(trt / "lib" / "libnvinfer_plugin.so.10")
    sysdir = tmp_path / "usr-lib"
    ldconfig = {"libcudnn.so.9": [str(_touch(sysdir / "libcudnn.so.9"))]}
    dirs = host_runtime_dirs(env={"TENSORRT_ROOT": str(trt)}, site_dirs=[str(site)],
                             library=lib)
    found = inspect_library(lib)
    check = check_library(lib, found.main_lib, found.version, SUPPORT,
                          scan_runtime_dirs(dirs, ldconfig))
    where = {n.soname: n.where for n in check.needs}
    assert check.missing == []
    assert where["libcudart.so.12"] == "pip nvidia-cuda_runtime wheel"
    assert where["libcublas.so.12"] == "pip nvidia-cublas wheel"
    assert where["libnvinfer.so.10"] == "TENSORRT_ROOT"
    assert where["libcudnn.so.9"] == "system (ldconfig -p)"


def test_ld_library_path_comes_first(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    _touch(first / "libcudart.so.12")
    _touch(second / "libcudart.so.12")
    dirs = host_runtime_dirs(env={"LD_LIBRARY_PATH": f"{first}:{second}"}, site_dirs=[])
    present = scan_runtime_dirs(dirs, {"libcudart.so.12": ["/usr/lib/libcudart.so.12"]})
    assert present["libcudart.so.12"] == (str(first / "libcudart.so.12"), "LD_LIBRARY_PATH")


def _report_with(lib_runtime: dict | None, gpus=True) -> ProbeReport:
    report = ProbeReport(library={"path": "/lib", "version": {"cuda_version": "12.9"},
                                  "runtime": lib_runtime, "problems": []})
    if gpus:
        report.gpus = [{"index": 0, "name": "NVIDIA H200", "compute_capability": "9.0"}]
    return report


@needs_gxx
def test_doctor_fails_with_what_to_install_when_the_runtime_is_missing(tmp_path):
    lib = build_gpu_library(tmp_path / "lib", ["libcudart.so.12"])
    found = inspect_library(lib)
    check = check_library(lib, found.main_lib, found.version, SUPPORT, present={})
    verdicts = [v for v in judge(_report_with(check.to_dict())) if v.check == "library runtime"]
    assert verdicts and verdicts[0].level == "fail"
    assert "libcudart.so.12" in verdicts[0].message
    assert "nvidia-cuda-runtime-cu12" in verdicts[0].fix
    # without a GPU it is only a warning
    no_gpu = [v for v in judge(_report_with(check.to_dict(), gpus=False))
              if v.check == "library runtime"]
    assert no_gpu[0].level == "warn"


def test_host_paths_are_not_touched_when_nothing_is_there(tmp_path):
    dirs = host_runtime_dirs(env={}, site_dirs=[str(tmp_path / "none")])
    assert scan_runtime_dirs(dirs, {}) == {}
    assert all(not os.path.exists(d) for d, _ in dirs)


@needs_gxx
def test_collect_runtime_records_host_sonames_and_the_librarys_needs(tmp_path):
    from toolchain.doctor.collectors import collect_library
    from toolchain.doctor.runtime import collect_runtime

    lib = build_gpu_library(tmp_path / "lib", ["libcudart.so.12"])
    site = tmp_path / "site-packages"
    _touch(site / "nvidia" / "cu13" / "lib" / "libcudart.so.13")   # the CUDA 13 wheel layout
    report = ProbeReport()
    collect_library(report, lib, "--lib")
    collect_runtime(report, [], {}, SUPPORT, env={}, site_dirs=[str(site)])
    assert report.runtime_libs == {"libcudart.so.13":
                                   str(site / "nvidia" / "cu13" / "lib" / "libcudart.so.13")}
    needs = {f.name: f for f in report.in_section("library") if f.name.startswith("needs ")}
    assert needs["needs libcudart.so.12"].status == "not found"
    assert report.library["runtime"]["needs"][0]["soname"] == "libcudart.so.12"
    assert "runtime_libs" not in report.to_dict()     # doctor --json keeps its schema
