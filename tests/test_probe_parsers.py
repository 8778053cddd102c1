"""Pure parsers on real captured outputs (shared/fixtures/h100) and hand-written older formats."""

from __future__ import annotations

import pytest

from conftest import FIXTURES, H100_FIXTURES
from toolchain.probe import parsers as p

PROBE = FIXTURES / "probe"


def text(path) -> str:
    return path.read_text()


@pytest.mark.parametrize("name, expected", [
    ("trt-5-NvInfer.h", "5.1.5.0"),
    ("trt-6-NvInferVersion.h", "6.0.1.5"),
    ("trt-8.6-NvInferVersion.h", "8.6.1.6"),
    ("trt-10.5-NvInferVersion.h", "10.5.0.18"),
    ("trt-10.11-NvInferVersion.h", "10.11.0.33"),
])
def test_trt_header_both_macro_styles(name, expected):
    assert p.parse_trt_version_header(text(PROBE / name)) == expected


def test_trt_header_enterprise_only_and_garbage():
    assert p.parse_trt_version_header(
        "#define TRT_MAJOR_ENTERPRISE 11\n#define TRT_MINOR_ENTERPRISE 0\n"
        "#define TRT_PATCH_ENTERPRISE 2\n") == "11.0.2"
    # An alias to an undefined name must not be taken for a number.
    assert p.parse_trt_version_header("#define NV_TENSORRT_MAJOR SOMETHING\n") is None
    assert p.parse_trt_version_header("not a header") is None


@pytest.mark.parametrize("path, expected", [
    (H100_FIXTURES / "cudnn_version_macros.txt", "9.14.0"),
    (PROBE / "cudnn-7-cudnn.h", "7.6.5"),
    (PROBE / "cudnn-8-cudnn_version.h", "8.9.7"),
])
def test_cudnn_header(path, expected):
    assert p.parse_cudnn_version_header(text(path)) == expected


def test_cudnn_header_incomplete():
    assert p.parse_cudnn_version_header("#define CUDNN_MAJOR 9\n") is None


def test_nvcc_real_h100():
    assert p.parse_nvcc_version(text(H100_FIXTURES / "nvcc-version.txt")) == "13.0.88"
    assert p.parse_nvcc_version("Cuda compilation tools, release 10.2") == "10.2"
    assert p.parse_nvcc_version("bash: nvcc: command not found") is None


def test_cuda_version_files():
    assert p.parse_cuda_version_txt(text(PROBE / "cuda-10.2-version.txt")) == "10.2.89"
    # Date-stamped "cuda" entry: the runtime's version wins.
    assert p.parse_cuda_version_json(text(PROBE / "cuda-11.8-version.json")) == "11.8.89"
    assert p.parse_cuda_version_json(text(PROBE / "cuda-12.4-version.json")) == "12.4.127"
    # Only the date-stamped entry: keep major.minor, never "11.8.20220929".
    assert p.parse_cuda_version_json(
        '{"cuda": {"name": "CUDA SDK", "version": "11.8.20220929"}}') == "11.8"
    assert p.parse_cuda_version_json("{broken") is None
    assert p.parse_cuda_version_json("[1, 2]") is None


def test_nvidia_smi_banner_real_and_470():
    banner = p.parse_nvidia_smi_banner(text(H100_FIXTURES / "nvidia-smi.txt"))
    assert (banner.smi_version, banner.driver_version, banner.cuda_max) == (
        "580.159.04", "580.159.04", "13.0")
    old = p.parse_nvidia_smi_banner(text(PROBE / "nvidia-smi-470.txt"))
    assert (old.driver_version, old.cuda_max) == ("470.182.03", "11.4")
    # `nvidia-smi -q` carries the same facts in another layout.
    q = p.parse_nvidia_smi_banner(text(H100_FIXTURES / "nvidia-smi-q.txt"))
    assert (q.driver_version, q.cuda_max) == ("580.159.04", "13.0")
    assert p.parse_nvidia_smi_banner("NVIDIA-SMI has failed because it couldn't communicate") is None


def test_proc_driver_version():
    assert p.parse_proc_driver_version(text(H100_FIXTURES / "proc-driver-version.txt")) == "580.159.04"
    assert p.parse_proc_driver_version(text(PROBE / "proc-driver-version-470.txt")) == "470.182.03"
    assert p.parse_proc_driver_version("") is None


