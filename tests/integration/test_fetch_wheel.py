"""fetch-lib --from-wheel: a library assembled from the installed paddlepaddle wheel,
proven (exports + a probe bit-identical to Python paddle.inference), then registered.

Real parts: the installed wheel, g++, nm, the real engine. Stand-ins, named: a GPU
wheel's version facts (no paddlepaddle-gpu here) and, for "exports do not match", a
copy of our declarations + probe with one function the wheel does not export (as
another Paddle version's API would be)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import run_invoke
from toolchain.errors import LabError
from toolchain.fetch import wheel as W
from toolchain.lock.collect import sha256_file
from toolchain.library.installed import parse_version_txt
from toolchain.settings import LabSettings

BASE_PYTHON = getattr(sys, "_base_executable", None)


def _no_tools():
    for tool in ("g++", "nm"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        W.locate_wheel()
    except LabError as exc:
        return exc.message
    return None


needs_wheel = pytest.mark.skipif(bool(_no_tools()), reason=str(_no_tools()))


def settings_for(env) -> LabSettings:
    return LabSettings.from_mapping({
        "work_dir": env["INVOKE_LAB_WORK_DIR"], "cache_dir": env["INVOKE_LAB_CACHE_DIR"],
        "lib_dir": env["INVOKE_LAB_LIB_DIR"], "results_dir": env["INVOKE_LAB_RESULTS_DIR"],
        "lock_file": env["INVOKE_LAB_LOCK_FILE"]})


def seed_current(env) -> Path:
    """A previous current library that a refused --from-wheel must leave untouched."""
    cur = Path(env["INVOKE_LAB_LIB_DIR"]) / "current.json"
    cur.parent.mkdir(parents=True, exist_ok=True)
    cur.write_text('{"path": "/opt/previous", "row_id": "previous", "source": "fetch"}\n')
    return cur


# ---- pure parts ----------------------------------------------------------------

def test_compare_outputs_bit_identical_and_differences():
    a = struct.pack("4f", 0.1, 0.2, 0.3, 0.4)
    assert W.compare_outputs(a, a, [1, 4], [1, 4]) is None
    b = struct.pack("4f", 0.1, 0.2, 0.31, 0.4)
    msg = W.compare_outputs(a, b, [1, 4], [1, 4])
    assert msg and "1 of 4 floats differ" in msg and "index 2" in msg
    assert "shape" in W.compare_outputs(a, a, [1, 4], [4, 1])


def gpu_query(tmp_path) -> dict:
    """Stand-in for a paddlepaddle-gpu wheel's facts (its paddle/version fields)."""
    d = tmp_path / "site" / "paddle"
    (d / "base").mkdir(parents=True)
    libdir = tmp_path / "pylib"
    libdir.mkdir()
    (libdir / "libpython3.11.so.1.0").write_bytes(b"")
    return {"python": "/usr/bin/python3", "py_version": "3.11", "libdir": str(libdir),
            "ldlibrary": "libpython3.11.so.1.0", "paddle_dir": str(d),
            "distribution": "paddlepaddle-gpu",
            "version": {"full_version": "3.0.0", "commit": "abc123", "cuda_version": "12.6",
                        "cudnn_version": "9.5.1", "tensorrt_version": "10.5.0.18",
                        "with_mkl": "ON"}}


def test_gpu_plan_states_the_wheels_cuda_cudnn_trt(tmp_path):
    info = W.wheel_info_from_query(gpu_query(tmp_path))
    plan = W.plan_wheel_library(info, tmp_path / "lib" / W.library_name(info, True), gpu=True)
    v = parse_version_txt(plan.files["version.txt"])
    assert (v.paddle_version, v.git_commit, v.with_gpu, v.with_tensorrt) == \
        ("3.0.0", "abc123", True, True)
    assert (v.cuda_version, v.cudnn_version, v.tensorrt_version) == ("12.6", "9.5.1", "10.5.0.18")
    assert v.wheel_derived is True
    assert plan.links["nvidia"] == str(Path(info.paddle_dir).parent / "nvidia")
    assert plan.dest.endswith("paddle_inference-wheel-3.0.0-gpu")
    script = W.render_plan_script(plan)
    assert "ln -s" in script and "WITH_GPU: ON" in script


def test_cpu_wheel_facts_refuse_gpu_and_static_python(tmp_path):
    q = gpu_query(tmp_path)
    q["version"].update(cuda_version="False", cudnn_version="False", tensorrt_version="None")
    info = W.wheel_info_from_query(q)
    assert not info.with_gpu
    with pytest.raises(LabError, match="CPU-only"):
        W.plan_wheel_library(info, tmp_path / "x", gpu=True)
    v = parse_version_txt(W.plan_wheel_library(info, tmp_path / "x").files["version.txt"])
    assert v.with_gpu is False and v.cuda_version is None
    q["libdir"] = str(tmp_path / "none")
    with pytest.raises(LabError, match="no shared libpython"):
        W.plan_wheel_library(W.wheel_info_from_query(q), tmp_path / "x")


