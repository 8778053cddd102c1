"""Pure parsers on real captured outputs (shared/fixtures/h100) and hand-written older formats."""

from __future__ import annotations

import pytest

from support import FIXTURES, H100_FIXTURES
from toolchain.doctor import parsers as p

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


# ---------------------------------------------------------------------------------------------
# Real outputs pasted in public issues, docs and pages (tests/fixtures/probe/public/README.md
# names where each came from). Expected values were read off the text by hand.
PUBLIC = PROBE / "public"


@pytest.mark.parametrize("name, smi, driver, cuda_max", [
    ("smi-390.116-tesla-p4.txt", "390.116", "390.116", None),          # no CUDA field before 410
    ("smi-390.30-gt730-na.txt", "390.30", "390.30", None),
    ("smi-410.79-cuda-na.txt", "410.79", "410.79", None),              # "CUDA Version: N/A"
    ("smi-418.67-colab-driver-differs.txt", "418.67", "410.79", "10.0"),
    ("smi-418.152.00-cuda-na.txt", "418.152.00", "418.152.00", None),
    ("smi-418.39-2x-p4.txt", "418.39", "418.39", "10.1"),
    ("smi-460.15-windows-wddm.txt", "460.15", "460.15", "11.1"),
    ("smi-470.57.01-wsl-err.txt", "470.57.01", "471.41", "11.4"),      # WSL: Windows driver
    ("smi-470.129.06-2x-v100-docker.txt", "470.129.06", "470.129.06", "11.4"),
    ("smi-510.47.03-mig-a100.txt", "510.47.03", "510.47.03", "11.6"),
    ("smi-510.47.03-vgpu-host-cuda-na.txt", "510.47.03", "510.47.03", None),
    ("smi-527.27-windows-cuda-na.txt", "527.27", "527.27", None),
    ("smi-535.86.10-mig-a800.txt", "535.86.10", "535.86.10", "12.2"),
    ("smi-535.103-wsl-537.13.txt", "535.103", "537.13", "12.2"),
    ("smi-545.46-wsl-cuda-err.txt", "545.46", "546.80", None),         # "CUDA Version: ERR!"
    ("smi-550.78.txt", "550.78", "550.78", "12.4"),
    ("smi-570.124.03-windows-572.60.txt", "570.124.03", "572.60", "12.8"),
    ("smi-570.195.03-cuda-13.0.txt", "570.195.03", "570.195.03", "13.0"),
    ("smi-580.119.02-2x-a800.txt", "580.119.02", "580.119.02", "13.0"),
    # 610 series renamed the fields: "KMD Version" / "CUDA UMD Version".
    ("smi-610.57.04-kmd-umd.txt", "610.57.04", "610.57.04", "13.3"),
    ("smi-610.57.04-kmd-umd-lost-gpu.txt", "610.57.04", "610.57.04", "13.3"),
    ("smi-610.43.02-kmd-umd.txt", "610.43.02", "610.43.02", "13.3"),
    ("smi-540.4.0-jetson-orin.txt", "540.4.0", "540.4.0", "12.6"),
    ("smi-q-510.06-wsl.txt", None, "510.06", "11.6"),                  # `nvidia-smi -q` layout
    ("smi-q-290.10-2012.txt", None, "290.10", None),
    ("smi-q-367.106-k80.txt", None, "367.106", None),
    ("smi-q-470.256.02-clock.txt", None, "470.256.02", "11.4"),
    ("smi-q-525.147.01-vgpu-cuda-not-found.txt", None, "525.147.01", None),  # "Not Found"
    ("smi-q-580.126.09-a100.txt", None, "580.126.09", "13.0"),
])
def test_public_nvidia_smi_banners(name, smi, driver, cuda_max):
    banner = p.parse_nvidia_smi_banner(text(PUBLIC / name))
    assert (banner.smi_version, banner.driver_version, banner.cuda_max) == (smi, driver, cuda_max)


