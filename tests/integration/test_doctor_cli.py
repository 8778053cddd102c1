"""`invoke doctor` for real through the CLI, on this machine and with stand-in GPUs."""

from __future__ import annotations

import json
import os

from support.probe import h100_smi, make_trt_root, p4_470_smi


def gpu_env(bin_dir, **extra):
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "CUDA_HOME": "",
           "TENSORRT_ROOT": ""}
    env.update(extra)
    return env


def test_doctor_runs_here(invoke_cli, lab_env):
    proc = invoke_cli("doctor", timeout=60)
    assert proc.returncode == 0, proc.stderr
    for title in ("Host", "Toolchain", "CUDA toolkits", "Driver and GPUs", "cuDNN", "TensorRT"):
        assert title in proc.stdout
    assert "Traceback" not in proc.stderr


def test_doctor_json_here(invoke_cli, lab_env):
    proc = invoke_cli("doctor", "--json", timeout=60)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    sections = {f["section"] for f in data["findings"]}
    assert {"host", "toolchain", "cuda", "driver", "cudnn", "tensorrt"} <= sections
    # Every finding says where it came from; unparsed ones carry their raw text.
    for f in data["findings"]:
        assert f["source"], f
        if f["status"] == "unparsed":
            assert f["raw"] is not None, f
    assert data["host"]["python"]
    assert data["gcc_version"] and data["cxx11_abi"] in (0, 1)
    assert data["summary"]["fail"] == sum(v["level"] == "fail" for v in data["verdicts"])
    # nvcc exists on the CI machine (no GPU): the toolkit is reported.
    nvcc = [f for f in data["findings"] if f["name"] == "nvcc (PATH)"][0]
    if nvcc["status"] == "found":
        assert data["cuda_version"]


def test_strict_exit_code_follows_fails(invoke_cli, lab_env, tmp_path):
    """--strict exits 0 without fails and 1 with them (P4 + TensorRT 10.5 = INT8 impossible)."""
    here = json.loads(invoke_cli("doctor", "--json", timeout=60).stdout)
    strict_here = invoke_cli("doctor", "--strict", timeout=60)
    assert strict_here.returncode == (1 if here["summary"]["fail"] else 0)

    bin_dir = tmp_path / "bin"
    p4_470_smi(bin_dir)
    trt = make_trt_root(tmp_path / "trt", "trt-10.5-NvInferVersion.h", sonames=(10,))
    env = gpu_env(bin_dir)
    plain = invoke_cli("doctor", "--trt-root", str(trt), env=env, timeout=60)
    assert plain.returncode == 0              # without --strict a fail is only reported
    assert "fail" in plain.stdout and "Tesla P4" in plain.stdout
    strict = invoke_cli("doctor", "--strict", "--json", "--trt-root", str(trt), env=env,
                        timeout=60)
    assert strict.returncode == 1
    data = json.loads(strict.stdout)          # JSON stays clean on stdout
    assert data["gpus"][0]["capability_source"] == "name table"
    assert "doctor --strict" in strict.stderr and "Traceback" not in strict.stderr


def test_h100_standin_json(invoke_cli, lab_env, tmp_path):
    bin_dir = tmp_path / "bin"
    h100_smi(bin_dir)
    trt = make_trt_root(tmp_path / "trt", "trt-10.11-NvInferVersion.h", sonames=(10,))
    proc = invoke_cli("doctor", "--json", env=gpu_env(bin_dir, TENSORRT_ROOT=str(trt)),
                      timeout=60)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"
    assert data["driver_cuda_max"] == "13.0"
    assert data["tensorrt_version"] == "10.11.0.33"
    gpu = [v for v in data["verdicts"] if v["check"].startswith("gpu 0")][0]
    assert gpu["level"] == "ok"


def test_bad_lib_is_one_clear_error(invoke_cli, lab_env, tmp_path):
    proc = invoke_cli("doctor", "--lib", str(tmp_path / "missing"), timeout=60)
    assert proc.returncode == 1
    assert "error:" in proc.stderr and "--lib" in proc.stderr and "fix:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_cuda_root_setting_fails_strict(invoke_cli, lab_env, tmp_path):
    proc = invoke_cli("doctor", "--strict", env={"INVOKE_LAB_CUDA_ROOT": str(tmp_path / "no"),
                                                 "COLUMNS": "250"}, timeout=60)
    assert proc.returncode == 1
    assert f"{tmp_path / 'no'} does not exist" in proc.stdout
    assert "cuda root" in proc.stderr


def test_help_documents_every_flag(invoke_cli):
    proc = invoke_cli("--help", "doctor", timeout=60)
    for flag in ("--json", "--strict", "--lib", "--cuda-root", "--trt-root"):
        assert flag in proc.stdout


def test_report_schema_matches_the_h100_capture():
    """tests/fixtures/probe/h100_doctor.json is `invoke doctor --json` from a real H100
    machine; lock/verify and bench read these keys, so they must not drift silently."""
    from support.probe import PROBE_FIXTURES
    from toolchain.doctor import ProbeReport

    captured = json.loads((PROBE_FIXTURES / "h100_doctor.json").read_text())
    assert set(ProbeReport().to_dict()) == set(captured)
    assert captured["gpus"][0]["compute_capability"] == "9.0"
    finding_keys = {"section", "name", "status", "value", "source", "raw", "details"}
    assert all(set(f) == finding_keys for f in captured["findings"])


def test_table_keeps_every_column_readable_with_long_item_names():
    """A real H100 host listed cuDNN headers under a 74-character pip path; the
    Item column must fold it, not squeeze Value and Source to nothing."""
    from rich.console import Console

    from toolchain.doctor.report import Finding, ProbeReport, Verdict
    from toolchain.tasks.doctor import render_report

    long_dir = "/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/include"
    report = ProbeReport(probe_seconds=0.1, findings=[
        Finding("cudnn", f"headers {long_dir}", "found", value="9.19.0",
                source=f"{long_dir}/cudnn_version.h"),
    ], verdicts=[Verdict("paddle wheel", "warn", "no paddle wheel installed",
                         fix="pip install 'paddle-trt-lab[cpu]' (or [gpu])")])
    con = Console(width=80, record=True, color_system=None)
    render_report(con, report)
    text = con.export_text()
    assert "9.19.0" in text
    flat = text.replace("\n", "").replace("│", "").replace(" ", "")
    assert "cudnn_version.h" in flat
    assert "paddle-trt-lab[cpu]" in flat and "…" not in text  # folded, never cut