@needs_wheel
def test_declared_gpu_and_trt_functions_are_exported_by_the_wheel(tmp_path):
    """The probe references every declaration; its GPU/TRT ones are in this CPU wheel."""
    info = W.locate_wheel()
    obj = tmp_path / "p.o"
    subprocess.run(["g++", "-std=c++17", "-I", str(W.INCLUDE_DIR), "-c", str(W.PROBE_SOURCE),
                    "-o", str(obj)], check=True, timeout=300)
    undef = subprocess.run(["nm", "-uC", str(obj)], capture_output=True, text=True,
                           timeout=60).stdout
    exported = subprocess.run(["nm", "-DC", "--defined-only", info.libpaddle],
                              capture_output=True, text=True, timeout=300).stdout
    for fn in ("paddle::AnalysisConfig::EnableUseGpu(", "paddle::AnalysisConfig::EnableTensorRtEngine("):
        line = next(ln for ln in undef.splitlines() if fn in ln)
        assert line.split(" U ", 1)[1].strip() in exported


# ---- the real wheel, through the CLI ----------------------------------------------

@needs_wheel
@pytest.mark.slow
def test_from_wheel_proves_registers_and_caches_the_proof(lab_env):
    t0 = time.monotonic()
    proc = run_invoke("fetch-lib", "--from-wheel", "--json", env=lab_env, timeout=600)
    first = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    res = json.loads(proc.stdout)
    info = W.locate_wheel()
    dest = Path(lab_env["INVOKE_LAB_LIB_DIR"]) / f"paddle_inference-wheel-{info.version}"
    assert res["status"] == "installed" and res["install_dir"] == str(dest)
    assert res["sha256"] == sha256_file(Path(info.libpaddle))
    assert any("bit-identical" in r for r in res["reasons"])
    cur = json.loads((Path(lab_env["INVOKE_LAB_LIB_DIR"]) / "current.json").read_text())
    assert cur["path"] == str(dest) and cur["source"] == "wheel"
    assert cur["sha256"] == res["sha256"]
    import tomllib

    lock = tomllib.loads(Path(lab_env["INVOKE_LAB_LOCK_FILE"]).read_text())
    entry = lock["libraries"][dest.name]
    assert entry["sha256"] == res["sha256"] and entry["source"] == "wheel"
    v = parse_version_txt((dest / "version.txt").read_text())
    assert v.paddle_version == info.version and v.git_commit == info.commit
    assert v.with_gpu is info.with_gpu and v.wheel_derived
    assert sorted(p.name for p in dest.parent.iterdir() if p.name.startswith(".")) == []
    t1 = time.monotonic()
    again = run_invoke("fetch-lib", "--from-wheel", "--json", env=lab_env, timeout=600)
    second = time.monotonic() - t1
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["cache_hit"] is True
    assert second < first, (first, second)


@needs_wheel
def test_cpu_wheel_with_gpu_is_refused_nothing_registered(lab_env):
    cur = seed_current(lab_env)
    before = cur.read_text()
    proc = run_invoke("fetch-lib", "--from-wheel", "--gpu", env=lab_env, timeout=120)
    assert proc.returncode == 1
    assert "CPU-only" in proc.stderr and "Traceback" not in proc.stderr
    assert cur.read_text() == before
    assert not Path(lab_env["INVOKE_LAB_LOCK_FILE"]).exists()