@pytest.mark.parametrize("name, expected", [
    ("query-2x-l40-580.csv", [("NVIDIA L40", None, 46068, "580.126.09")] * 2),
    ("query-rtx5070ti-compute-cap.csv",
     [("NVIDIA GeForce RTX 5070 Ti", "12.0", 16303, "580.95.05")]),
    ("query-h100-580.82.csv", [("NVIDIA H100 80GB HBM3", "9.0", 81559, "580.82.07")]),
    ("query-4080s-610.88-compute-cap.csv",
     [("NVIDIA GeForce RTX 4080 SUPER", "8.9", 16376, "610.88")]),
    ("query-3090-nounits.csv", [("GeForce RTX 3090", None, 24576, "535.129.03")]),
    ("query-2x-l40s-index.csv", [("NVIDIA L40S", None, 46068, "575.51.03")] * 2),
])
def test_public_gpu_query_csv(name, expected):
    gpus = p.parse_gpu_query_csv(text(PUBLIC / name))
    got = [(g.name, g.compute_capability, g.memory_mib, g.driver_version) for g in gpus]
    assert got == expected


def test_public_nvml_mismatch_is_no_banner():
    # The library's version is not the loaded driver's: nothing to report as the driver.
    assert p.parse_nvidia_smi_banner(text(PUBLIC / "smi-nvml-mismatch.txt")) is None


def test_public_query_with_an_unreachable_gpu():
    # nvidia-smi prints the device-handle error first, then the header and the other GPUs.
    out = text(PUBLIC / "query-lost-gpu1-index-name.csv")
    gpus = p.parse_gpu_query_csv(out)
    assert [g.name for g in gpus] == ["NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition"] * 3
    assert p.smi_device_errors(out) == [
        "Unable to determine the device handle for GPU1: 0000:34:00.0: Unknown Error"]
    assert p.smi_device_errors(text(H100_FIXTURES / "nvidia-smi-query.csv")) == []


def test_unreachable_gpu_end_to_end(tmp_path, monkeypatch):
    """Collector + verdict on the real lost-GPU outputs, through a stand-in nvidia-smi that
    exits 15 (GPU lost) for the query: the reachable GPUs are listed, the lost one fails."""
    import os

    from support.probe import install_standin_nvidia_smi
    from toolchain.doctor import collect_report
    from toolchain.settings import LabSettings

    for name in ("CUDA_HOME", "TENSORRT_ROOT", "CUDNN_ROOT"):
        monkeypatch.delenv(name, raising=False)
    bin_dir = tmp_path / "bin"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    install_standin_nvidia_smi(bin_dir, PUBLIC / "smi-610.57.04-kmd-umd-lost-gpu.txt",
                               PUBLIC / "query-lost-gpu1-index-name.csv", query_rc=15)
    settings = LabSettings.from_mapping({"work_dir": str(tmp_path / "work"),
                                         "lib_dir": str(tmp_path / "lib"), "probe_timeout": 10},
                                        base=tmp_path)
    report = collect_report(settings)
    assert (report.driver_version, report.driver_cuda_max) == ("610.57.04", "13.3")
    assert len(report.gpus) == 3
    lost = report.finding("driver", "unreachable gpu")
    assert lost.status == "error" and "0000:34:00.0" in lost.raw
    (v,) = [v for v in report.verdicts if v.check == "unreachable gpu"]
    assert v.level == "fail" and "0000:34:00.0" in v.message and "dmesg" in v.fix


def test_public_compute_cap_rejection():
    rejected = text(PUBLIC / "query-compute-cap-rejected.txt")
    assert p.smi_rejected_field(rejected) == "compute_cap"
    assert p.parse_gpu_query_csv(rejected) == []


@pytest.mark.parametrize("name, expected", [
    ("proc-177.80-2008.txt", "177.80"),
    ("proc-418.56.txt", "418.56"),
    ("proc-440.95.01.txt", "440.95.01"),
    ("proc-open-525.60.11-arch.txt", "525.60.11"),
    ("proc-open-555.58-gentoo.txt", "555.58"),
    ("proc-open-565.57.01-ubuntu.txt", "565.57.01"),
    ("proc-open-jetson-35.3.1.txt", "35.3.1"),          # Jetson (L4T) numbering: 2-digit major
])
def test_public_proc_driver_version(name, expected):
    assert p.parse_proc_driver_version(text(PUBLIC / name)) == expected


