"""`invoke build-lib` through the real CLI: dry-run plans, bad input, preflight failures."""

from __future__ import annotations

import json
import subprocess

import pytest

from support import run_invoke
from support.srcbuild import make_cuda_root, make_gcc_bin, make_trt_root

QUIET_ENV = {"INVOKE_LAB_BUILD_DISK_FAIL_GB": "0", "INVOKE_LAB_BUILD_DISK_WARN_GB": "0",
             "TENSORRT_ROOT": "", "CUDA_HOME": "", "CUDA_PATH": ""}


@pytest.mark.parametrize("ref, trt, cuda, cudnn, archs, expect, absent", [
    ("v1.8.5", "6.0.1.5", "10.1.243", "7.6.5", "61,75",
     ["-DWITH_MKLDNN=ON", "-DFLUID_INFERENCE_INSTALL_DIR=", "-DWITH_GPU=ON"],
     ["WITH_ONEDNN", "PADDLE_INFERENCE_INSTALL_DIR", "WITH_TENSORRT"]),
    ("v2.6.2", "8.6.1.6", "12.0.140", "8.9.1", "75,80",
     ["-DWITH_MKLDNN=ON", "-DPADDLE_INFERENCE_INSTALL_DIR=", "-DWITH_TENSORRT=ON"],
     ["WITH_ONEDNN", "FLUID_INFERENCE_INSTALL_DIR"]),
    ("v3.0.0", "10.11.0.33", "12.6.85", "9.5.1", "75,80",
     ["-DWITH_ONEDNN=ON", "-DPADDLE_INFERENCE_INSTALL_DIR=", "-DWITH_TENSORRT=ON"],
     ["WITH_MKLDNN", "FLUID_INFERENCE_INSTALL_DIR"]),
])
def test_dry_run_plans_per_era(tmp_path, lab_env, ref, trt, cuda, cudnn, archs, expect,
                               absent):
    make_trt_root(tmp_path / "trt", trt)
    make_cuda_root(tmp_path / "cuda", cuda, cudnn)
    args = ("build-lib", "--ref", ref, "--trt-root", str(tmp_path / "trt"), "--cuda-root",
            str(tmp_path / "cuda"), "--cuda-arch", archs, "--dry-run")
    proc = run_invoke(*args, env=QUIET_ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    script = proc.stdout
    (tmp_path / "plan.sh").write_text(script)
    syntax = subprocess.run(["bash", "-n", str(tmp_path / "plan.sh")], capture_output=True,
                            text=True)
    assert syntax.returncode == 0, syntax.stderr
    for flag in expect + ["-DON_INFER=ON", "-DCMAKE_BUILD_TYPE=Release", "-DWITH_TESTING=OFF",
                          f"-DTENSORRT_ROOT={tmp_path / 'trt'}", "-DCUDA_ARCH_NAME=Manual",
                          f"'-DCUDA_ARCH_BIN={archs.replace(',', ' ')}'", "make -j",
                          "inference_lib_dist"]:
        assert flag in script, flag
    for name in absent:
        assert name not in script.split("set -euo pipefail")[1], name
    assert f"preflight OK   tensorrt: TensorRT {trt}" in script
    assert f"CUDA {cuda}" in script
    assert not (tmp_path / "work" / "build-lib").exists()     # a dry run leaves nothing behind

    proc = run_invoke(*args, "--json", env=QUIET_ENV, timeout=120)
    data = json.loads(proc.stdout)
    assert data["plan"]["request"]["ref"] == ref
    assert data["preflight"]["versions"]["tensorrt"] == trt
    assert data["script"] == script


def test_dry_run_shows_tensorrt_cmake_warning_for_enterprise_headers(tmp_path, lab_env):
    make_trt_root(tmp_path / "trt", "10.11.0.33")
    make_cuda_root(tmp_path / "cuda", "12.6.85", "9.5.1")
    proc = run_invoke("build-lib", "--ref", "v2.6.2", "--trt-root", str(tmp_path / "trt"),
                      "--cuda-root", str(tmp_path / "cuda"), "--dry-run", env=QUIET_ENV,
                      timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "preflight WARN tensorrt.cmake" in proc.stdout
    assert "preflight WARN compat" in proc.stdout         # TRT 10 on Paddle 2.x


def test_broken_host_fails_preflight_with_every_fix_and_runs_nothing(tmp_path, lab_env):
    make_trt_root(tmp_path / "trt", "8.6.1.6", missing_lib=True)
    make_cuda_root(tmp_path / "cuda", "11.2.152", cudnn="8.2.1")
    old_gcc = make_gcc_bin(tmp_path / "bin", "4.8.5")
    proc = run_invoke("build-lib", "--ref", "v2.6.2", "--trt-root", str(tmp_path / "trt"),
                      "--cuda-root", str(tmp_path / "cuda"), "--cuda-arch", "80,90",
                      "--repo", str(tmp_path / "no-such-repo.git"),
                      env={**QUIET_ENV, "CXX": str(old_gcc)}, timeout=120)
    assert proc.returncode != 0
    err = proc.stderr
    assert "Traceback" not in err
    assert "preflight failed" in err and "nothing was run" in err
    assert "tensorrt: TENSORRT_ROOT" in err and "missing lib/libnvinfer.so" in err
    assert "gcc: " in err and "needs gcc >= 5.4" in err
    assert "cuda-arch: CUDA 11.2.152 cannot compile sm_90" in err
    assert err.count("fix:") >= 4                       # one per failed check + the summary
    assert not (tmp_path / "work" / "build-lib").exists()


def test_gpu_dry_run_without_any_tensorrt_root_prints_the_plan_and_fails(tmp_path, lab_env):
    proc = run_invoke("build-lib", "--ref", "v3.0.0", "--gpu", "--dry-run", env=QUIET_ENV,
                      timeout=60)
    assert proc.returncode != 0                       # a CI can use the dry run as a check
    assert "Traceback" not in proc.stderr
    assert "preflight FAIL tensorrt: a GPU build needs TensorRT" in proc.stdout
    assert '-DTENSORRT_ROOT="$TRT"' in proc.stdout and "-DWITH_TENSORRT=ON" in proc.stdout
    (tmp_path / "plan.sh").write_text(proc.stdout)
    assert subprocess.run(["bash", "-n", str(tmp_path / "plan.sh")]).returncode == 0
    assert "error: preflight failed" in proc.stderr and "the plan was printed" in proc.stderr
    assert "tensorrt: a GPU build needs TensorRT" in proc.stderr and "--trt-root" in proc.stderr
    assert not (tmp_path / "work" / "build-lib").exists()

    as_json = run_invoke("build-lib", "--ref", "v3.0.0", "--dry-run", "--json", env=QUIET_ENV,
                         timeout=60)
    assert as_json.returncode != 0
    data = json.loads(as_json.stdout)
    assert "tensorrt" in [c["name"] for c in data["preflight"]["checks"]
                          if c["status"] == "fail"]
    assert data["script"] == proc.stdout


def test_dry_run_of_a_broken_host_lists_every_failed_check_and_exits_non_zero(tmp_path,
                                                                              lab_env):
    make_trt_root(tmp_path / "trt", "8.6.1.6", missing_lib=True)
    make_cuda_root(tmp_path / "cuda", "11.2.152", cudnn="8.2.1")
    old_gcc = make_gcc_bin(tmp_path / "bin", "4.8.5")
    proc = run_invoke("build-lib", "--ref", "v2.6.2", "--trt-root", str(tmp_path / "trt"),
                      "--cuda-root", str(tmp_path / "cuda"), "--cuda-arch", "80,90",
                      "--dry-run", env={**QUIET_ENV, "CXX": str(old_gcc)}, timeout=120)
    assert proc.returncode != 0
    for name in ("tensorrt", "gcc", "cuda-arch"):
        assert f"preflight FAIL {name}:" in proc.stdout, name
        assert f"  - {name}: " in proc.stderr, name
    assert "set -euo pipefail" in proc.stdout            # the whole plan, not a refusal
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    ((), "needs the Paddle ref"),
    (("--ref", "0a1b2c3d4e", "--cpu"), "--era"),
    (("--ref", "v3.0.0", "--gpu", "--cpu"), "--gpu and --cpu"),
    (("--ref", "v3.0.0", "--cpu", "--mkl", "--openblas"), "--mkl and --openblas"),
    (("--ref", "v3.0.0", "--trt-root", "/x", "--cuda-arch", "fast"), "not an SM number"),
    (("--ref", "v1.5.0", "--cpu"), "not a release build-lib knows"),
    (("--ref", "v3.0.0", "--cpu", "--era", "2.x"), "does not match"),
    (("--ref", "v3.0.0", "--cpu", "--src", "/no/such/dir"), "no such directory"),
    (("--ref", "v3.0.0", "--cpu", "--cmake-arg=-GNinja"), "generator"),
])
def test_bad_input_gets_one_clear_error(lab_env, args, message):
    proc = run_invoke("build-lib", *args, "--dry-run", env=QUIET_ENV, timeout=60)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_cmake_arg_is_repeatable(tmp_path, lab_env):
    proc = run_invoke("build-lib", "--ref", "v3.0.0", "--cpu", "--cmake-arg=-DWITH_MKL=OFF",
                      "--cmake-arg", "WITH_ONNXRUNTIME=ON", "--dry-run", "--json",
                      env=QUIET_ENV, timeout=60)
    assert proc.returncode == 0, proc.stderr
    args = json.loads(proc.stdout)["plan"]["cmake_args"]
    assert "-DWITH_MKL=OFF" in args and "-DWITH_ONNXRUNTIME=ON" in args
    assert "-DWITH_MKL=ON" not in args
