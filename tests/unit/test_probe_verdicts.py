"""Verdicts as pure functions of a ProbeReport and the rules in recipes/gpu_requirements.toml."""

from __future__ import annotations

import pytest

from toolchain.doctor.nvidia import capability_from_name
from toolchain.doctor.report import Finding, ProbeReport
from toolchain.doctor.verdicts import (SUPPORT_PATH, driver_fits_cuda, judge, load_rules,
                                      trt_min_cc)

RULES = load_rules()


@pytest.mark.parametrize("trt, expected", [
    ("5.1.5.0", "3.0"), ("8.5.1.7", "3.0"), ("8.6.1.6", "5.0"), ("9.0", "6.0"),
    ("10.0.1", "7.0"), ("10.4.0", "7.0"), ("10.5.0.18", "7.5"), ("10.11.0.33", "7.5"),
])
def test_trt_min_cc(trt, expected):
    assert trt_min_cc(trt, RULES)[0] == expected


@pytest.mark.parametrize("cuda_max, driver, toolkit, level", [
    ("13.0", "580.159.04", "12.6", "ok"),
    ("12.8", "570.133.07", "12.8.93", "ok"),
    ("11.4", "470.182.03", "11.8.89", "warn"),    # minor-version compatibility
    ("11.4", "470.182.03", "12.4", "fail"),       # other major
    ("10.2", "440.33.01", "11.0", "fail"),
    ("10.1", "418.87", "10.2.89", "fail"),        # no MVC before CUDA 11
    ("12.2", "535.104.05", "12.6", "warn"),
    ("12.0", "520.0", "12.6", "fail"),            # below the 12.x floor (525)
])
def test_driver_fits_cuda(cuda_max, driver, toolkit, level):
    assert driver_fits_cuda(cuda_max, driver, toolkit, RULES)[0] == level


@pytest.mark.parametrize("name, cc", [
    ("Tesla P4", "6.1"), ("Tesla P40", "6.1"), ("Tesla P100-PCIE-16GB", "6.0"),
    ("Tesla V100-SXM2-32GB", "7.0"), ("Tesla T4", "7.5"), ("NVIDIA A10", "8.6"),
    ("NVIDIA A10G", "8.6"), ("NVIDIA A100-SXM4-80GB", "8.0"), ("NVIDIA L4", "8.9"),
    ("NVIDIA L40S", "8.9"), ("NVIDIA H100 80GB HBM3", "9.0"), ("NVIDIA GeForce GTX 1080 Ti", "6.1"),
    ("Some Future GPU", None),
])
def test_capability_from_name(name, cc):
    assert capability_from_name(name, RULES["gpu_compute_capability"]) == cc


def gpu_report(cc, trt=None, lib_trt=None, source="nvidia-smi"):
    report = ProbeReport(driver_version="580.159.04", driver_cuda_max="13.0",
                         tensorrt_version=trt)
    report.findings.append(Finding("driver", "nvidia-smi", "found", "driver 580"))
    report.gpus = [{"index": 0, "name": "GPU", "compute_capability": cc, "memory_mib": 1,
                    "bus_id": None, "capability_source": source}]
    if trt:
        report.tensorrt_installs.append({"version": trt, "kind": "headers", "root": "/x",
                                         "header": "/x/NvInferVersion.h"})
    if lib_trt:
        report.library = {"path": "/lib", "problems": [], "version": {"tensorrt_version": lib_trt}}
    return report


def gpu_level(report):
    return [v for v in judge(report, RULES) if v.check.startswith("gpu 0")][0]


@pytest.mark.parametrize("cc, trt, level", [
    ("6.0", "8.6.1.6", "fail"),     # P100: no DP4A, no INT8
    ("6.1", "8.6.1.6", "ok"),       # P4 with TRT 8.6
    ("6.1", "10.0.1", "fail"),      # TRT 10 needs >= 7.0
    ("7.0", "10.4.0", "ok"),
    ("7.0", "10.5.0.18", "fail"),   # Volta removed in 10.5
    ("7.5", "10.11.0.33", "ok"),
    ("9.0", None, "ok"),
])
def test_int8_compute_capability(cc, trt, level):
    assert gpu_level(gpu_report(cc, trt)).level == level


