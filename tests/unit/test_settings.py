"""The typed `lab` settings: invoke.yaml and the dataclasses state the same keys and defaults."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from support import ROOT
from toolchain.errors import LabError
from toolchain.settings import (SECTIONS, FetchSettings, HostDefaults, LabSettings,
                                RunSettings, declared_defaults)


def _declared() -> dict:
    from invoke.util import yaml  # Invoke's own YAML loader

    return yaml.safe_load((ROOT / "invoke.yaml").read_text())["lab"]


def _walk(declared, expected, where=""):
    """Every key of both, every default equal; returns the differences."""
    diffs = []
    for key in sorted(set(declared) | set(expected)):
        at = f"{where}.{key}" if where else key
        if key not in declared:
            diffs.append(f"lab.{at}: in settings.py, not declared in invoke.yaml")
        elif key not in expected:
            diffs.append(f"lab.{at}: declared in invoke.yaml, unknown to settings.py")
        elif isinstance(expected[key], dict) and key != "env" and key != "hosts":
            if not isinstance(declared[key], dict):
                diffs.append(f"lab.{at}: a section in settings.py, a value in invoke.yaml")
            else:
                diffs += _walk(declared[key], expected[key], at)
        elif declared[key] != expected[key] or type(declared[key]) is not type(expected[key]) \
                and not (isinstance(expected[key], float) and isinstance(declared[key], int)):
            diffs.append(f"lab.{at}: invoke.yaml says {declared[key]!r}, "
                         f"settings.py {expected[key]!r}")
    return diffs


def test_invoke_yaml_and_the_dataclasses_agree_on_every_key_and_default():
    assert _walk(_declared(), declared_defaults()) == []


def test_the_check_sees_a_changed_default_and_a_missing_key():
    declared = _declared()
    declared["fetch"] = {**declared["fetch"], "retries": 7}
    del declared["run"]["threads"]
    declared["bench"]["typo_key"] = 1
    diffs = _walk(declared, declared_defaults())
    assert any("lab.fetch.retries" in d and "7" in d for d in diffs)
    assert any(d.startswith("lab.run.threads: in settings.py") for d in diffs)
    assert any(d.startswith("lab.bench.typo_key: declared") for d in diffs)


def test_every_section_is_typed_and_frozen():
    s = LabSettings.from_mapping({})
    for name, cls in SECTIONS.items():
        section = getattr(s, name)
        assert isinstance(section, cls)
        field = dataclasses.fields(cls)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(section, field, None)


def test_values_are_converted_to_the_field_types(tmp_path):
    # Environment variables arrive as strings; YAML may write 10 for 10.0.
    s = LabSettings.from_mapping({"work_dir": "w", "probe_timeout": "2.5",
                                  "fetch": {"retries": "3", "read_timeout": 5, "mirror": None},
                                  "run": {"dynamic_shape": "true", "threads": ""},
                                  "lock": {"exclude": ["a", "b"]}}, base=tmp_path)
    assert s.work_dir == tmp_path / "w"
    assert s.probe_timeout == 2.5
    assert s.fetch == FetchSettings(retries=3, read_timeout=5.0)
    assert s.run.dynamic_shape is True and s.run.threads == RunSettings.threads
    assert s.lock.exclude == ("a", "b")
    assert s.lab == HostDefaults()


@pytest.mark.parametrize("values, words", [
    ({"fetch": {"retries": "many"}}, "lab.fetch.retries must be an integer, got 'many'"),
    ({"run": {"dynamic_shape": "maybe"}}, "lab.run.dynamic_shape must be true or false"),
    ({"bench": {"tolerance": [1]}}, "lab.bench.tolerance must be a number"),
    ({"run": 3}, "lab.run must be a mapping"),
])
def test_a_bad_value_names_the_setting(values, words):
    with pytest.raises(LabError) as err:
        LabSettings.from_mapping(values)
    assert words in str(err.value)
    assert "invoke.yaml" in (err.value.hint or "") + (err.value.where or "")


def test_an_environment_variable_reaches_its_typed_field(tmp_path):
    env = {**os.environ, "INVOKE_LAB_FETCH_RETRIES": "2", "INVOKE_LAB_RUN_DYNAMIC_SHAPE": "1",
           "INVOKE_LAB_WORK_DIR": str(tmp_path / "lab")}
    code = ("from invoke import Config; from toolchain.settings import LabSettings;"
            "c = Config(project_location='.'); c.load_project(); c.load_shell_env();"
            "s = LabSettings.from_context(type('C', (), {'config': c})());"
            "print(s.fetch.retries, s.run.dynamic_shape, s.work_dir)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "True", str(tmp_path / "lab")]


def test_no_library_module_restates_a_settings_default():
    # The old idioms: a module-level dict of defaults, or .get("key", default) on a section.
    offenders = []
    for path in (ROOT / "toolchain").rglob("*.py"):
        text = path.read_text()
        if path.name == "settings.py":
            continue
        for idiom in ("_DEFAULTS = {", "DEFAULTS: dict", ".section("):
            if idiom in text:
                offenders.append(f"{path.relative_to(ROOT)}: {idiom}")
    assert offenders == []
