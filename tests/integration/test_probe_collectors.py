"""Collectors end to end: fake install roots (real files in tmp dirs) and a stand-in
nvidia-smi on PATH that prints real captured outputs (no GPU on the test machine)."""

from __future__ import annotations

import dataclasses
import json
import os
import sys

import pytest

from support import H100_FIXTURES
from support.probe import PROBE_FIXTURES, h100_smi, install_standin_nvidia_smi, make_cuda_root, make_library, make_trt_root, p4_470_smi, write
from toolchain.doctor import collect_report, host_summary
from toolchain.doctor.parsers import parse_ldconfig
from toolchain.doctor.sources import run_tool
from toolchain.settings import LabSettings


@pytest.fixture
def probe_env(tmp_path, monkeypatch):
    """A settings object on tmp dirs, a tmp bin dir first on PATH, no CUDA_HOME/TENSORRT_ROOT."""
    for name in ("CUDA_HOME", "TENSORRT_ROOT", "CUDNN_ROOT"):
        monkeypatch.delenv(name, raising=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    settings = LabSettings.from_mapping({"work_dir": str(tmp_path / "work"),
                                         "lib_dir": str(tmp_path / "lib"), "probe_timeout": 10},
                                        base=tmp_path)
    return settings, bin_dir, tmp_path


def verdict(report, prefix):
    found = [v for v in report.verdicts if v.check.startswith(prefix)]
    assert found, f"no verdict {prefix!r} in {[v.check for v in report.verdicts]}"
    return found[0]


def test_h100_gpu_path_end_to_end(probe_env):
    settings, bin_dir, tmp = probe_env
    h100_smi(bin_dir)
    cuda = make_cuda_root(tmp / "cuda-12.4", "cuda-12.4-version.json",
                          cudnn_header=str(H100_FIXTURES / "cudnn_version_macros.txt"), cudnn_so=9)
    trt = make_trt_root(tmp / "TensorRT-10.11", "trt-10.11-NvInferVersion.h", sonames=(10,))
    report = collect_report(settings, cuda_root=cuda, trt_root=trt)

    assert report.driver_version == "580.159.04"
    assert report.driver_cuda_max == "13.0"
    assert report.gpus == [{"index": 0, "name": "NVIDIA H100 80GB HBM3",
                            "compute_capability": "9.0", "memory_mib": 81559,
                            "bus_id": "00000000:00:06.0", "capability_source": "nvidia-smi"}]
    assert report.cuda_version == "12.4.127"
    assert report.cudnn_version == "9.14.0"
    assert report.tensorrt_version == "10.11.0.33"
    assert report.libnvinfer_unversioned == [str(trt / "lib" / "libnvinfer.so")]
    assert verdict(report, "gpu 0").level == "ok"
    assert verdict(report, "libnvinfer.so").level == "ok"
    assert verdict(report, "driver vs CUDA").level == "ok"
    # Every finding names where it came from.
    smi = report.finding("driver", "nvidia-smi")
    assert smi.source == "nvidia-smi" and smi.status == "found"
    toolkit = report.finding("cuda", f"toolkit {cuda}")
    assert toolkit.source == str(cuda / "version.json") and toolkit.details["explicit"]
    header = report.finding("tensorrt", f"headers {trt / 'include'}")
    assert header.source == str(trt / "include" / "NvInferVersion.h")
    data = json.loads(report.to_json())
    assert data["gpus"][0]["compute_capability"] == "9.0"
    assert data["summary"]["fail"] == sum(v.level == "fail" for v in report.verdicts)


def test_470_driver_rejects_compute_cap_falls_back_to_name_table(probe_env):
    settings, bin_dir, tmp = probe_env
    p4_470_smi(bin_dir)
    trt = make_trt_root(tmp / "TensorRT-10.5", "trt-10.5-NvInferVersion.h", sonames=(10,),
                        unversioned=False)
    cuda = make_cuda_root(tmp / "cuda-12.4", "cuda-12.4-version.json")
    report = collect_report(settings, cuda_root=cuda, trt_root=trt)

    rejected = report.finding("driver", "compute_cap query")
    assert rejected.status == "rejected" and "compute_cap" in rejected.raw
    assert report.gpus[0]["name"] == "Tesla P4"
    assert report.gpus[0]["compute_capability"] == "6.1"
    assert report.gpus[0]["capability_source"] == "name table"
    assert report.driver_cuda_max == "11.4"
    gpu = verdict(report, "gpu 0")
    assert gpu.level == "fail" and "7.5" in gpu.message and "10.5" in gpu.message
    assert verdict(report, "driver vs CUDA 12.4").level == "fail"
    nvinfer = verdict(report, "libnvinfer.so")
    assert nvinfer.level == "fail" and "ln -s libnvinfer.so.10" in nvinfer.fix
    assert report.failed


def test_minor_version_compatibility_is_a_warning(probe_env):
    settings, bin_dir, tmp = probe_env
    p4_470_smi(bin_dir)       # 470.182.03, CUDA <= 11.4
    cuda = make_cuda_root(tmp / "cuda-11.8", "cuda-11.8-version.json")
    trt = make_trt_root(tmp / "TensorRT-8.6", "trt-8.6-NvInferVersion.h", sonames=(8,))
    report = collect_report(settings, cuda_root=cuda, trt_root=trt)
    assert report.cuda_version == "11.8.89"
    mvc = verdict(report, "driver vs CUDA 11.8")
    assert mvc.level == "warn" and "minor-version" in mvc.message
    assert verdict(report, "gpu 0").level == "ok"     # P4 sm_61 + TRT 8.6: INT8 works


@pytest.mark.parametrize("version_file, cudnn, cudnn_name, expected_cuda, expected_cudnn", [
    ("cuda-10.2-version.txt", "cudnn-7-cudnn.h", "cudnn.h", "10.2.89", "7.6.5"),
    ("cuda-11.8-version.json", "cudnn-8-cudnn_version.h", "cudnn_version.h", "11.8.89", "8.9.7"),
    ("cuda-12.4-version.json", str(H100_FIXTURES / "cudnn_version_macros.txt"),
     "x86_64-linux-gnu/cudnn_version_v9.h", "12.4.127", "9.14.0"),
])
def test_older_toolkits_and_cudnn_layouts(probe_env, version_file, cudnn, cudnn_name,
                                          expected_cuda, expected_cudnn):
    settings, _, tmp = probe_env
    src = cudnn if cudnn.startswith("/") else str(PROBE_FIXTURES / cudnn)
    cuda = make_cuda_root(tmp / "cuda", version_file, cudnn_header=src,
                          cudnn_header_name=cudnn_name)
    report = collect_report(settings, cuda_root=cuda)
    assert report.cuda_version == expected_cuda
    assert report.cudnn_version == expected_cudnn
    assert report.cudnn_installs[0]["header"].endswith(cudnn_name.split("/")[-1])


@pytest.mark.parametrize("header, expected", [
    ("trt-5-NvInfer.h", "5.1.5.0"), ("trt-6-NvInferVersion.h", "6.0.1.5"),
    ("trt-8.6-NvInferVersion.h", "8.6.1.6"), ("trt-10.11-NvInferVersion.h", "10.11.0.33"),
])
def test_tensorrt_roots_every_header_style(probe_env, header, expected):
    settings, _, tmp = probe_env
    trt = make_trt_root(tmp / "trt", header, sonames=(int(expected.split(".")[0]),))
    report = collect_report(settings, trt_root=trt)
    assert report.tensorrt_version == expected
    assert report.finding("tensorrt", f"libnvinfer.so.{expected.split('.')[0]}").status == "found"


def test_roots_from_environment_and_settings(probe_env, monkeypatch):
    settings, _, tmp = probe_env
    env_cuda = make_cuda_root(tmp / "env-cuda", "cuda-11.8-version.json")
    set_cuda = make_cuda_root(tmp / "set-cuda", "cuda-10.2-version.txt")
    env_trt = make_trt_root(tmp / "env-trt", "trt-8.6-NvInferVersion.h", sonames=(8,))
    monkeypatch.setenv("CUDA_HOME", str(env_cuda))
    monkeypatch.setenv("TENSORRT_ROOT", str(env_trt))
    settings = dataclasses.replace(settings, cuda_root=str(set_cuda))
    report = collect_report(settings)
    roots = [k["root"] for k in report.cuda_toolkits]
    assert roots[:2] == [str(env_cuda), str(set_cuda)]
    assert report.cuda_version == "11.8.89"
    assert report.tensorrt_version == "8.6.1.6"


def test_pip_tensorrt_without_headers(probe_env, monkeypatch):
    """pip tensorrt_libs: libraries only (stand-in files), no headers, no unversioned link."""
    settings, _, tmp = probe_env
    site = tmp / "site"
    write(site / "tensorrt_libs" / "__init__.py", "")
    write(site / "tensorrt_libs" / "libnvinfer.so.10", "stand-in")
    write(site / "tensorrt_cu12_libs-10.5.0.dist-info" / "METADATA",
          "Metadata-Version: 2.1\nName: tensorrt_cu12_libs\nVersion: 10.5.0\n")
    monkeypatch.syspath_prepend(str(site))
    report = collect_report(settings)
    pip = report.finding("tensorrt", "pip tensorrt")
    assert pip.status == "found" and pip.value == "10.5.0"
    assert pip.details["headers"] is False
    assert verdict(report, "libnvinfer.so").level == "fail"


def test_missing_tools_are_not_found(probe_env, monkeypatch):
    settings, bin_dir, _ = probe_env
    monkeypatch.setenv("PATH", str(bin_dir))          # nothing but an empty dir
    report = collect_report(settings)
    for name in ("gcc", "g++", "cmake", "make", "ninja", "git"):
        assert report.finding("toolchain", name).status == "not found"
    assert report.finding("driver", "nvidia-smi").status == "not found"
    assert report.gcc_version is None and report.cxx11_abi is None
    assert verdict(report, "c++ compiler").level == "fail"
    assert verdict(report, "cmake").level == "fail"
    assert verdict(report, "nvidia driver").level == "warn"


def test_unparsable_outputs_keep_raw_text(probe_env):
    settings, bin_dir, tmp = probe_env
    garbage = write(tmp / "garbage.txt", "Segmentation fault (core dumped)\n")
    install_standin_nvidia_smi(bin_dir, banner=garbage, query=garbage)
    cuda = tmp / "cuda-broken"
    write(cuda / "version.json", "{not json")
    report = collect_report(settings, cuda_root=cuda)
    smi = report.finding("driver", "nvidia-smi")
    assert smi.status == "unparsed" and "Segmentation fault" in smi.raw
    kit = report.finding("cuda", f"toolkit {cuda}")
    assert kit.status == "unparsed" and kit.raw == "{not json"
    assert any(v.check == "parse nvidia-smi" and v.level == "warn" for v in report.verdicts)


def test_failing_nvidia_smi_is_a_fail(probe_env):
    settings, bin_dir, tmp = probe_env
    msg = write(tmp / "smi-fail.txt", "NVIDIA-SMI has failed because it couldn't communicate "
                                      "with the NVIDIA driver.\n")
    install_standin_nvidia_smi(bin_dir, banner=msg, query=msg, banner_rc=9, query_rc=9)
    report = collect_report(settings)
    v = verdict(report, "nvidia driver")
    assert v.level == "fail" and "couldn't communicate" in v.message


def test_commands_time_out(probe_env):
    settings, bin_dir, _ = probe_env
    h100_smi(bin_dir)
    install_standin_nvidia_smi(bin_dir, H100_FIXTURES / "nvidia-smi.txt",
                               H100_FIXTURES / "nvidia-smi-query.csv", sleep=5)
    settings = dataclasses.replace(settings, probe_timeout=0.5)
    report = collect_report(settings)
    assert report.finding("driver", "nvidia-smi").status == "timeout"
    assert report.probe_seconds < 4


def test_library_checked_against_installed(probe_env):
    settings, bin_dir, tmp = probe_env
    h100_smi(bin_dir)
    cuda = make_cuda_root(tmp / "cuda-12.4", "cuda-12.4-version.json",
                          cudnn_header=str(H100_FIXTURES / "cudnn_version_macros.txt"), cudnn_so=9)
    trt = make_trt_root(tmp / "trt10", "trt-10.11-NvInferVersion.h", sonames=(10,))
    lib3 = make_library(tmp / "lib3", "version-3.0-gpu-trt10.txt")
    report = collect_report(settings, lib=lib3, cuda_root=cuda, trt_root=trt)
    assert report.library["family"] == "paddle_inference"
    assert report.library["version"]["tensorrt_version"] == "10.5.0.18"
    assert verdict(report, "library cuDNN").level == "ok"
    assert verdict(report, "library TensorRT").level == "ok"
    assert verdict(report, "library CUDA").level == "ok"

    lib2 = make_library(tmp / "lib2", "version-2.5-gpu-trt8.txt")
    report = collect_report(settings, lib=lib2, cuda_root=cuda, trt_root=trt)
    for check in ("library cuDNN", "library TensorRT"):
        v = verdict(report, check)
        assert v.level == "fail", v
    assert "8" in verdict(report, "library TensorRT").message


def test_fluid_library_and_current_library(probe_env):
    settings, _, tmp = probe_env
    lib1 = make_library(tmp / "fluid", "version-1.8-fluid-trt6.txt", family="fluid_inference")
    from toolchain.state import set_current_library
    set_current_library(settings.lib_dir, lib1, "1.8-gpu", "manual")
    report = collect_report(settings)              # no --lib: the current library
    assert report.library["family"] == "fluid_inference"
    assert report.library["source"].startswith("current library")
    assert report.finding("library", "version.txt").value.startswith("Paddle ?, CUDA 10.1")
    # GPU build on a machine without GPU.
    assert verdict(report, "library device").level == "warn"


def test_broken_library_layout_fails(probe_env):
    settings, _, tmp = probe_env
    (tmp / "empty").mkdir()
    report = collect_report(settings, lib=tmp / "empty")
    assert verdict(report, "library layout").level == "fail"


def test_missing_explicit_roots_fail(probe_env):
    settings, _, tmp = probe_env
    report = collect_report(settings, cuda_root=tmp / "nope", trt_root=tmp / "nada")
    assert verdict(report, "cuda root").level == "fail"
    assert verdict(report, "tensorrt root").level == "fail"


def test_real_toolchain_here():
    """gcc/g++/cmake/git exist on the test machines; their versions and the ABI parse."""
    report = collect_report(LabSettings.from_mapping({}))
    for name in ("g++", "cmake", "git"):
        f = report.finding("toolchain", name)
        assert f.status == "found", f
    assert report.cxx11_abi in (0, 1)
    assert report.finding("toolchain", "python").value == ".".join(map(str, sys.version_info[:3]))


def test_run_tool_and_ldconfig_parser(tmp_path):
    assert run_tool(["definitely-not-a-tool-xyz"], 1).status == "not found"
    out = run_tool([sys.executable, "-c", "import sys; print('hi'); sys.exit(3)"], 5)
    assert (out.status, out.returncode, out.text.strip()) == ("ran", 3, "hi")
    libs = parse_ldconfig("123 libs found in cache `/etc/ld.so.cache'\n"
                          "\tlibnvinfer.so.10 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvinfer.so.10\n"
                          "\tlibnvinfer.so (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvinfer.so\n")
    assert libs["libnvinfer.so.10"] == ["/usr/lib/x86_64-linux-gnu/libnvinfer.so.10"]
    assert "libnvinfer.so" in libs


def test_host_summary_is_cheap_and_complete():
    summary = host_summary()
    assert set(summary) >= {"hostname", "os", "cpu_model", "cores", "memory_mib", "python"}
    assert summary["cores"] >= 1
    json.dumps(summary)


def test_gpu_paddle_wheel_read_without_import(probe_env, monkeypatch):
    """A GPU wheel's paddle/version/__init__.py (stand-in package) against the driver."""
    settings, bin_dir, tmp = probe_env
    site = tmp / "site"
    write(site / "paddle" / "__init__.py", "raise ImportError('doctor must not import paddle')\n")
    write(site / "paddle" / "version" / "__init__.py",
          "full_version     = '3.0.0'\ncommit           = 'abc123'\ncuda_version     = '12.6'\n"
          "cudnn_version    = '9.5.1'\ntensorrt_version = '10.5.0.18'\nwith_mkl = 'ON'\n")
    write(site / "paddle" / "libs" / "libdnnl.so.3", "stand-in")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "paddle", raising=False)

    h100_smi(bin_dir)
    report = collect_report(settings)
    assert report.paddle_wheel["cuda"] == "12.6"
    assert report.paddle_wheel["tensorrt"] == "10.5.0.18"
    assert report.paddle_wheel["onednn"] == "libdnnl.so.3"
    assert verdict(report, "driver vs paddle wheel").level == "ok"

    p4_470_smi(bin_dir)     # driver 470: CUDA <= 11.4; P4 sm_61 with the wheel's TRT 10.5
    report = collect_report(settings)
    assert verdict(report, "driver vs paddle wheel").level == "fail"
    gpu = verdict(report, "gpu 0")
    assert gpu.level == "fail" and "of the paddle wheel" in gpu.message
