"""build-lib plans per Paddle era, compared with Paddle's documented build commands."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from toolchain.errors import LabError
from toolchain.settings import LabSettings
from toolchain.build_lib.facts import load_build_facts, version_from_ref
from toolchain.build_lib.plan import BuildRequest, parse_cuda_arch, plan_build, render_script
from toolchain.build_lib.request import default_jobs, resolve_request

# Paddle's documented build commands (Paddle Inference and PaddleSlim docs, by release):
# 1.8 - PaddleSlim demo/quant/deploy/TensorRT README (section 1.2)
DOC_18 = ("cmake .. -DWITH_MKL=ON -DWITH_MKLDNN=ON -DCMAKE_BUILD_TYPE=Release "
          "-DWITH_INFERENCE_API_TEST=OFF -DTENSORRT_ROOT=TensorRT-6.0.1.5 "
          "-DFLUID_INFERENCE_INSTALL_DIR=LIB_ROOT -DON_INFER=ON -DWITH_PYTHON=ON")
# 2.x - Paddle-Inference-Demo source_compile_under_Linux.md (section 3.1)
DOC_2X = ("cmake .. -DPY_VERSION=3.7 -DWITH_TESTING=OFF -DWITH_MKL=ON -DWITH_GPU=ON "
          "-DON_INFER=ON -DWITH_TENSORRT=ON -DTENSORRT_ROOT=/paddle/nvidia/TensorRT/")
# 3.x - the short report's build line, WITH_ONEDNN after PR #63233 (section 3.1 / short report 5)
DOC_3X = ("cmake .. -DWITH_GPU=ON -DWITH_TENSORRT=ON -DTENSORRT_ROOT=/opt/trt -DON_INFER=ON "
          "-DWITH_MKL=ON -DWITH_ONEDNN=ON -DWITH_PYTHON=OFF -DCUDA_ARCH_NAME=Auto "
          "-DWITH_TESTING=OFF -DCMAKE_BUILD_TYPE=Release")


def doc_defines(cmd: str) -> dict[str, str]:
    return dict(a[2:].split("=", 1) for a in shlex.split(cmd) if a.startswith("-D"))


@pytest.fixture(scope="module")
def facts():
    return load_build_facts()


def make_request(tmp: Path, ref: str, era: str, **kw) -> BuildRequest:
    base = dict(ref=ref, era=era, paddle_version=version_from_ref(ref), src_dir=tmp / "src",
                build_dir=tmp / "build", install_dir=tmp / "lib" / "out", log_file=tmp / "b.log",
                trt_root=tmp / "TensorRT", jobs=8, row_id="build-x")
    base.update(kw)
    return BuildRequest(**base)


def test_era_18_matches_paddleslim_recipe(tmp_path, facts):
    plan = plan_build(make_request(tmp_path, "v1.8.5", "1.8", python=True, python_version="3.7"),
                      facts)
    d = plan.cmake_defines
    doc = doc_defines(DOC_18)
    for key, value in doc.items():
        if key in ("TENSORRT_ROOT", "FLUID_INFERENCE_INSTALL_DIR"):
            assert key in d
        else:
            assert d[key] == value, key
    assert d["TENSORRT_ROOT"] == str(tmp_path / "TensorRT")
    assert d["FLUID_INFERENCE_INSTALL_DIR"] == str(tmp_path / "build" / "fluid_inference_install_dir")
    assert "PADDLE_INFERENCE_INSTALL_DIR" not in d and "WITH_ONEDNN" not in d
    assert "WITH_TENSORRT" not in d     # 1.8 enables TRT through TENSORRT_ROOT
    assert plan.family == "fluid_inference"
    assert plan.stage_dir.name == "fluid_inference_install_dir"
    assert "submodules" not in [s.name for s in plan.steps]


def test_era_2x_matches_inference_demo_recipe(tmp_path, facts):
    plan = plan_build(make_request(tmp_path, "v2.6.2", "2.x", python=True, python_version="3.7"),
                      facts)
    d = plan.cmake_defines
    for key, value in doc_defines(DOC_2X).items():
        if key != "TENSORRT_ROOT":
            assert d[key] == value, key
    assert d["WITH_MKLDNN"] == "ON" and "WITH_ONEDNN" not in d
    assert d["PADDLE_INFERENCE_INSTALL_DIR"] == str(tmp_path / "build" / "paddle_inference_install_dir")
    assert "FLUID_INFERENCE_INSTALL_DIR" not in d
    assert d["WITH_INFERENCE_API_TEST"] == "OFF" and d["CMAKE_BUILD_TYPE"] == "Release"
    assert plan.family == "paddle_inference"


def test_era_3x_uses_onednn_flag(tmp_path, facts):
    plan = plan_build(make_request(tmp_path, "v3.0.0", "3.x"), facts)
    d = plan.cmake_defines
    for key, value in doc_defines(DOC_3X).items():
        if key != "TENSORRT_ROOT":
            assert d[key] == value, key
    assert "WITH_MKLDNN" not in d
    assert "-DWITH_ONEDNN=ON" in plan.cmake_args


def test_steps_git_make_and_result_location(tmp_path, facts):
    plan = plan_build(make_request(tmp_path, "v3.0.0", "3.x", jobs=6), facts)
    names = [s.name for s in plan.steps]
    assert names == ["clone", "fetch", "checkout", "submodules", "configure", "build", "install",
                     "publish"]
    by = {s.name: s for s in plan.steps}
    assert by["clone"].argv == ["git", "clone", "https://github.com/PaddlePaddle/Paddle.git",
                                str(tmp_path / "src")]
    assert by["checkout"].argv[-2:] == ["checkout", "v3.0.0"]
    assert by["configure"].argv[:2] == ["cmake", str(tmp_path / "src")]
    assert by["configure"].cwd == tmp_path / "build"
    assert by["build"].argv == ["make", "-j6"] and by["build"].progress
    assert by["install"].argv == ["make", "-j6", "inference_lib_dist"]
    assert plan.install_dir == tmp_path / "lib" / "out"


def test_src_checkout_is_not_cloned_and_clean_wipes_build(tmp_path, facts):
    plan = plan_build(make_request(tmp_path, "v2.6.2", "2.x", src_given=True, clean=True), facts)
    names = [s.name for s in plan.steps]
    assert "clone" not in names
    assert names.index("clean") < names.index("configure")
    assert plan.steps[names.index("clean")].argv == ["rm", "-rf", "--", str(tmp_path / "build")]


def test_cpu_build_has_no_tensorrt(tmp_path, facts):
    plan = plan_build(make_request(tmp_path, "v3.0.0", "3.x", gpu=False, trt_root=None), facts)
    d = plan.cmake_defines
    assert d["WITH_GPU"] == "OFF" and d["WITH_TENSORRT"] == "OFF"
    assert "TENSORRT_ROOT" not in d and "CUDA_ARCH_NAME" not in d


def test_gpu_build_without_trt_root_plans_a_script_that_asks_for_it(tmp_path, facts):
    """No TensorRT root yet: the plan still renders (--dry-run shows it beside the failed
    preflight); the script takes TENSORRT_ROOT from the environment and stops when it is
    unset; the executor refuses to run such a plan."""
    import subprocess

    from toolchain.build_lib.executor import execute_plan
    from toolchain.build_lib.plan import TRT_UNSET

    plan = plan_build(make_request(tmp_path, "v3.0.0", "3.x", trt_root=None), facts)
    assert plan.cmake_defines["TENSORRT_ROOT"] == TRT_UNSET
    script = render_script(plan)
    assert '-DTENSORRT_ROOT="$TRT"' in script
    head = script.split("\n\n# clone")[0]        # the variables, no step
    (tmp_path / "head.sh").write_text(head + '\necho "trt=$TRT"\n')
    unset = subprocess.run(["bash", str(tmp_path / "head.sh")], capture_output=True,
                           text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert unset.returncode != 0 and "no TensorRT root" in unset.stderr
    given = subprocess.run(["bash", str(tmp_path / "head.sh")], capture_output=True, text=True,
                           timeout=30, env={"PATH": "/usr/bin:/bin", "TENSORRT_ROOT": "/opt/t"})
    assert given.returncode == 0 and "trt=/opt/t" in given.stdout
    with pytest.raises(LabError, match="needs TensorRT"):
        execute_plan(plan, None, facts)


@pytest.mark.parametrize("value, name, sms", [
    ("auto", "Auto", None), ("75,80,90", "Manual", "75 80 90"), ("sm_86 89", "Manual", "86 89"),
    ("Ampere", "Ampere", None), ("61(61)", "Manual", "61(61)")])
def test_cuda_arch(value, name, sms, facts):
    assert parse_cuda_arch(value, facts.era("2.x")) == (name, sms)


def test_cuda_arch_bad_value(facts):
    with pytest.raises(LabError, match="not an SM number"):
        parse_cuda_arch("fast", facts.era("3.x"))


def test_manual_arch_and_cuda_root_in_flags(tmp_path, facts):
    plan = plan_build(make_request(tmp_path, "v3.0.0", "3.x", cuda_arch="80,90",
                                   cuda_root=tmp_path / "cuda"), facts)
    d = plan.cmake_defines
    assert (d["CUDA_ARCH_NAME"], d["CUDA_ARCH_BIN"]) == ("Manual", "80 90")
    assert d["CUDA_TOOLKIT_ROOT_DIR"] == str(tmp_path / "cuda")


def test_openblas_and_python(tmp_path, facts):
    plan = plan_build(make_request(tmp_path, "v2.6.2", "2.x", math="openblas", python=True,
                                   python_version="3.10"), facts)
    d = plan.cmake_defines
    assert (d["WITH_MKL"], d["WITH_MKLDNN"], d["WITH_PYTHON"], d["PY_VERSION"]) == (
        "OFF", "OFF", "ON", "3.10")


def test_user_cmake_args_override_and_extend(tmp_path, facts):
    plan = plan_build(make_request(tmp_path, "v3.0.0", "3.x", cmake_args=[
        "-DWITH_MKL=OFF", "WITH_ONNXRUNTIME=ON", "-Wno-dev"]), facts)
    assert plan.cmake_args.count("-DWITH_MKL=OFF") == 1 and "-DWITH_MKL=ON" not in plan.cmake_args
    assert "-DWITH_ONNXRUNTIME=ON" in plan.cmake_args and plan.cmake_args[-1] == "-Wno-dev"
    assert any("WITH_MKL=OFF" in n for n in plan.notes)
    with pytest.raises(LabError, match="generator"):
        plan_build(make_request(tmp_path, "v3.0.0", "3.x", cmake_args=["-GNinja"]), facts)


@pytest.mark.parametrize("ref, version", [
    ("v1.8.5", "1.8.5"), ("v2.6.2", "2.6.2"), ("v3.0.0", "3.0.0"), ("v3.0.0-beta1", "3.0.0-beta1"),
    ("release/2.6", "2.6.0"), ("0a1b2c3d", None), ("develop", None)])
def test_version_from_ref(ref, version):
    assert version_from_ref(ref) == version


def test_era_for_versions(facts):
    assert facts.era_for_version("1.8.5").name == "1.8"
    assert facts.era_for_version("2.0.0-rc0").name == "2.x"
    assert facts.era_for_version("3.0.0-beta1").name == "3.x"
    with pytest.raises(LabError, match="not a release"):
        facts.era_for_version("1.5.0")


def test_default_jobs_follow_memory_and_cores():
    assert default_jobs(16, 24, 3) == 8
    assert default_jobs(2, 24, 3) == 2
    assert default_jobs(8, 2, 3) == 1
    assert default_jobs(4, None, 3) == 4


def settings_for(tmp_path) -> LabSettings:
    return LabSettings.from_mapping({"work_dir": str(tmp_path / "work"),
                                     "lib_dir": str(tmp_path / "work" / "lib")})


def test_resolve_request_commit_needs_era(tmp_path, facts):
    with pytest.raises(LabError, match="--era"):
        resolve_request(settings_for(tmp_path), facts, ref="0a1b2c3d", gpu=False, env={})
    req = resolve_request(settings_for(tmp_path), facts, ref="0a1b2c3d", gpu=False, era="3.x",
                          env={})
    assert (req.era, req.era_source, req.paddle_version) == ("3.x", "--era", None)
    with pytest.raises(LabError, match="does not match"):
        resolve_request(settings_for(tmp_path), facts, ref="v2.6.2", gpu=False, era="3.x", env={})


def test_resolve_request_defaults(tmp_path, facts):
    req = resolve_request(settings_for(tmp_path), facts, ref="v2.6.2", env={
        "TENSORRT_ROOT": str(tmp_path / "trt"), "CUDA_HOME": str(tmp_path / "cuda")})
    assert req.trt_root == tmp_path / "trt" and req.cuda_root == tmp_path / "cuda"
    assert req.build_dir == tmp_path / "work" / "build-lib" / "v2.6.2-gpu" / "build"
    assert req.install_dir == tmp_path / "work" / "lib" / "build-v2.6.2-gpu"
    assert req.row_id == "build-v2.6.2-gpu" and req.jobs >= 1


def test_commit_era_from_git_describe(tmp_path, facts):
    from standin_paddle_src import create_standin_paddle_repo

    bare = create_standin_paddle_repo(tmp_path / "repo", {"v2.6.2": "2.x"})
    src = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(bare), str(src)], check=True, timeout=60)
    head = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    req = resolve_request(settings_for(tmp_path), facts, ref=head, src=str(src), gpu=False,
                          env={})
    assert (req.era, req.paddle_version, req.era_source) == ("2.x", "2.6.2", "git describe")
    assert req.src_given


@pytest.mark.parametrize("ref, era", [("v1.8.5", "1.8"), ("v2.6.2", "2.x"), ("v3.0.0", "3.x")])
def test_script_is_valid_bash_with_paths_that_need_quoting(tmp_path, facts, ref, era):
    odd = tmp_path / "dir with space's"
    plan = plan_build(make_request(odd, ref, era, trt_root=odd / "TensorRT 8"), facts)
    script = render_script(plan, header_lines=["preflight OK   x: y"])
    path = tmp_path / "plan.sh"
    path.write_text(script)
    check = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert script.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in script
    assert "inference_lib_dist" in script and f"checkout {ref}" in script
    # the variables hold the real paths: evaluate just the assignments
    assigns = "\n".join(line for line in script.splitlines() if line.startswith(("SRC=", "DEST=")))
    out = subprocess.run(["bash", "-c", assigns + '\nprintf "%s\\n" "$SRC" "$DEST"'],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == [str(odd / "src"), str(odd / "lib" / "out")]


def test_ccache_auto_passes_nothing_and_launcher_era_passes_launchers(tmp_path, facts):
    import dataclasses

    req = make_request(tmp_path, "v3.0.0", "3.x", ccache=Path("/usr/bin/ccache"))
    plan = plan_build(req, facts)
    assert not any("LAUNCHER" in a for a in plan.cmake_args)
    assert any("/usr/bin/ccache" in n for n in plan.notes)
    launcher = dataclasses.replace(facts, eras={**facts.eras, "3.x": dataclasses.replace(
        facts.era("3.x"), ccache="launcher")})
    d = plan_build(req, launcher).cmake_defines
    assert d["CMAKE_CXX_COMPILER_LAUNCHER"] == d["CMAKE_CUDA_COMPILER_LAUNCHER"] == "/usr/bin/ccache"
    assert "CMAKE_C_COMPILER_LAUNCHER" not in plan_build(
        dataclasses.replace(req, ccache=None), launcher).cmake_defines
