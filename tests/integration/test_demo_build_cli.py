"""`invoke build-demo` for real: CLI subprocess -> cmake/g++ -> ldd -> build.json.

Against the stand-in Paddle Inference SDK (tests/standin_sdk; the real SDK cannot
be had here).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from support import run_invoke
from support.demo import expected_accuracy, last_json, make_images, run_demo, write_bin
from toolchain.build_demo import check_binary
from toolchain.settings import LabSettings
from toolchain.state import set_current_library

pytestmark = pytest.mark.slow


def settings_for(lab_env) -> LabSettings:
    return LabSettings.from_mapping({
        "work_dir": lab_env["INVOKE_LAB_WORK_DIR"], "lib_dir": lab_env["INVOKE_LAB_LIB_DIR"]})


def test_build_demo_end_to_end(lab_env, demo_2x, standin_model, tmp_path):
    lib = shutil.copytree(demo_2x.lib, tmp_path / "paddle_inference")
    proc = run_invoke("build-demo", "--lib", str(lib), env=lab_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads((tmp_path / "work" / "demo" / "build.json").read_text())
    assert record["lib"] == str(lib) and record["paddle_api"] == "2.x"
    assert record["gpu"] is False and "-DPADDLE_LIB=" + str(lib) in record["cmake_args"]
    assert record["built_at"]
    binaries = record["binaries"]
    assert set(binaries) == {"trt_clas", "test_acc"}
    for path in binaries.values():
        assert path in proc.stdout          # where the binaries are, printed
        assert path.startswith(str(tmp_path / "work" / "demo" / "build-"))
    assert "none" in proc.stdout            # no unresolved library
    # the binaries run as they are (no LD_LIBRARY_PATH)
    images, labels = make_images(6, standin_model, seed=5)
    data = write_bin(tmp_path / "val.bin", images, labels)
    run = run_demo(binaries["test_acc"], f"--model_dir={standin_model}", f"--data_file={data}")
    assert run.returncode == 0, run.stderr
    assert last_json(run.stdout)["top1"] == pytest.approx(
        expected_accuracy(images, labels, standin_model)[0])

    # A third-party library of the Paddle library disappears: ldd finds it, explains it.
    (lib / "third_party" / "install" / "mklml" / "lib" / "libstandin_mklml.so").unlink()
    check = check_binary(binaries["trt_clas"])
    assert not check.ok
    assert [u.name for u in check.unresolved] == ["libstandin_mklml.so"]
    again = run_invoke("build-demo", "--lib", str(lib), env=lab_env)
    assert again.returncode == 1
    assert "libstandin_mklml.so" in again.stdout + again.stderr
    assert "not every library it needs resolves" in again.stderr
    assert "Traceback" not in again.stderr
    # The library moves away entirely.
    shutil.rmtree(lib / "paddle" / "lib")
    check = check_binary(binaries["trt_clas"])
    bad = {u.name: u for u in check.unresolved}
    assert "libpaddle_inference.so" in bad
    assert "build-demo --clean" in bad["libpaddle_inference.so"].fix


def test_build_demo_uses_the_current_library_and_dry_run(lab_env, demo_1x, tmp_path):
    set_current_library(settings_for(lab_env).lib_dir, demo_1x.lib, row_id="1.8.5-standin",
                        source="manual")
    proc = run_invoke("build-demo", "--dry-run", "--build-dir", str(tmp_path / "b d"),
                      env=lab_env)
    assert proc.returncode == 0, proc.stderr
    script = proc.stdout
    assert script.startswith("#!/usr/bin/env bash")
    assert f"-DPADDLE_LIB={demo_1x.lib}" in script
    assert f"'{tmp_path / 'b d'}'" in script          # quoted for the shell
    assert "-DWITH_GPU=OFF" in script
    assert not (tmp_path / "b d").exists()            # nothing built
    proc = run_invoke("build-demo", "--json", "--dry-run", env=lab_env)
    out = json.loads(proc.stdout)
    assert out["status"] == "dry-run" and out["paddle_api"] == "1.x"
    # the configure line runs as printed, by the plain shell (the build itself is
    # covered by the other tests)
    configure = next(ln for ln in script.splitlines() if ln.startswith("cmake -S"))
    run = subprocess.run(["sh", "-c", configure], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "API 1.x" in run.stdout and "CXX11 ABI:      0" in run.stdout
    assert (tmp_path / "b d" / "CMakeCache.txt").is_file()


def test_build_demo_json_result_reusing_a_build_folder(lab_env, demo_1x):
    """--build-dir at a folder configured by hand with the same flags: nothing to rebuild."""
    binary_before = demo_1x.trt_clas.stat().st_mtime_ns
    proc = run_invoke("build-demo", "--lib", str(demo_1x.lib), "--json", "--cpu",
                      "--build-dir", str(demo_1x.build_dir), env=lab_env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["status"] == "built" and out["ok"] is True and out["paddle_api"] == "1.x"
    assert out["binaries"]["trt_clas"] == str(demo_1x.trt_clas)
    assert demo_1x.trt_clas.stat().st_mtime_ns == binary_before
    assert [c["ok"] for c in out["checks"]] == [True, True]
    names = {lib["name"] for lib in out["checks"][0]["libraries"]}
    assert "libpaddle_fluid.so" in names


def test_build_demo_bad_input(lab_env, tmp_path, demo_2x):
    proc = run_invoke("build-demo", env=lab_env)
    assert proc.returncode == 1
    assert "no Paddle Inference library chosen yet" in proc.stderr and "fetch-lib" in proc.stderr
    proc = run_invoke("build-demo", "--lib", str(tmp_path / "nothing"), env=lab_env)
    assert proc.returncode == 1 and "not a usable Paddle Inference library" in proc.stderr
    proc = run_invoke("build-demo", "--lib", str(demo_2x.lib), "--gpu", "--cpu", env=lab_env)
    assert proc.returncode == 1 and "contradict" in proc.stderr
    not_build = tmp_path / "precious"
    not_build.mkdir()
    (not_build / "notes.txt").write_text("keep me")
    proc = run_invoke("build-demo", "--lib", str(demo_2x.lib), "--build-dir", str(not_build),
                      "--clean", env=lab_env)
    assert proc.returncode == 1 and "refusing to delete" in proc.stderr
    assert (not_build / "notes.txt").exists()
    for p in (proc,):
        assert "Traceback" not in p.stderr


def test_build_demo_reports_cmake_errors(lab_env, demo_2x, tmp_path):
    """A library whose shared object is gone passes nothing to cmake: it is caught first."""
    lib = shutil.copytree(demo_2x.lib, tmp_path / "lib")
    (lib / "paddle" / "lib" / "libpaddle_inference.so").rename(
        lib / "paddle" / "lib" / "libpaddle_inference.a")   # a static-only library
    proc = run_invoke("build-demo", "--lib", str(lib), env=lab_env)
    assert proc.returncode == 1
    assert "cmake could not configure the demo" in proc.stderr
    assert "has no shared library" in proc.stderr
    assert "where:" in proc.stderr and "build-demo.log" in proc.stderr


@pytest.mark.parametrize("generator, unit", [("Ninja", "steps"), ("Unix Makefiles", "percent")])
def test_build_demo_reports_the_build_steps(lab_env, request, tmp_path, generator, unit):
    """Ninja's [n/m] lines as steps (the target as the note), make's [ nn%] as a percentage."""
    from toolchain.build_demo import DemoBuildRequest, build_demo
    from toolchain.progress import RecordingProgress

    if generator == "Ninja" and shutil.which("ninja") is None:
        pytest.skip("ninja is not installed")
    lib = request.getfixturevalue("demo_2x").lib
    rec = RecordingProgress()
    result = build_demo(settings_for(lab_env),
                        DemoBuildRequest(lib=lib, build_dir=tmp_path / "b",
                                         generator=generator), progress=rec)
    assert result.ok
    assert rec.of("start") == [("start", "building the demo", None, unit)]
    steps = [(done, total, note) for _, _, done, total, note in rec.of("update")]
    assert steps, rec.events
    assert steps[-1][0] == steps[-1][1]                  # up to the last step
    if generator == "Ninja":
        dones = [done for done, _, _ in steps]
        assert dones == list(range(1, len(dones) + 1))
        assert {total for _, total, _ in steps} == {len(dones)} and len(dones) > 2
        assert any(note and "trt_clas" in note for _, _, note in steps)
    else:
        assert {total for _, total, _ in steps} == {100}
    assert rec.events[-1] == ("done", "building the demo")
