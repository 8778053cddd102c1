"""One flag vocabulary across every task: same spelling, same help, None for "not given"."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest

from support import ROOT
from toolchain import flags

# Spellings that name an idea another spelling already names.
RETIRED = {"json": "json_", "list": "list_", "all": "all_", "output": "out",
           "output_dir": "out", "lib_path": "lib"}


def _tasks():
    from tasks import ns

    out = []
    for name, task in ns.tasks.items():
        out.append((name, task))
    for coll in ns.collections.values():
        out += list(coll.tasks.items())
    return out


TASKS = _tasks()
# A shared flag whose meaning in one task is narrower, with the reason.
NARROWER = {("soak", "runner"): "soak has the python runner only (cpp is refused)"}


# Invoke's get_arguments() pops each help text off the Task it is called on, and other
# tests share these Task objects: read every task's help in a fresh interpreter, once.
_DUMP = """
import json
from tasks import ns
tasks = dict(ns.tasks)
for coll in ns.collections.values():
    tasks.update(coll.tasks)
print(json.dumps({name: {a.attr_name or a.name: a.help or "" for a in t.get_arguments()}
                  for name, t in tasks.items()}))
"""
HELPS = json.loads(subprocess.run([sys.executable, "-c", _DUMP], cwd=ROOT, check=True,
                                  capture_output=True, text=True, timeout=120).stdout)


@pytest.mark.parametrize("name, task", TASKS, ids=[n for n, _ in TASKS])
def test_parameters_use_the_one_spelling_and_have_help(name, task):
    params = [p for p in inspect.signature(task.body).parameters.values()][1:]
    helps = HELPS[name]
    for p in params:
        assert p.name not in RETIRED, (f"{name}: {flags.flag_name(p.name)} is spelled "
                                       f"{flags.flag_name(RETIRED[p.name])} elsewhere")
        assert helps.get(p.name), f"{name}: {flags.flag_name(p.name)} has no help text"
        if p.default == "" or p.default == -1:
            pytest.fail(f"{name}: {flags.flag_name(p.name)} writes 'not given' as "
                        f"{p.default!r}; use None")


@pytest.mark.parametrize("name, task", TASKS, ids=[n for n, _ in TASKS])
def test_a_shared_flag_has_the_shared_help(name, task):
    helps = HELPS[name]
    for key, text in flags.HELP.items():
        if key in helps and (name, key) not in NARROWER:
            assert helps[key].startswith(text), (
                f"{name}: --{key.rstrip('_').replace('_', '-')} says {helps[key]!r}; "
                f"the shared text (toolchain/flags.py HELP) is {text!r}")


def test_every_task_that_has_a_result_offers_json():
    without = [name for name, task in TASKS
               if "json_" not in inspect.signature(task.body).parameters]
    assert without == []


def test_help_for_extends_and_replaces():
    h = flags.help_for("json_", dry_run=" (the cmake commands)", own="mine")
    assert h["json_"] == flags.HELP["json_"]
    assert h["dry_run"] == flags.HELP["dry_run"] + " (the cmake commands)"
    assert h["own"] == "mine"


@pytest.mark.parametrize("given, words", [((True, True, False), "pick one precision"),
                                          ((False, False, False), None)])
def test_precision_of(given, words):
    if words:
        with pytest.raises(Exception, match=words):
            flags.precision_of(*given)
    else:
        assert flags.precision_of(*given) == "fp32"


def test_choice_names_the_allowed_values():
    assert flags.choice(None, "device", ("cpu", "gpu")) is None
    assert flags.choice("gpu", "device", ("cpu", "gpu")) == "gpu"
    with pytest.raises(Exception, match="--device must be one of cpu, gpu, got 'tpu'"):
        flags.choice("tpu", "device", ("cpu", "gpu"))
