"""The shared base: settings, result JSON, state records, the lock file, the task collection."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from support import ROOT, run_invoke
from toolchain.errors import LabError
from toolchain.lock.file import library_entry, load_lock, save_lock, set_library_entry
from toolchain.results import JsonResult
from toolchain.runners.result import LatencyStats, percentile
from toolchain.settings import LabSettings
from toolchain.state import current_library, set_current_library


def test_result_json_handles_paths_and_nesting(tmp_path):
    @dataclass
    class Inner(JsonResult):
        p: Path

    @dataclass
    class Outer(JsonResult):
        items: list
        inner: Inner

    out = json.loads(Outer(items=[(1, 2)], inner=Inner(tmp_path)).to_json())
    assert out == {"items": [[1, 2]], "inner": {"p": str(tmp_path)}}


def test_latency_stats_match_numpy_percentiles():
    rng = np.random.default_rng(7)
    samples = list(rng.gamma(2.0, 3.0, size=101))
    st = LatencyStats.from_samples(samples)
    for q, got in ((50, st.p50), (90, st.p90), (99, st.p99)):
        assert got == pytest.approx(float(np.percentile(samples, q)))
    assert st.min == min(samples) and st.max == max(samples)
    assert st.mean == pytest.approx(float(np.mean(samples)))
    assert percentile([], 50) != percentile([], 50)  # NaN for no samples
    with pytest.raises(ValueError):
        LatencyStats.from_samples([])


def test_lock_round_trip_keeps_other_tables(tmp_path):
    path = tmp_path / "lab.lock.toml"
    assert load_lock(path) == {}
    data = {"tool": {"version": "0.1.0"}}
    set_library_entry(data, "3.0.0-cpu", {"sha256": "ab" * 32, "size": 10})
    save_lock(path, data)
    again = load_lock(path)
    assert again["tool"] == {"version": "0.1.0"}
    assert library_entry(again, "3.0.0-cpu")["size"] == 10
    assert library_entry(again, "other") is None
    path.write_text("[broken\n")
    with pytest.raises(LabError) as err:
        load_lock(path)
    assert str(path) in str(err.value)


def test_current_library_record(tmp_path):
    s = LabSettings.from_mapping({"work_dir": "w", "lib_dir": "w/lib"}, base=tmp_path)
    assert current_library(s.lib_dir) is None
    set_current_library(s.lib_dir, tmp_path / "lib1", "row-1", "fetch")
    rec = current_library(s.lib_dir)
    assert rec["row_id"] == "row-1" and rec["path"] == str((tmp_path / "lib1").resolve())
    assert not [p for p in (tmp_path / "w" / "lib").iterdir() if p.name.endswith(".tmp")]


def test_every_task_documents_every_flag():
    from toolchain.tasks import collection

    ns = collection()
    assert ns.task_names, "no tasks found"
    for name in ns.task_names:
        t = ns[name]
        doc = (t.__doc__ or "").strip()
        assert doc, f"task {name} has no docstring"
        # What `invoke --help TASK` shows: Invoke matches help keys with _ or -.
        missing = [a.name for a in t.get_arguments() if not a.help]
        assert not missing, f"task {name}: flags without help: {missing}"


def test_invoke_list_shows_tasks():
    proc = run_invoke("--list", check=True)
    assert "Available tasks" in proc.stdout


def test_readme_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "ci:test-command" in readme and "ci:test-command" in ci
    assert "pytest" in readme.split("<!-- ci:test-command -->")[1].split("<!-- /ci")[0]
    assert "invoke quickstart" in readme.split("<!-- ci:quickstart-command -->")[1]
    subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], check=True)


# The repository stands alone: a user's clone has only itself.
_SHARED_READS = re.compile(r"""parents?\b[^\n]*/\s*["']shared["']|["']\.\./shared\b|["']/work/shared""")


def test_nothing_reads_the_shared_folder_at_run_time():
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "*.py", "*.toml", "*.yaml", "*.cfg",
                              ".ci/*"], capture_output=True, text=True, timeout=30, check=True)
    offenders = [f"{name}:{n}: {line.strip()}"
                 for name in tracked.stdout.split()
                 if (ROOT / name).is_file() and name != "tests/integration/test_foundation.py"  # this check
                 for n, line in enumerate((ROOT / name).read_text(errors="replace").splitlines(), 1)
                 if _SHARED_READS.search(line)]
    assert offenders == [], "read a copy in the repository instead:\n" + "\n".join(offenders)


def test_ci_runs_the_suite_from_a_clone_with_no_shared_beside_it(tmp_path):
    """.ci/run clones the checkout into an empty folder and runs README's command there."""
    outer = tmp_path / "workplace"
    (outer / "shared").mkdir(parents=True)
    repo = outer / "main"
    (repo / ".ci").mkdir(parents=True)
    (repo / ".ci" / "run").write_text((ROOT / ".ci" / "run").read_text())
    marker = tmp_path / "ran-in.txt"
    (repo / "README.md").write_text(
        "<!-- ci:test-command -->\n```sh\n"
        f"test ! -e ../shared && pwd > {marker} && echo 'pytest stand-in: 1 passed'\n"
        "```\n<!-- /ci:test-command -->\n")
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.invalid"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "x"]):
        subprocess.run([*git, *cmd], cwd=repo, check=True, capture_output=True, timeout=30)
    proc = subprocess.run(["bash", str(repo / ".ci" / "run")], cwd=repo, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ran_in = Path(marker.read_text().strip())
    assert ran_in.name == "paddle-trt-lab" and not (ran_in.parent / "shared").exists()
    assert outer not in ran_in.parents and not ran_in.exists()     # cleaned up afterwards