@needs_wheel
def test_dry_run_prints_the_plan_and_touches_nothing(lab_env):
    proc = run_invoke("fetch-lib", "--from-wheel", "--dry-run", env=lab_env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "INPUT(" in proc.stdout and "Source: wheel" in proc.stdout
    assert not Path(lab_env["INVOKE_LAB_LIB_DIR"]).exists()


def test_download_flags_with_from_wheel_are_refused(lab_env):
    proc = run_invoke("fetch-lib", "--from-wheel", "--mirror", "http://x", env=lab_env,
                      timeout=120)
    assert proc.returncode == 1 and "--mirror" in proc.stderr


@pytest.mark.skipif(not BASE_PYTHON or BASE_PYTHON == sys.executable,
                    reason="no base interpreter without paddle")
def test_missing_wheel_is_refused(lab_env):
    cur = seed_current(lab_env)
    before = cur.read_text()
    with pytest.raises(LabError, match="no paddlepaddle wheel is installed"):
        W.fetch_from_wheel(settings_for(lab_env), python=BASE_PYTHON)
    assert cur.read_text() == before


@needs_wheel
def test_unwritable_lib_dir_is_refused(lab_env, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = dict(lab_env, INVOKE_LAB_LIB_DIR=str(blocker / "lib"))
    proc = run_invoke("fetch-lib", "--from-wheel", env=env, timeout=300)
    assert proc.returncode == 1
    assert "cannot write the library folder" in proc.stderr and "Traceback" not in proc.stderr


@needs_wheel
@pytest.mark.slow
def test_exports_not_matching_the_declarations_are_refused(lab_env, tmp_path, monkeypatch):
    """Stand-in for another Paddle version's API: our declarations + probe with one more
    function (EnableXpuEngine2) the installed wheel does not export."""
    inc = tmp_path / "inc"
    shutil.copytree(W.INCLUDE_DIR, inc)
    h = inc / "paddle_analysis_config.h"
    h.write_text(h.read_text().replace("  void DisableGpu();",
                                       "  void DisableGpu();\n  void EnableXpuEngine2(int n);"))
    probe = tmp_path / "wheel_probe.cc"
    probe.write_text(W.PROBE_SOURCE.read_text().replace("config.DisableGpu();",
                                                        "config.DisableGpu();\n  config.EnableXpuEngine2(1);"))
    monkeypatch.setattr(W, "INCLUDE_DIR", inc)
    monkeypatch.setattr(W, "PROBE_SOURCE", probe)
    cur = seed_current(lab_env)
    before = cur.read_text()
    settings = settings_for(lab_env)
    with pytest.raises(LabError) as err:
        W.fetch_from_wheel(settings)
    assert "does not export 1 of" in err.value.message
    assert "paddle::AnalysisConfig::EnableXpuEngine2(int)" in err.value.message
    assert cur.read_text() == before
    assert not settings.lock_file.exists()
    assert [p.name for p in settings.lib_dir.iterdir()] == ["current.json"]


@needs_wheel
@pytest.mark.slow
def test_verify_and_doctor_understand_a_wheel_library(lab_env):
    """lock pins the engine (the wheel's libpaddle.so), verify sees it change, doctor sees
    it gone (an upgraded or removed wheel; here: the tree's link re-pointed)."""
    run_invoke("fetch-lib", "--from-wheel", env=lab_env, timeout=600, check=True)
    run_invoke("lock", env=lab_env, timeout=600, check=True)
    import tomllib

    lock = tomllib.loads(Path(lab_env["INVOKE_LAB_LOCK_FILE"]).read_text())
    info = W.locate_wheel()
    assert lock["library"]["wheel_derived"] is True
    assert lock["library"]["engine_sha256"] == sha256_file(Path(info.libpaddle))
    assert run_invoke("verify", env=lab_env, timeout=600).returncode == 0
    dest = Path(lab_env["INVOKE_LAB_LIB_DIR"]) / W.library_name(info, False)
    link = dest / "paddle" / "lib" / "libpaddle.so"
    link.unlink()
    link.symlink_to(Path(info.paddle_dir) / "libs" / "libcommon.so")
    proc = run_invoke("verify", env=lab_env, timeout=600)
    assert proc.returncode != 0 and "engine_sha256" in proc.stdout
    link.unlink()
    link.symlink_to(dest / "gone.so")
    proc = run_invoke("doctor", "--json", env=lab_env, timeout=600)
    report = json.loads(proc.stdout)
    assert any("wheel it was assembled from was removed" in p
               for p in report["library"]["problems"])


def test_optional_declarations_follow_the_wheels_exports(tmp_path):
    """3.0.0's libpaddle.so lacks EnableONEDNN and EnableOnednnInt8, 3.1.1's lacks
    EnableMKLDNN (seen by benchmarks/wheel_matrix.py): those lines are dropped, the
    rest kept."""
    names = W.optional_declarations()
    assert {"EnableONEDNN", "EnableOnednnInt8", "EnableNewIR", "EnableMKLDNN"} <= set(names)
    exports = {f"_ZN6paddle14AnalysisConfig{len(n)}{n}Ev" for n in names
               if n not in ("EnableONEDNN", "EnableOnednnInt8")}
    kept = W.exported_config_methods(exports, names)
    assert "EnableNewIR" in kept and "EnableONEDNN" not in kept
    W.write_headers(tmp_path, kept)
    text = (tmp_path / "paddle_analysis_config.h").read_text()
    assert "EnableNewIR(" in text and "EnableONEDNN(" not in text
    assert "EnableOnednnInt8(" not in text and "void EnableMKLDNN();" in text
    kept = W.exported_config_methods(
        {f"_ZN6paddle14AnalysisConfig{len(n)}{n}Ev" for n in names if n != "EnableMKLDNN"},
        names)
    W.write_headers(tmp_path, kept)
    text = (tmp_path / "paddle_analysis_config.h").read_text()
    assert "EnableMKLDNN(" not in text and "void EnableONEDNN();" in text