def test_library_trt_takes_precedence_over_installed():
    v = gpu_level(gpu_report("6.1", trt="8.6.1.6", lib_trt="10.5.0.18"))
    assert v.level == "fail" and "version.txt" in v.message


def test_unknown_capability_warns():
    assert gpu_level(gpu_report(None)).level == "warn"


def test_cpu_int8_isa():
    def level(flags):
        r = ProbeReport(cpu_flags=set(flags))
        return [v for v in judge(r, RULES) if v.check == "cpu int8"][0].level

    assert level({"avx2", "avx512f", "avx512_vnni"}) == "ok"
    assert level({"avx2", "amx_int8"}) == "ok"
    assert level({"avx2", "avx512f"}) == "warn"
    assert level({"sse4_2"}) == "warn"


def test_disk_levels():
    def level(gib):
        r = ProbeReport()
        r.findings.append(Finding("host", "disk free", "found", "", source="/w",
                                  details={"free_bytes": gib * 2**30}))
        return [v for v in judge(r, RULES) if v.check == "disk"][0].level

    assert (level(1), level(5), level(50)) == ("fail", "warn", "ok")


def test_strict_flag_property():
    r = gpu_report("6.0", "8.6.1.6")
    r.verdicts = judge(r, RULES)
    assert r.failed and r.counts()["fail"] >= 1
    ok = gpu_report("9.0")
    ok.verdicts = [v for v in judge(ok, RULES) if v.level != "fail"]
    assert not ok.failed


def test_cudnn_majors():
    def level(*versions):
        r = gpu_report("9.0")
        r.cudnn_installs = [{"version": v, "kind": "headers", "header": "/h"} for v in versions]
        return [v for v in judge(r, RULES) if v.check == "cudnn"][0].level

    assert level("9.14.0", "9.19.0") == "ok"      # as on the real H100 machine
    assert level("8.9.7", "9.5.1") == "warn"


SUPPORT = load_rules(SUPPORT_PATH)


def library_vs_gpu(cc, cuda, trt, name="GPU"):
    report = gpu_report(cc)
    report.gpus[0]["name"] = name
    report.library = {"path": "/lib", "problems": [],
                      "version": {"cuda_version": cuda, "tensorrt_version": trt}}
    return [v for v in judge(report, RULES, SUPPORT) if v.check == "gpu 0 vs library"][0]


@pytest.mark.parametrize("cc, cuda, trt, level, fix", [
    ("10.0", "12.6", "10.5.0.18", "fail", "CUDA >= 12.8 and TensorRT >= 10.8"),   # B200
    ("12.0", "12.9", "10.5.0.18", "fail", "TensorRT >= 10.8"),                    # RTX 5090
    ("8.9", "11.2", "8.0.3.4", "fail", "CUDA >= 11.8 and TensorRT >= 8.5"),       # L4
    ("9.0", "11.8", "8.5.1.7", "fail", "TensorRT >= 8.6"),                        # H100
    ("9.0", "12.9", "10.5.0.18", "ok", None),                                     # H200
    ("8.6", "11.2", "8.0.3.4", "ok", None),                                       # A10
])
def test_gpu_newer_than_the_library(cc, cuda, trt, level, fix):
    v = library_vs_gpu(cc, cuda, trt)
    assert v.level == level
    if fix:
        assert fix in v.fix and "[" in v.message     # the row's source is quoted


def test_max_cc_rows_have_sources():
    for table in ("cuda_max_cc", "tensorrt_max_cc", "tensorrt_cudnn_min"):
        for row in SUPPORT[table]:
            assert row["source"].startswith(("[confirmed]", "[inferred]")), row


@pytest.mark.parametrize("cudnn, level", [("8.6.0", "warn"), ("8.9.7", None), ("9.5.1", None)])
def test_tensorrt_built_against_a_newer_cudnn_minor(cudnn, level):
    report = gpu_report("8.6", trt="8.6.1.6")
    report.cudnn_installs = [{"version": cudnn, "kind": "headers", "header": "/h"}]
    got = [v.level for v in judge(report, RULES, SUPPORT) if v.check == "tensorrt vs cudnn"]
    assert got == ([level] if level else [])
