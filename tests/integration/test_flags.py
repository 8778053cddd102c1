"""Numeric flags: every one of every task refuses nonsense with its range (issues 12.4, 13.7,
12.9), through the real `invoke` CLI, before any expensive step; unknown flags get a
"did you mean"."""

from __future__ import annotations

import inspect
import struct

import pytest

from support import ROOT, run_invoke
from toolchain.errors import LabError
from toolchain.flags import (BATCH_SIZE, BATCH_SIZES, TOLERANCE, flag_name, float_flag,
                             int_flag)

HUGE = "1000000000000000"

# Every numeric flag of every task (grep the task signatures; test_table_is_complete
# checks nothing is missing): task, flag, the range the error must state, the values
# that are in range (skipped) among 0, -1, abc, HUGE.
TABLE = [
    ("run", "--batch-size", "an integer from 1 to 4096", ()),
    ("run", "--warmup", "an integer from 0 to 100000", ("0",)),
    ("run", "--repeats", "an integer from 1 to 100000", ()),
    ("run", "--threads", "an integer from 0 to 1024 (0 = all cores)", ("0",)),
    ("run", "--sample-size", "an integer from 1 to 1000000", ()),
    ("run", "--seed", "an integer from 0 to 4294967295", ("0",)),
    ("test-acc", "--batch-size", "an integer from 1 to 4096", ()),
    ("test-acc", "--threads", "an integer from 0 to 1024 (0 = all cores)", ("0",)),
    ("test-acc", "--limit", "an integer from 1 to 1000000000", ()),
    ("bench", "--batch-sizes", "an integer from 1 to 4096", ()),
    ("bench", "--repeats", "an integer from 1 to 100000", ()),
    ("bench", "--warmup", "an integer from 0 to 100000", ("0",)),
    ("bench", "--threads", "an integer from 1 to 1024", ()),
    ("bench", "--time-budget", "a number above 0 and at most 604800", ()),
    ("bench", "--tolerance", "a number above 0 and at most 1", ()),
    ("bench", "--limit", "an integer from 1 to 1000000000", ()),
    ("bench", "--gate-top1-drop", "a number from -100 to 100", ("0", "-1")),
    ("bench", "--gate-speedup", "a number above 0 and at most 1000", ()),
    ("quantize", "--batch-size", "an integer from 1 to 4096", ()),
    ("quantize", "--batch-nums", "an integer from 1 to 100000", ()),
    ("compare-layers", "--images", "an integer from 1 to 100000", ()),
    ("compare-layers", "--top", "an integer from 1 to 100000", ()),
    ("repair-int8", "--max-top1-drop", "a number from 0 to 100", ("0",)),
    ("repair-int8", "--batch-size", "an integer from 1 to 4096", ()),
    ("repair-int8", "--batch-nums", "an integer from 1 to 100000", ()),
    ("repair-int8", "--limit", "an integer from 1 to 1000000000", ()),
    ("preprocess", "--jobs", "an integer from 1 to 1024", ()),
    ("preprocess", "--limit", "an integer from 1 to 1000000000", ()),
    ("sample-data", "-n", "an integer from 10 to 1740", ()),
    ("build-demo", "--jobs", "an integer from 1 to 1024", ()),
    ("build-lib", "--jobs", "an integer from 1 to 1024", ()),
    ("lab", "--timeout", "a number above 0 and at most 604800", ()),
    ("soak", "--cycles", "an integer from 3 to 100000", ()),
    ("soak", "--batches", "an integer from 1 to 100000", ()),
    ("soak", "--warmup-cycles", "an integer from 0 to 100000", ("0",)),
    ("soak", "--max-slope-kb", "a number from 0 to 1000000", ("0",)),
    ("soak", "--batch-size", "an integer from 1 to 4096", ()),
    ("soak", "--threads", "an integer from 0 to 1024 (0 = all cores)", ("0",)),
]
CASES = [(task, flag, rng, value) for task, flag, rng, ok in TABLE
         for value in ("0", "-1", "abc", HUGE) if value not in ok]


def _collection():
    from toolchain.tasks import collection

    return collection()


@pytest.mark.parametrize("task, flag, rng, value", CASES,
                         ids=[f"{t}{f}={v}" for t, f, _, v in CASES])
def test_numeric_flag_refuses_nonsense(task, flag, rng, value, lab_env, tmp_path):
    # --flag=VALUE: a value starting with '-' is still the flag's value
    proc = run_invoke(task, f"{flag}={value}", timeout=60)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert f"error: {flag} must be {rng}" in proc.stderr, proc.stderr
    assert f"got {value}" in proc.stderr and "fix:" in proc.stderr
    assert "Traceback" not in proc.stderr
    # refused before anything was made
    assert not (tmp_path / "work").exists() and not (tmp_path / "results").exists()


def test_table_is_complete():
    """Every flag that shows a numeric type is in TABLE, and no task takes a numeric
    default that Invoke would cast itself (a traceback on 'abc', 0 meaning "unset")."""
    shown = set()
    ns = _collection()
    for name in ns.task_names:
        t = ns[name]
        for param, value in inspect.signature(t.body).parameters.items():
            default = value.default
            assert isinstance(default, bool) or not isinstance(default, (int, float)), \
                f"{name} --{param}: numeric default {default!r}; use None + numbers="
        # (not t.get_arguments(): Invoke pops each flag's help from the task when it does)
        shown |= {(name, flag_name(param)) for param in getattr(t, "metavars", {})}
    assert shown == {(t, f) for t, f, _, _ in TABLE}


