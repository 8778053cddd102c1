"""Hints that lead somewhere (issue 12.5): from a fresh lab, follow the `fix:` of run /
test-acc / bench / build-demo; each names the next command, which then works (no loop
between "no demo build: run build-demo" and "no library: run fetch-lib")."""

from __future__ import annotations

import re
import shlex

import pytest

from support import run_invoke


def fix_commands(stderr: str) -> list[str]:
    """The `invoke ...` commands a LabError's fix line names, in order."""
    fix = [ln for ln in stderr.splitlines() if ln.strip().startswith("fix:")]
    assert fix, f"no fix line in:\n{stderr}"
    return re.findall(r"`(invoke [^`]+)`", fix[0])


def run_hint(command: str, timeout: float = 300):
    args = shlex.split(command)
    assert args[0] == "invoke"
    return run_invoke(*args[1:], timeout=timeout)


@pytest.fixture
def standin_models(tmp_path):
    """Stand-in model folders (placeholder bytes; no engine loads them): they only get the
    tasks past "no model" to the runner choice, which is what these hints are about."""
    root = tmp_path / "standin-model"
    for sub in ("fp32", "int8"):
        (root / sub).mkdir(parents=True)
        (root / sub / "model.pdmodel").write_bytes(b"stand-in program")
        (root / sub / "model.pdiparams").write_bytes(b"stand-in params")
    return root


def test_no_library_chain_run_test_acc_bench_build_demo(lab_env, standin_models):
    run_invoke("sample-data", "-n", "20", check=True, timeout=300)
    run_invoke("preprocess", check=True, timeout=300)          # <work>/data/val.bin
    fp32 = str(standin_models / "fp32")
    starts = [("run", "--runner", "cpp", "--model-dir", fp32),
              ("test-acc", "--runner", "cpp", "--model-dir", fp32),
              ("bench", "--runner", "cpp", "--models", str(standin_models)),
              ("build-demo",)]
    for start in starts:
        proc = run_invoke(*start, timeout=120)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        commands = fix_commands(proc.stderr)
        # the first step is the offline library, and the chain ends at the demo build
        assert commands[0] == "invoke fetch-lib --from-wheel", (start, proc.stderr)
        assert commands[-1] == "invoke build-demo", (start, proc.stderr)

    # follow it: the named first step works from here ...
    proc = run_hint("invoke fetch-lib --from-wheel")
    assert proc.returncode == 0, proc.stderr
    # ... and now every hint names the demo build, which works too
    for start in starts[:3]:
        proc = run_invoke(*start, timeout=120)
        assert proc.returncode == 1
        assert fix_commands(proc.stderr)[0] == "invoke build-demo", (start, proc.stderr)
    proc = run_hint("invoke build-demo")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the runner choice is satisfied: what fails now is the stand-in model, not a hint loop
    proc = run_invoke(*starts[0], timeout=120)
    assert "--runner cpp asked" not in proc.stderr


def test_no_model_chain_leads_to_an_export_that_works(lab_env, tmp_path):
    proc = run_invoke("run", "--int8", timeout=120)
    assert proc.returncode == 1
    commands = fix_commands(proc.stderr)
    assert commands[0] == "invoke quickstart"                 # the one command that works
    assert "invoke models --export small_cnn" in commands    # the step-by-step way
    # step by step: the export names what it lacks, as commands that work in order
    proc = run_invoke("models", "--export", "small_cnn", "--dry-run", timeout=120)
    assert proc.returncode == 1 and "training data not found" in proc.stderr
    steps = fix_commands(proc.stderr)
    assert steps[0] == "invoke sample-data" and steps[1].startswith("invoke preprocess ")
    for command in steps:
        done = run_hint(command)
        assert done.returncode == 0, (command, done.stderr)
    proc = run_invoke("models", "--export", "small_cnn", "--dry-run", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path / "work" / "data" / "train.bin") in proc.stdout


def test_library_hints_name_the_offline_first_step(tmp_path):
    """validate_library (a --lib that is not a library) and doctor's layout check."""
    from toolchain.errors import LabError
    from toolchain.library.installed import validate_library

    with pytest.raises(LabError) as err:
        validate_library(tmp_path)
    assert re.findall(r"`(invoke [^`]+)`", err.value.hint)[0] == "invoke fetch-lib --from-wheel"
