"""The real build-lib executor on a STAND-IN Paddle source tree (tests/standin_paddle_src).

git clones a local bare repo at a tag, cmake configures with Paddle's -D flags, make
compiles with g++ and `[ NN%]` progress, `make inference_lib_dist` installs a
paddle_inference-shaped tree, which is validated and registered. A real Paddle
build cannot run here (hours, and its third-party downloads need the internet).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from support import run_invoke
from standin_paddle_src import create_standin_paddle_repo

pytestmark = pytest.mark.slow

QUIET_ENV = {"INVOKE_LAB_BUILD_DISK_FAIL_GB": "0", "INVOKE_LAB_BUILD_DISK_WARN_GB": "0",
             "TENSORRT_ROOT": "", "CUDA_HOME": "", "CUDA_PATH": ""}


@pytest.fixture(scope="module")
def standin_repo(tmp_path_factory) -> Path:
    return create_standin_paddle_repo(tmp_path_factory.mktemp("standin"),
                                      {"v1.8.5": "1.8", "v3.0.0": "3.x"})


def test_failure_then_resume_then_registered(tmp_path, lab_env, standin_repo):
    work = tmp_path / "work"
    base = work / "build-lib" / "v3.0.0-cpu"
    src, build, log = base / "src", base / "build", base / "build-lib.log"
    args = ("build-lib", "--ref", "v3.0.0", "--cpu", "--repo", str(standin_repo), "--jobs", "2")

    # 1. offline third-party download fails: log tail, log path, hint, non-zero exit
    first = run_invoke(*args, env=QUIET_ENV, timeout=300)
    assert first.returncode != 0
    err = first.stderr
    assert "Traceback" not in err
    assert "step 'build' failed" in err
    assert "Could not resolve host: github.com" in err            # from the log tail
    assert str(log) in err.replace("\n", "")
    assert "proxy" in err and str(build / "third_party") in err.replace("\n", "")
    tail = err.split("lines of the log:")[1].split("where:")[0].strip().splitlines()
    assert 5 < len(tail) <= 40
    assert not (work / "lib" / "current.json").exists()
    assert not (work / "lib" / "build-v3.0.0-cpu").exists()
    assert (build / "configure_count.txt").read_text().count("configured") == 1
    marker = src / "local-marker.txt"                          # survives only without re-clone
    marker.write_text("kept")
    git_inode = (src / ".git").stat().st_ino

    # 2. pre-fill the third_party dir as the hint says, run the same command again
    (build / "third_party" / "gflags").mkdir(parents=True)
    (build / "third_party" / "gflags" / "READY").write_text("pre-filled\n")
    second = run_invoke(*args, "--json", env=QUIET_ENV, timeout=300)
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout)
    steps = {s["name"]: s for s in result["steps"]}
    assert steps["clone"]["status"] == "skipped" and steps["fetch"]["status"] == "skipped"
    assert steps["configure"]["status"] == "skipped"
    assert steps["build"]["status"] == steps["install"]["status"] == "ran"
    assert marker.read_text() == "kept" and (src / ".git").stat().st_ino == git_inode
    assert (build / "configure_count.txt").read_text().count("configured") == 1

    # 3. the library: validated like a fetched one and registered with source=build
    lib = work / "lib" / "build-v3.0.0-cpu"
    assert Path(result["library"]) == lib
    assert (lib / "paddle" / "include" / "paddle_inference_api.h").is_file()
    so = lib / "paddle" / "lib" / "libpaddle_inference.so"
    assert so.read_bytes()[:4] == b"\x7fELF"                     # built by g++
    version = (lib / "version.txt").read_text()
    assert "Paddle version: 3.0.0" in version and "WITH_ONEDNN: ON" in version
    current = json.loads((work / "lib" / "current.json").read_text())
    assert current["path"] == str(lib.resolve()) and current["source"] == "build"
    assert current["row_id"] == "build-v3.0.0-cpu"
    assert current["commit"] == result["commit"] and len(result["commit"]) == 40
    assert result["library_info"]["family"] == "paddle_inference"
    from toolchain.library.installed import validate_library

    assert validate_library(lib).version.paddle_version == "3.0.0"
    assert not list(lib.parent.glob(".*partial"))

    # 4. the log: all runs appended, make's progress lines in it
    text = log.read_text()
    assert text.count("---- invoke build-lib v3.0.0") == 2
    assert "[100%]" in text and "$ make -j2 inference_lib_dist" in text
    assert "# skip configure" in text


def test_era_18_tree_installs_fluid_library(tmp_path, lab_env, standin_repo):
    build = tmp_path / "b18"
    (build / "third_party" / "gflags").mkdir(parents=True)
    (build / "third_party" / "gflags" / "READY").write_text("pre-filled\n")
    proc = run_invoke("build-lib", "--ref", "v1.8.5", "--cpu", "--repo", str(standin_repo),
                      "--build-dir", str(build), "--install-dir", str(tmp_path / "fluid"),
                      "--json", env=QUIET_ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["era"] == "1.8" and result["library_info"]["family"] == "fluid_inference"
    assert (tmp_path / "fluid" / "paddle" / "lib" / "libpaddle_fluid.so").is_file()
    assert "WITH_MKLDNN: ON" in (tmp_path / "fluid" / "version.txt").read_text()
    cache = (build / "CMakeCache.txt").read_text()
    assert f"FLUID_INFERENCE_INSTALL_DIR:PATH={build / 'fluid_inference_install_dir'}" in cache


def test_dry_run_script_runs_as_printed(tmp_path, lab_env, standin_repo):
    """The pasteable script does what build-lib does: run it with bash for real."""
    build = tmp_path / "work" / "build-lib" / "v3.0.0-cpu" / "build"
    proc = run_invoke("build-lib", "--ref", "v3.0.0", "--cpu", "--repo", str(standin_repo),
                      "--dry-run", env=QUIET_ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (build / "third_party" / "gflags").mkdir(parents=True)
    (build / "third_party" / "gflags" / "READY").write_text("pre-filled\n")
    script = tmp_path / "build.sh"
    script.write_text(proc.stdout)
    run = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, **QUIET_ENV})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    lib = tmp_path / "work" / "lib" / "build-v3.0.0-cpu"
    assert (lib / "paddle" / "lib" / "libpaddle_inference.so").is_file()
    assert f"Paddle Inference library: {lib}" in run.stdout
    # a second run of the script resumes too: no clone, the same configure
    again = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "Cloning into" not in again.stderr + again.stdout


def test_commit_of_an_existing_checkout(tmp_path, lab_env, standin_repo):
    """--src + a commit: no clone, era read with `git describe`, built at that commit."""
    src = tmp_path / "my-paddle"
    subprocess.run(["git", "clone", "-q", str(standin_repo), str(src)], check=True, timeout=60)
    commit = subprocess.run(["git", "-C", str(src), "rev-parse", "v1.8.5^{commit}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    build = tmp_path / "b"
    (build / "third_party" / "gflags").mkdir(parents=True)
    (build / "third_party" / "gflags" / "READY").write_text("pre-filled\n")
    proc = run_invoke("build-lib", "--ref", commit, "--src", str(src), "--cpu", "--build-dir",
                      str(build), "--json", env=QUIET_ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["era"] == "1.8" and result["paddle_version"] == "1.8.5"
    assert result["commit"] == commit
    assert "clone" not in [s["name"] for s in result["steps"]]
    assert result["row_id"] == f"build-{commit[:12]}-cpu"
    assert (Path(result["library"]) / "paddle" / "lib" / "libpaddle_fluid.so").is_file()


def test_steps_report_their_progress_and_skips_are_noted(tmp_path, standin_repo):
    """Each step that runs is one tracked line (make's [ NN%] as its share); a re-run notes
    the steps it skips."""
    from toolchain.progress import RecordingProgress
    from toolchain.settings import LabSettings
    from toolchain.build_lib.executor import execute_plan
    from toolchain.build_lib.facts import load_build_facts
    from toolchain.build_lib.plan import plan_build
    from toolchain.build_lib.request import resolve_request

    build = tmp_path / "b18"
    (build / "third_party" / "gflags").mkdir(parents=True)
    (build / "third_party" / "gflags" / "READY").write_text("pre-filled\n")
    settings = LabSettings.from_mapping({"work_dir": str(tmp_path / "work"),
                                         "lib_dir": str(tmp_path / "work" / "lib")})
    facts = load_build_facts()
    request = resolve_request(settings, facts, ref="v1.8.5", repo=str(standin_repo), gpu=False,
                              jobs=2, build_dir=str(build), install_dir=str(tmp_path / "fluid"),
                              env={**os.environ, **QUIET_ENV})
    plan = plan_build(request, facts)
    rec = RecordingProgress()
    result = execute_plan(plan, settings, facts, progress=rec)
    ran = [s.name for s in result.steps if s.status == "ran"]
    assert [e[1] for e in rec.of("start")] == ran and "build" in ran
    assert {e[3] for e in rec.of("start")} == {"percent"}
    for name in ran:                                   # every bar ends full, then closes
        assert rec.of("update", name)[-1][2:4] == (100, 100)
    shares = [e[2] for e in rec.of("update", "build")[:-1]]
    assert shares and all(0 <= s <= 100 for s in shares) and any(s < 100 for s in shares)
    assert len(rec.of("done")) == len(ran)
    assert [e[1] for e in rec.of("note")] == [f"skip {s.name}: {s.reason}"
                                             for s in result.steps if s.status == "skipped"]

    again = RecordingProgress()
    execute_plan(plan, settings, facts, progress=again)
    notes = [e[1] for e in again.of("note")]
    assert any(n.startswith("skip clone: ") for n in notes)
    assert any(n.startswith("skip configure: ") for n in notes)