def test_in_range_values_pass_to_the_next_check(lab_env, tmp_path):
    """The top of each range is accepted: the task goes on and fails for its real reason."""
    proc = run_invoke("run", "--batch-size", "4096", "--warmup", "0", "--repeats", "100000",
                      "--threads", "1024", "--model-dir", str(tmp_path / "nope"), timeout=60)
    assert proc.returncode == 1
    assert "model directory not found" in proc.stderr and "must be" not in proc.stderr
    proc = run_invoke("bench", "--batch-sizes", "1,4096,1", "--tolerance", "1",
                      "--gate-top1-drop", "-100", "--time-budget", "0.5", timeout=60)
    assert proc.returncode == 1
    assert "no models to bench" in proc.stderr and "must be" not in proc.stderr


def test_help_shows_numeric_types():
    proc = run_invoke("--help", "bench", check=True)
    out = proc.stdout
    for flag, kind in (("--repeats", "INT"), ("--warmup", "INT"), ("--tolerance", "FLOAT"),
                       ("--time-budget", "FLOAT"), ("--gate-speedup", "FLOAT"),
                       ("--batch-sizes", "INT[,INT...]")):
        assert f"{flag}={kind} " in out, out
    assert "--repeats=STRING" not in out and "--tolerance=STRING" not in out
    # the range is part of the help line
    assert "a number above 0 and at most 1" in " ".join(out.split())
    run = run_invoke("--help", "run", check=True).stdout
    assert "-b INT, --batch-size=INT" in run and "--threads=INT" in run
    assert "--model-dir=STRING" in run           # string flags keep Invoke's STRING


@pytest.mark.parametrize("args, suggestion", [
    (["run", "--batch", "3"], "Did you mean --batch-size?"),
    (["bench", "--repeat", "3"], "Did you mean --repeats?"),
    (["test-acc", "--limt", "3"], "Did you mean --limit?"),
    (["bech"], "Did you mean bench?"),
])
def test_unknown_flag_names_the_closest(args, suggestion, lab_env):
    proc = run_invoke(*args, timeout=60)
    assert proc.returncode == 1
    assert f"No idea what '{args[-2] if len(args) > 1 else args[0]}' is!" in proc.stderr
    assert suggestion in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_flag_without_a_close_one_keeps_invokes_message(lab_env):
    proc = run_invoke("run", "--zzzzzz", timeout=60)
    assert proc.returncode == 1
    assert "No idea what '--zzzzzz' is!" in proc.stderr
    assert "Did you mean" not in proc.stderr and "invoke --help run" in proc.stderr


@pytest.mark.parametrize("value", ["8.0", "1e3", "0x10", "", " ", "8,", True])
def test_int_flag_takes_only_integers(value):
    with pytest.raises(LabError) as err:
        int_flag(value, "batch_size", 1, 4096)
    assert err.value.message.startswith("--batch-size must be an integer from 1 to 4096")
    assert "--batch-size" in err.value.hint


def test_parsers_accept_what_is_in_range():
    assert int_flag(" 8 ", "batch_size", 1, 4096) == 8
    assert int_flag(None, "batch_size", 1, 4096) is None        # unset stays unset
    assert BATCH_SIZE.parse(4096, "batch_size") == 4096
    assert float_flag("0.5", "tolerance", 0, 1, lo_open=True) == 0.5
    assert TOLERANCE.parse("1", "tolerance") == 1.0
    assert BATCH_SIZES.parse("1, 8,1", "batch_sizes") == [1, 8]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "0", "1.0000001"])
def test_float_flag_refuses_non_finite_and_out_of_range(value):
    with pytest.raises(LabError, match=r"--tolerance must be a number above 0 and at most 1"):
        TOLERANCE.parse(value, "tolerance")


def _bin_dataset(path, count):
    """A bin dataset written by hand (header, zero images, labels): no shared writer."""
    image_bytes = 3 * 224 * 224 * 4
    path.write_bytes(struct.pack("<q", count) + bytes(count * image_bytes)
                     + struct.pack(f"<{count}q", *range(count)))
    return path


def test_batch_larger_than_the_dataset_is_named(tmp_path):
    from toolchain.runners.run import batch_note

    data = _bin_dataset(tmp_path / "three.bin", 3)
    assert batch_note(data, 3) is None and batch_note(None, 64) is None
    note = batch_note(data, 8)
    assert "--batch-size 8 is larger than the 3 images of" in note
    assert "--batch-size 3 or less" in note
    acc = batch_note(data, 4, limit=2, kind="accuracy")
    assert "the 2 images scored (--limit 2)" in acc and "one batch of 2" in acc


def test_every_short_flag_is_a_letter():
    """Invoke hands out a name's next free character as its short flag: "-1" for --bf16
    made `--batch-size=-1` parse as a flag, and "--" went to --trt-disable-ops."""
    import subprocess
    import sys

    code = ("import tasks, json; out = {}\n"
            "for name, t in tasks.ns.tasks.items():\n"
            "    out[name] = [n for a in t.get_arguments() for n in a.names if len(n) == 1]\n"
            "print(json.dumps(out))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    import json

    shorts = json.loads(done.stdout.strip().splitlines()[-1])
    assert "run" in shorts and "b" in shorts["run"]
    bad = {task: [s for s in names if not s.isalpha()] for task, names in shorts.items()}
    assert not any(bad.values()), bad
