"""Quickstart's reuse rule: a step is skipped only when its inputs and outputs are unchanged."""

from __future__ import annotations

from toolchain.quickstart import REUSED, RAN, Pipeline, QuickstartRequest
from toolchain.settings import LabSettings


def _settings(tmp_path, **extra) -> LabSettings:
    return LabSettings.from_mapping({"work_dir": str(tmp_path / "work"),
                                     "results_dir": str(tmp_path / "results"), **extra})


def test_step_reuses_only_fresh_outputs(tmp_path):
    settings = _settings(tmp_path)
    out = tmp_path / "made" / "thing.txt"
    calls = []

    def make():
        calls.append(1)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(f"content {len(calls)}")
        return "made it"

    def run(inputs):
        p = Pipeline(settings, say=lambda text: None)
        stamp = p.step("make", inputs, {"thing": out}, make)
        return p.records[-1], stamp

    rec, stamp = run({"n": 1})
    assert rec.status == RAN and len(calls) == 1 and rec.detail == "made it"
    rec, again = run({"n": 1})
    assert rec.status == REUSED and len(calls) == 1
    assert again["digests"] == stamp["digests"]
    rec, _ = run({"n": 2})                       # changed input
    assert rec.status == RAN and len(calls) == 2
    out.write_text("edited by hand")             # changed output
    rec, _ = run({"n": 2})
    assert rec.status == RAN and len(calls) == 3
    out.unlink()                                 # missing output
    rec, _ = run({"n": 2})
    assert rec.status == RAN and len(calls) == 4
    (settings.work_dir / "quickstart" / "make.json").write_text("{broken")   # bad stamp
    rec, _ = run({"n": 2})
    assert rec.status == RAN and len(calls) == 5


def test_a_failed_step_leaves_no_stamp(tmp_path):
    settings = _settings(tmp_path)
    p = Pipeline(settings, say=lambda text: None)

    def boom():
        raise RuntimeError("interrupted")

    try:
        p.step("boom", {}, {"x": tmp_path / "x"}, boom)
    except RuntimeError:
        pass
    assert not (settings.work_dir / "quickstart" / "boom.json").exists()


def test_quickstart_settings_from_invoke_section(tmp_path):
    s = _settings(tmp_path, quickstart={"models": "small_cnn, resnet50", "repeats": "12",
                                        "time_budget": "9", "samples": 0})
    q = QuickstartRequest.from_settings(s.quickstart)
    assert (q.models, q.repeats, q.time_budget_s, q.samples) == \
        (["small_cnn", "resnet50"], 12, 9.0, None)
    assert QuickstartRequest.from_settings(s.quickstart, models="small_cnn").models == ["small_cnn"]
    assert QuickstartRequest.from_settings(_settings(tmp_path).quickstart).models[0] == "small_cnn"


def test_cpp_demo_step_says_why_the_python_runner_runs(tmp_path):
    from toolchain.quickstart import _cpp_demo
    from toolchain.state import set_current_library

    # a lab mirror is set: quickstart does not assemble a library from the wheel
    settings = _settings(tmp_path, lib_dir=str(tmp_path / "lib"),
                         fetch={"mirror": "http://127.0.0.1:9"})
    p = Pipeline(settings, say=lambda text: None)
    assert _cpp_demo(p, skip_cpp=True) == "python runner (--skip-cpp)"
    note = _cpp_demo(p, skip_cpp=False)
    assert note.startswith("python runner: no Paddle Inference C++ library is installed")
    assert p.records[-2].name == "fetch-lib" and "mirror" in p.records[-2].detail
    assert not (tmp_path / "lib").exists()
    # a registered library that is not a usable one: the build fails, quickstart goes on
    bogus = tmp_path / "not_a_library"
    bogus.mkdir()
    set_current_library(settings.lib_dir, bogus, None, "manual")
    note = _cpp_demo(p, skip_cpp=False)
    assert note.startswith("python runner: the C++ demo could not be built against")
    assert str(bogus) in note
    assert [r.status for r in p.records] == ["skipped"] * 4


def test_no_compiler_quickstart_says_why_and_goes_on_with_python(tmp_path, monkeypatch):
    """No C++ compiler: the wheel library cannot be proved, nothing is registered and the
    python runner is used, with the reason and the fix shown."""
    from toolchain.quickstart import _cpp_demo

    settings = _settings(tmp_path, lib_dir=str(tmp_path / "lib"),
                         cache_dir=str(tmp_path / "cache"),
                         lock_file=str(tmp_path / "lab.lock.toml"))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-g++"))
    shown = []
    p = Pipeline(settings, say=shown.append)
    note = _cpp_demo(p, skip_cpp=False)
    assert note.startswith("python runner: no Paddle Inference C++ library is installed")
    fetch = p.records[-2]
    assert fetch.name == "fetch-lib" and fetch.status == "skipped"
    assert "no-such-g++ is not installed" in fetch.detail and "build-essential" in fetch.detail
    assert any("no C++ library from the wheel" in line for line in shown)
    assert not (tmp_path / "lab.lock.toml").exists()
    lib = tmp_path / "lib"
    assert not lib.exists() or not list(lib.iterdir())      # no half-made library