@pytest.mark.parametrize("name, expected", [
    # CUDA 2.x-5.0 print a V number unrelated to the release: keep the release.
    ("nvcc-4.2-v0.2.1221.txt", "4.2"),
    ("nvcc-5.0-v0.2.1221.txt", "5.0"),
    ("nvcc-7.5.txt", "7.5.17"),
    ("nvcc-8.0.txt", "8.0.61"),
    ("nvcc-9.2-windows.txt", "9.2.88"),
    ("nvcc-10.0.txt", "10.0.130"),
    ("nvcc-10.1.txt", "10.1.243"),
    ("nvcc-11.0.txt", "11.0.194"),
    ("nvcc-11.1.txt", "11.1.105"),
    ("nvcc-12.4.txt", "12.4.131"),
])
def test_public_nvcc(name, expected):
    assert p.parse_nvcc_version(text(PUBLIC / name)) == expected


@pytest.mark.parametrize("name, expected", [
    ("cudnn-7.1.1-cudnn.h-grep-E.txt", "7.1.1"),
    ("cudnn-7.5.0-cudnn.h-terminal-paste.txt", "7.5.0"),
    ("cudnn-8.0.5-grep-indented.txt", "8.0.5"),
    ("cudnn-8.9.3-grep.txt", "8.9.3"),
    ("cudnn-9.5.0-grep.txt", "9.5.0"),
    ("cudnn-9.12.0-grep.txt", "9.12.0"),
])
def test_public_cudnn_headers(name, expected):
    assert p.parse_cudnn_version_header(text(PUBLIC / name)) == expected


@pytest.mark.parametrize("name, expected", [
    ("trt-5.1.5.0-NvInfer.h", "5.1.5.0"),               # TRT <= 5: macros in NvInfer.h
    ("trt-7.1.3.0-project-header.h", "7.1.3.0"),
    ("trt-8.2.3.0-NvInferVersion.h", "8.2.3.0"),
    ("trt-8.6.1.5-NvInferVersion.h", "8.6.1.5"),
    ("trt-8.6.1-grep-head3.txt", "8.6.1"),               # `grep | head -n 3`: no BUILD line
    ("trt-10.7.0.23-NvInferVersion.h", "10.7.0.23"),
])
def test_public_trt_headers(name, expected):
    assert p.parse_trt_version_header(text(PUBLIC / name)) == expected


@pytest.mark.parametrize("name, expected", [
    ("gxx-4.8.5-redhat.txt", "4.8.5"),
    ("gxx-8.3.1-devtoolset-8.txt", "8.3.1"),
    ("gxx-conda-11.4.0.txt", "11.4.0"),
    ("gxx-11.4.0-ubuntu-22.04.txt", "11.4.0"),
    # macOS: `gcc --version` is clang and starts with a "Configured with: ...c++/4.2.1" line.
    ("gcc-apple-llvm-9.1.0.txt", "9.1.0"),
    ("gcc-apple-llvm-10.0.0.txt", "10.0.0"),
    ("gcc-apple-clang-12.0.0.txt", "12.0.0"),
])
def test_public_gcc(name, expected):
    assert p.parse_gcc_version(text(PUBLIC / name)) == expected


@pytest.mark.parametrize("name, expected", [
    ("cmake-3.22.1.txt", "3.22.1"),
    ("cmake-3.23-dev-build.txt", "3.23.20220428"),
    ("cmake-3.28.3.txt", "3.28.3"),
    ("ninja-1.11.1-kitware.txt", "1.11.1"),
    ("git-2.50.1-apple.txt", "2.50.1"),
])
def test_public_cmake_ninja_git(name, expected):
    assert p.parse_first_version(text(PUBLIC / name)) == expected


@pytest.mark.parametrize("name, expected", [
    ("cuda-9.0.176-version.txt", "9.0.176"),
    ("cuda-10.0.130-version-with-patch.txt", "10.0.130"),   # "CUDA Patch Version" line below
    ("cuda-11.0.207-version.txt", "11.0.207"),
])
def test_public_cuda_version_txt(name, expected):
    assert p.parse_cuda_version_txt(text(PUBLIC / name)) == expected


def test_public_cuda_version_json():
    assert p.parse_cuda_version_json(text(PUBLIC / "cuda-11.5.2-version.json")) == "11.5.117"


def test_every_public_fixture_is_documented():
    readme = text(PUBLIC / "README.md")
    undocumented = [f.name for f in PUBLIC.iterdir() if f.name != "README.md"
                    and f"| {f.name}" not in readme and f", {f.name}" not in readme]
    assert undocumented == []