def test_gpu_query_csv_real_h100():
    (gpu,) = p.parse_gpu_query_csv(text(H100_FIXTURES / "nvidia-smi-query.csv"))
    assert gpu.name == "NVIDIA H100 80GB HBM3"
    assert gpu.compute_capability == "9.0"
    assert gpu.memory_mib == 81559
    assert gpu.driver_version == "580.159.04"
    assert gpu.bus_id == "00000000:00:06.0"


def test_gpu_query_470_rejects_compute_cap():
    rejected = text(PROBE / "nvidia-smi-470-compute-cap-rejected.txt")
    assert p.smi_rejected_field(rejected) == "compute_cap"
    assert p.parse_gpu_query_csv(rejected) == []
    (gpu,) = p.parse_gpu_query_csv(text(PROBE / "nvidia-smi-470-query.csv"))
    assert (gpu.name, gpu.compute_capability, gpu.memory_mib) == ("Tesla P4", None, 7611)
    assert p.smi_rejected_field(text(H100_FIXTURES / "nvidia-smi-query.csv")) is None


def test_gcc_and_tool_versions():
    assert p.parse_gcc_version("g++ (Debian 12.2.0-14) 12.2.0\nCopyright (C) 2022") == "12.2.0"
    assert p.parse_gcc_version("g++ (Ubuntu 9.4.0-1ubuntu1~20.04.1) 9.4.0\n") == "9.4.0"
    assert p.parse_gcc_version("g++ (GCC) 15.3.0\n") == "15.3.0"
    assert p.parse_first_version("cmake version 3.25.1\n\nCMake suite maintained") == "3.25.1"
    assert p.parse_first_version("GNU Make 4.3\nBuilt for x86_64") == "4.3"
    assert p.parse_first_version("1.11.1\n") == "1.11.1"
    assert p.parse_first_version("git version 2.39.5") == "2.39.5"
    assert p.parse_first_version("") is None


def test_cxx11_abi():
    assert p.parse_cxx11_abi("#define __GNUC__ 12\n#define _GLIBCXX_USE_CXX11_ABI 1\n") == 1
    assert p.parse_cxx11_abi("#define _GLIBCXX_USE_CXX11_ABI 0\n") == 0
    assert p.parse_cxx11_abi("#define __clang__ 1\n") is None


def test_os_release_cpuinfo_meminfo():
    osr = p.parse_os_release('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
                             'VERSION_ID="12"\n# comment\n')
    assert osr == {"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "ID": "debian",
                   "VERSION_ID": "12"}
    cpu = p.parse_cpuinfo(
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\nphysical id\t: 0\n"
        "core id\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni amx_int8\n\n"
        "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\nphysical id\t: 0\n"
        "core id\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni amx_int8\n\n"
        "processor\t: 2\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\nphysical id\t: 0\n"
        "core id\t: 1\nflags\t\t: fpu avx2\n")
    assert cpu.model == "Intel(R) Xeon(R) Platinum 8480+"
    assert {"avx2", "avx512f", "avx512_vnni", "amx_int8"} <= cpu.flags
    assert (cpu.logical_cpus, cpu.physical_cores) == (3, 2)
    assert p.parse_meminfo_total_mib("MemTotal:       24576000 kB\nMemFree: 1 kB\n") == 24000


def test_paddle_version_module_real_wheel_file():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("paddle")
    version_py = Path(spec.origin).parent / "version" / "__init__.py"
    info = p.parse_paddle_version_module(version_py.read_text())
    import importlib.metadata
    assert info["version"] == importlib.metadata.version("paddlepaddle")
    assert info["cuda"] is None and info["tensorrt"] is None   # the CPU wheel
    assert len(info["commit"]) == 40
    gpu = p.parse_paddle_version_module(
        "full_version     = '3.0.0'\ncommit = 'abc'\ncuda_version = '12.6'\n"
        "cudnn_version = '9.5.1'\ntensorrt_version = '10.5.0.18'\nwith_mkl = 'ON'\n")
    assert (gpu["cuda"], gpu["cudnn"], gpu["tensorrt"], gpu["with_mkl"]) == (
        "12.6", "9.5.1", "10.5.0.18", True)
    assert p.parse_paddle_version_module("print('hi')") is None


def test_soname_major():
    assert p.soname_major("libnvinfer.so.10", "libnvinfer") == 10
    assert p.soname_major("libnvinfer.so.8.6.1", "libnvinfer") == 8
    assert p.soname_major("libnvinfer.so", "libnvinfer") is None
    assert p.soname_major("libnvinfer_plugin.so.10", "libnvinfer") is None
