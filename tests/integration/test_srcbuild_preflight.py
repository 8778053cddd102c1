"""build-lib preflight against TensorRT/CUDA roots and compilers the tests make on disk."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from support.srcbuild import make_cuda_root, make_gcc_bin, make_trt_root
from toolchain.settings import BuildSettings
from toolchain.build_lib.facts import load_build_facts, version_from_ref
from toolchain.build_lib.plan import BuildRequest, plan_build
from toolchain.build_lib.preflight import (FAIL, OK, WARN, check_enterprise_macros,
                                          inspect_tensorrt_root, run_preflight)

BUILD = BuildSettings(disk_warn_gb=0, disk_fail_gb=0, memory_gb_per_job=3)


@pytest.fixture(scope="module")
def facts():
    return load_build_facts()


@pytest.fixture
def tools(tmp_path) -> Path:
    """A PATH dir with the real git/cmake/make and a stand-in g++ (no nvcc, no ccache)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("git", "cmake", "make"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    make_gcc_bin(bin_dir, "11.2.0")
    return bin_dir


def env_with(bin_dir: Path, **extra) -> dict:
    return {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/tmp"), **extra}


def plan_for(tmp: Path, ref: str, facts, **kw):
    era = facts.era_for_version(version_from_ref(ref)).name
    base = dict(ref=ref, era=era, paddle_version=version_from_ref(ref), src_dir=tmp / "src",
                build_dir=tmp / "build", install_dir=tmp / "lib" / "out", log_file=tmp / "b.log",
                trt_root=tmp / "trt", jobs=2, row_id="build-x")
    base.update(kw)
    return plan_build(BuildRequest(**base), facts)


def statuses(report) -> dict[str, str]:
    out = {}
    for c in report.checks:   # the worst status per check name
        rank = {OK: 0, WARN: 1, FAIL: 2}
        if rank[c.status] >= rank.get(out.get(c.name), -1):
            out[c.name] = c.status
    return out


@pytest.mark.parametrize("version", ["5.1.5.0", "6.0.1.5", "8.6.1.6", "10.11.0.33"])
def test_trt_roots_of_each_header_style(tmp_path, version):
    found = inspect_tensorrt_root(make_trt_root(tmp_path / "trt", version))
    assert found.problems == []
    assert found.version == version
    expect = "NvInfer.h" if version.startswith("5.") else "NvInferVersion.h"
    assert found.version_header.name == expect
    assert found.library.name == "libnvinfer.so"


def test_trt_root_missing_library(tmp_path):
    found = inspect_tensorrt_root(make_trt_root(tmp_path / "trt", "8.6.1.6", missing_lib=True))
    assert found.problems == ["missing lib/libnvinfer.so"]
    assert "lib/libnvinfer.so" in found.fixes[0]


def test_trt_root_with_only_versioned_library_suggests_link(tmp_path):
    found = inspect_tensorrt_root(make_trt_root(tmp_path / "trt", "10.11.0.33",
                                                versioned_lib_only=True))
    assert found.problems == ["missing lib/libnvinfer.so"]
    assert "ln -s libnvinfer.so.10" in found.fixes[0]


def test_trt_root_missing_headers(tmp_path):
    found = inspect_tensorrt_root(make_trt_root(tmp_path / "a", "8.6.1.6", missing_header=True))
    assert "missing include/NvInfer.h" in found.problems
    assert "pip" in found.fixes[0]
    found = inspect_tensorrt_root(make_trt_root(tmp_path / "b", "8.6.1.6",
                                                missing_version_header=True))
    assert any("no TensorRT version" in p for p in found.problems)


def test_trt_root_that_is_not_a_directory(tmp_path):
    assert inspect_tensorrt_root(tmp_path / "nope").problems == [f"{tmp_path / 'nope'} is not a directory"]


def test_good_gpu_host_passes(tmp_path, facts, tools):
    make_trt_root(tmp_path / "trt", "8.6.1.6")
    make_cuda_root(tmp_path / "cuda", "12.0.140", "8.9.1")
    plan = plan_for(tmp_path, "v2.6.2", facts, cuda_root=tmp_path / "cuda", cuda_arch="75,80")
    report = run_preflight(plan, facts, BUILD, env=env_with(tools), cores=8, memory_gb=64)
    st = statuses(report)
    assert report.ok, [c for c in report.failed]
    assert st["tensorrt"] == st["nvcc"] == st["cudnn"] == st["gcc"] == st["shipped"] == OK
    assert st["cuda-arch"] == OK
    assert report.versions["tensorrt"] == "8.6.1.6" and report.versions["cuda"] == "12.0.140"
    assert report.versions["cudnn"] == "8.9.1" and report.versions["gcc"] == "11.2.0"
    assert st["ccache"] == WARN   # no ccache on this PATH


def test_every_failure_is_reported_together(tmp_path, facts, tools):
    make_trt_root(tmp_path / "trt", "8.6.1.6", missing_lib=True)
    (tools / "g++").unlink()
    make_gcc_bin(tools, "4.8.5")
    plan = plan_for(tmp_path, "v3.0.0", facts)        # no CUDA root, no nvcc on PATH
    report = run_preflight(plan, facts, BUILD, env=env_with(tools), cores=2, memory_gb=8)
    failed = {c.name for c in report.failed}
    assert {"tensorrt", "nvcc", "gcc"} <= failed
    assert all(c.fix for c in report.failed)
    assert not report.ok
    gcc = next(c for c in report.failed if c.name == "gcc")
    assert "4.8.5" in gcc.detail and ">= 8.2" in gcc.detail


def test_newer_gcc_than_the_era_knows_is_a_warning(tmp_path, facts, tools):
    (tools / "g++").unlink()
    make_gcc_bin(tools, "13.2.0")
    plan = plan_for(tmp_path, "v1.8.5", facts, gpu=False, trt_root=None)
    report = run_preflight(plan, facts, BUILD, env=env_with(tools), cores=2, memory_gb=8)
    assert statuses(report)["gcc"] == WARN and report.ok


def test_nvcc_found_through_cuda_home(tmp_path, facts, tools):
    make_trt_root(tmp_path / "trt", "8.5.1.7")
    make_cuda_root(tmp_path / "cuda", "11.8.89", "8.6.0")
    plan = plan_for(tmp_path, "v2.6.2", facts)
    report = run_preflight(plan, facts, BUILD, env=env_with(tools, CUDA_HOME=str(tmp_path / "cuda")),
                           cores=2, memory_gb=8)
    assert report.versions["cuda"] == "11.8.89" and report.versions["cudnn"] == "8.6.0"
    assert statuses(report)["shipped"] == OK


def test_unshipped_combination_is_a_warning(tmp_path, facts, tools):
    make_trt_root(tmp_path / "trt", "8.2.4.2")
    make_cuda_root(tmp_path / "cuda", "11.4.48", "8.2.4")
    plan = plan_for(tmp_path, "v2.6.2", facts, cuda_root=tmp_path / "cuda")
    report = run_preflight(plan, facts, BUILD, env=env_with(tools), cores=2, memory_gb=8)
    shipped = next(c for c in report.checks if c.name == "shipped")
    assert shipped.status == WARN and "12.0/cuDNN 8.9.1/TRT 8.6.1.6" in shipped.detail


def test_trt10_on_paddle2_warns_and_volta_fails(tmp_path, facts, tools):
    make_trt_root(tmp_path / "trt", "10.5.0.18")
    make_cuda_root(tmp_path / "cuda", "12.6.85", "9.5.1")
    plan = plan_for(tmp_path, "v2.6.2", facts, cuda_root=tmp_path / "cuda", cuda_arch="70,80")
    report = run_preflight(plan, facts, BUILD, env=env_with(tools), cores=2, memory_gb=8)
    compat = [c for c in report.checks if c.name == "compat"]
    assert any(c.status == WARN and "before 3.0" in c.detail for c in compat)
    assert any(c.status == FAIL and "Volta" in c.detail for c in compat)


def test_trt_10_13_2_with_cuda_11_fails(tmp_path, facts, tools):
    make_trt_root(tmp_path / "trt", "10.13.2.6")
    make_cuda_root(tmp_path / "cuda", "11.8.89", "8.9.7")
    plan = plan_for(tmp_path, "v3.0.0", facts, cuda_root=tmp_path / "cuda", cuda_arch="80")
    report = run_preflight(plan, facts, BUILD, env=env_with(tools), cores=2, memory_gb=8)
    assert any(c.status == FAIL and "CUDA 11" in c.detail for c in report.failed)


def test_sm90_needs_cuda_11_8(tmp_path, facts, tools):
    make_trt_root(tmp_path / "trt", "8.0.3.4")
    make_cuda_root(tmp_path / "cuda", "11.2.152", "8.2.1")
    plan = plan_for(tmp_path, "v2.6.2", facts, cuda_root=tmp_path / "cuda", cuda_arch="80,90")
    report = run_preflight(plan, facts, BUILD, env=env_with(tools), cores=2, memory_gb=8)
    arch = next(c for c in report.checks if c.name == "cuda-arch")
    assert arch.status == FAIL and "sm_90" in arch.detail


def test_enterprise_macro_headers_need_a_tensorrt_cmake_that_reads_them(tmp_path, facts):
    src = tmp_path / "src"
    assert check_enterprise_macros(facts, src, "10.10.0.31") is None
    assert check_enterprise_macros(facts, src, "10.11.0.33").status == WARN   # no checkout yet
    (src / "cmake").mkdir(parents=True)
    (src / "cmake" / "tensorrt.cmake").write_text(
        'string(REGEX MATCH "define NV_TENSORRT_MAJOR +([0-9]+)" ...)\n')
    assert check_enterprise_macros(facts, src, "10.11.0.33").status == FAIL
    (src / "cmake" / "tensorrt.cmake").write_text(
        'string(REGEX MATCH "define TRT_MAJOR_ENTERPRISE +([0-9]+)" ...)\n')
    assert check_enterprise_macros(facts, src, "10.11.0.33").status == OK


def test_missing_cudnn_fails(tmp_path, facts, tools, monkeypatch):
    make_trt_root(tmp_path / "trt", "8.6.1.6")
    make_cuda_root(tmp_path / "cuda", "12.0.140", cudnn=None)
    import toolchain.build_lib.preflight as pf

    monkeypatch.setattr(pf, "SYSTEM_CUDNN_DIRS", [])   # this host's own cuDNN, if any, aside
    plan = plan_for(tmp_path, "v2.6.2", facts, cuda_root=tmp_path / "cuda")
    report = run_preflight(plan, facts, BUILD, env=env_with(tools), cores=2, memory_gb=8)
    cudnn = next(c for c in report.checks if c.name == "cudnn")
    assert cudnn.status == FAIL and "libcudnn" in cudnn.fix
    make_cuda_root(tmp_path / "cuda", "12.0.140", cudnn="8.9.1")
    report = run_preflight(plan, facts, BUILD, env=env_with(tools), cores=2, memory_gb=8)
    assert statuses(report)["cudnn"] == OK and report.versions["cudnn"] == "8.9.1"


def test_disk_jobs_and_install_dir_checks(tmp_path, facts, tools):
    plan = plan_for(tmp_path, "v3.0.0", facts, gpu=False, trt_root=None, jobs=16)
    (tmp_path / "lib" / "out").mkdir(parents=True)
    (tmp_path / "lib" / "out" / "notes.txt").write_text("not a library")
    report = run_preflight(plan, facts, BuildSettings(disk_warn_gb=1e9, disk_fail_gb=1e9,
                                                       memory_gb_per_job=3), env=env_with(tools),
                           cores=16, memory_gb=24)
    st = statuses(report)
    assert st["disk"] == FAIL and st["install-dir"] == FAIL and st["jobs"] == WARN
    jobs = next(c for c in report.checks if c.name == "jobs")
    assert "--jobs 8" in jobs.fix
    report = run_preflight(plan, facts, BuildSettings(disk_warn_gb=1e9, disk_fail_gb=0,
                                                       memory_gb_per_job=3), env=env_with(tools),
                           cores=16, memory_gb=24)
    assert statuses(report)["disk"] == WARN


def test_src_that_is_not_a_checkout_fails(tmp_path, facts, tools):
    (tmp_path / "src").mkdir()
    plan = plan_for(tmp_path, "v3.0.0", facts, gpu=False, trt_root=None, src_given=True)
    report = run_preflight(plan, facts, BUILD, env=env_with(tools), cores=2, memory_gb=8)
    assert statuses(report)["checkout"] == FAIL
