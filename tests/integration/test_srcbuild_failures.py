"""build-lib failure handling: hints for known failures, step timeouts, the post-checkout check."""

from __future__ import annotations

import collections

import pytest

from standin_paddle_src import create_standin_paddle_repo
from toolchain.errors import LabError
from toolchain.settings import LabSettings
from toolchain.build_lib.executor import StepFailed, _Log, _run_step, execute_plan, failure_hints
from toolchain.build_lib.facts import load_build_facts
from toolchain.build_lib.plan import BuildRequest, Step, plan_build


@pytest.fixture(scope="module")
def facts():
    return load_build_facts()


@pytest.mark.parametrize("line, name", [
    ("fatal: unable to access 'https://github.com/google/glog.git/': Could not resolve host: "
     "github.com", "third-party download"),
    ("-- Had to git clone more than once: 3 times.\nCMake Error at extern_protobuf-gitclone.cmake:"
     "31 (message):\n  Failed to clone repository: 'https://github.com/protocolbuffers/protobuf.git'",
     "third-party download"),
    ("c++: fatal error: Killed signal terminated program cc1plus", "out of memory"),
    ("/usr/bin/ld: final link failed: No space left on device", "disk full"),
    ("nvcc fatal   : Unsupported gpu architecture 'compute_90'", "unsupported GPU architecture"),
    ("#error -- unsupported GNU version! gcc versions later than 12 are not supported!",
     "nvcc host compiler"),
    ("fatal error: NvInfer.h: No such file or directory", "TensorRT not found"),
])
def test_known_failures_get_their_hint(facts, line, name):
    hints = failure_hints(facts, line.splitlines())
    assert any(h.startswith(name + ":") for h in hints), hints


def test_unknown_failure_gets_no_hint(facts):
    assert failure_hints(facts, ["error: expected ';' before '}' token"]) == []


def test_hint_names_the_real_dirs(facts, tmp_path):
    req = BuildRequest(ref="v3.0.0", era="3.x", src_dir=tmp_path / "S", build_dir=tmp_path / "B",
                       install_dir=tmp_path / "I", log_file=tmp_path / "l.log", gpu=False)
    plan = plan_build(req, facts)
    hint = failure_hints(facts, ["Could not resolve host: github.com"], plan)[0]
    assert str(tmp_path / "B") + "/third_party" in hint and str(tmp_path / "S") in hint


def test_step_timeout_kills_the_command(tmp_path):
    log = _Log(tmp_path / "x.log")
    step = Step("build", ["sh", "-c", "echo '[ 10%] started'; sleep 30"], timeout_s=0.5)
    seen = []
    with pytest.raises(StepFailed) as failed:
        _run_step(step, log, seen.append, collections.deque(maxlen=10))
    log.close()
    assert "timed out" in failed.value.reason
    assert seen == ["[ 10%] started\n"]
    assert "[ 10%] started" in (tmp_path / "x.log").read_text()


def test_missing_program_is_a_step_failure(tmp_path):
    log = _Log(tmp_path / "x.log")
    with pytest.raises(StepFailed, match="build"):
        _run_step(Step("build", ["no-such-program-xyz"]), log, lambda _: None,
                  collections.deque())
    log.close()


@pytest.mark.slow
def test_tensorrt_cmake_of_the_checkout_is_checked_before_configure(tmp_path, facts):
    """TRT >= 10.11 headers + a tensorrt.cmake without the TRT_*_ENTERPRISE fallback: stop."""
    repo = create_standin_paddle_repo(tmp_path / "repo")
    settings = LabSettings.from_mapping({"work_dir": str(tmp_path / "work"),
                                         "lib_dir": str(tmp_path / "work" / "lib")})
    req = BuildRequest(ref="v3.0.0", era="3.x", paddle_version="3.0.0", repo_url=str(repo),
                       src_dir=tmp_path / "src", build_dir=tmp_path / "build",
                       install_dir=tmp_path / "lib", log_file=tmp_path / "b.log",
                       trt_root=tmp_path / "trt", jobs=1, row_id="build-t")
    plan = plan_build(req, facts)
    with pytest.raises(LabError, match="TRT_MAJOR_ENTERPRISE") as err:
        execute_plan(plan, settings, facts, trt_version="10.11.0.33")
    assert "cmake/tensorrt.cmake" in str(err.value.where)
    assert (tmp_path / "src" / ".git").exists()              # the checkout happened
    assert not (tmp_path / "build" / "CMakeCache.txt").exists()   # configure did not
