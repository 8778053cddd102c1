"""`invoke preprocess` never destroys its input, never leaves workers or partial files
behind when its parent is killed, and finds `invoke sample-data`'s folder by default.

All real: images written with Pillow, the real CLI (tests/conftest.py run_invoke), real
worker processes killed with SIGKILL and looked for in /proc.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import ROOT
from support.data import photo
from toolchain.data.sample import SAMPLE_SUBDIR, sample_dir

DESTROY = "preprocess would destroy its input"


def _tree_digest(root: Path) -> dict[str, str]:
    """relative path -> sha256 (files) or '->target' (symlinks) of everything under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "->" + os.readlink(p)
            elif p.is_file():
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[rel] = "dir"
    return out


def _partials(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if ".partial" in p.name)


@pytest.fixture
def lab_data(tmp_path):
    """tmp_path/data: val/0..2.jpg, ext/3.jpg (ext a symlink to tmp_path/ext), val_list.txt."""
    data = tmp_path / "data"
    (data / "val").mkdir(parents=True)
    (tmp_path / "ext").mkdir()
    (data / "ext").symlink_to(tmp_path / "ext")
    lines = []
    for i in range(4):
        rel = f"val/{i}.jpg" if i < 3 else f"ext/{i}.jpg"
        photo(300, 260, seed=i).save(data / rel, quality=90)
        lines.append(f"{rel} {i}\n")
    (data / "val_list.txt").write_text("".join(lines))
    return data


def _preprocess(invoke_cli, data: Path, output: Path | str, *extra: str):
    return invoke_cli("preprocess", "--data-dir", str(data), "--out", str(output),
                      "--jobs", "1", "--no-progress", *extra, timeout=120)


def _assert_refused(proc, *needles):
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("error:") == 1, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)
    assert "fix:" in proc.stderr


def _outputs_over_inputs(tmp_path: Path, data: Path) -> list[tuple[str, Path, list, str]]:
    """(case, --out, extra flags, expected words) for every output that is an input."""
    image = data / "val" / "1.jpg"
    (tmp_path / "link.jpg").symlink_to(image)
    os.link(image, tmp_path / "hard.jpg")
    return [
        ("label list", data / "val_list.txt", [], "is the label list"),
        ("listed image", image, [], "listed image"),
        ("image via symlink", tmp_path / "link.jpg", [], "listed image"),
        ("image via ..", data / "val" / ".." / "val" / "1.jpg", [], "listed image"),
        ("image via a hard link", tmp_path / "hard.jpg", [], "(the same file)"),
        ("data dir", data, ["--format", "slim-dir"], "is the --data-dir"),
        ("data dir via ..", data / "val" / "..", ["--format", "slim-dir"], "is the --data-dir"),
        ("folder holding the data dir", tmp_path, ["--format", "slim-dir"],
         "is a folder holding the --data-dir"),
        ("folder holding the data dir, bin", tmp_path, [], "is a folder holding the --data-dir"),
        ("folder holding a listed image behind a symlink", tmp_path / "ext",
         ["--format", "slim-dir"], "listed image"),
    ]


def test_output_over_an_input_is_refused_and_the_input_untouched(lab_data, tmp_path,
                                                                  invoke_cli, lab_env):
    cases = _outputs_over_inputs(tmp_path, lab_data)
    before = _tree_digest(tmp_path)
    for case, output, extra, words in cases:
        proc = _preprocess(invoke_cli, lab_data, output, *extra)
        _assert_refused(proc, DESTROY, words)
        assert _tree_digest(tmp_path) == before, case       # every byte, every name
        assert _partials(tmp_path) == [], case


def test_label_list_outside_the_data_dir_is_refused_as_output(lab_data, tmp_path, invoke_cli,
                                                              lab_env):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "mine.txt").write_text((lab_data / "val_list.txt").read_text())
    before = _tree_digest(tmp_path)
    for output, words in ((lists / "mine.txt", "is the label list"),
                          (lists, "is a folder holding the label list")):
        proc = invoke_cli("preprocess", "--data-dir", str(lab_data), "--label-list",
                          str(lists / "mine.txt"), "--out", str(output), "--format",
                          "slim-dir", "--jobs", "1", timeout=120)
        _assert_refused(proc, DESTROY, words)
        assert _tree_digest(tmp_path) == before
        assert _partials(tmp_path) == []


def test_output_inside_the_data_dir_needs_allow_inside(lab_data, tmp_path, invoke_cli,
                                                       lab_env):
    before = _tree_digest(lab_data)
    out = lab_data / "out" / "val.bin"
    proc = _preprocess(invoke_cli, lab_data, out)
    _assert_refused(proc, "is inside the image folder --data-dir", "--allow-inside")
    assert _tree_digest(lab_data) == before and not (lab_data / "out").exists()
    proc = _preprocess(invoke_cli, lab_data, out, "--allow-inside", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["count"] == 4
    after = _tree_digest(lab_data)
    new = set(after) - set(before)
    assert new == {"out", "out/val.bin", "out/val.bin.json"}
    assert {k: after[k] for k in before} == before           # the inputs are as they were
    # even with --allow-inside, an input itself is still refused
    proc = _preprocess(invoke_cli, lab_data, lab_data / "val_list.txt", "--allow-inside")
    _assert_refused(proc, "is the label list")
    assert _tree_digest(lab_data) == after


# --- kill -9 of the parent -----------------------------------------------------------

def _children(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is pid, from /proc/*/stat."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()     # after "pid (comm) "
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(entry))
    return kids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def _wait_for(check, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    return check()


@pytest.fixture
def slow_dataset(tmp_path):
    """One large JPEG listed 120 times: a few seconds of work for 2 workers."""
    data = tmp_path / "big"
    data.mkdir()
    photo(2000, 1500, seed=7).save(data / "big.jpg", quality=90)
    (data / "val_list.txt").write_text("".join(f"big.jpg {i % 10}\n" for i in range(120)))
    return data


def test_kill_9_of_the_parent_leaves_no_worker_and_no_partial(slow_dataset, tmp_path,
                                                              lab_env):
    out = tmp_path / "out" / "val.bin"
    cmd = [sys.executable, "-m", "invoke", "--search-root", str(ROOT), "preprocess",
           "--data-dir", str(slow_dataset), "--out", str(out), "--jobs", "2",
           "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=str(ROOT), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    workers: list[int] = []
    try:
        partial = out.parent / f".{out.name}.partial-{proc.pid}"
        workers = _wait_for(lambda: len(_children(proc.pid)) >= 2 and partial.exists()
                            and _children(proc.pid), timeout=60) or []
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert len(workers) >= 2, "the pool's workers never started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        gone = _wait_for(lambda: not any(_alive(w) for w in workers), timeout=5)
        assert gone, f"workers still alive 5 s after the parent was killed: " \
                     f"{[w for w in workers if _alive(w)]}"
        assert partial.exists()            # what a killed run leaves; the next run cleans it
    finally:
        for pid in [proc.pid, *workers]:   # never leave a process of ours running
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if proc.poll() is None:
            proc.wait(timeout=10)
    # the next run (a few images) removes the dead run's partial and leaves none of its own
    proc2 = subprocess.run(cmd[:-3] + ["--limit", "4", "--jobs", "2", "--no-progress"],
                           cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert proc2.returncode == 0, proc2.stderr
    assert _partials(out.parent) == []
    assert sorted(p.name for p in out.parent.iterdir()) == ["val.bin", "val.bin.json"]


def test_die_with_parent_is_armed_in_workers():
    """The mechanism itself: PR_SET_PDEATHSIG set in a forked child (read back with
    PR_GET_PDEATHSIG), and a child whose parent is already gone exits at once."""
    import ctypes

    from toolchain.data.preprocess import die_with_parent

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                          # child
        try:
            how = die_with_parent(os.getppid())
            sig = ctypes.c_int(0)
            ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0)   # PR_GET_PDEATHSIG
            os.write(w, f"{how} {sig.value}".encode())
        finally:
            os._exit(0)
    os.close(w)
    got = os.read(r, 100).decode()
    os.close(r)
    os.waitpid(pid, 0)
    assert got == f"pdeathsig {int(signal.SIGKILL)}"
    pid = os.fork()
    if pid == 0:
        die_with_parent(os.getpid() + 10 ** 6)            # "my parent has already died"
        os._exit(0)                                       # not reached
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 1


# --- one sample folder ---------------------------------------------------------------

def test_sample_dir_is_the_one_folder_for_quickstart_sample_data_and_preprocess(
        tmp_path, invoke_cli, lab_env):
    from toolchain.quickstart import Pipeline, QuickstartRequest, _sample_data
    from toolchain.settings import LabSettings

    work = Path(lab_env["INVOKE_LAB_WORK_DIR"])
    assert sample_dir(work) == work.joinpath(*SAMPLE_SUBDIR) == work / "data" / "sample"
    # quickstart's sample-data step (the real step, with 10 images)
    settings = LabSettings.from_mapping({"work_dir": str(work / "qs"),
                                         "lib_dir": str(work / "qs" / "lib")})
    said: list[str] = []
    stamp = _sample_data(Pipeline(settings, said.append),
                         QuickstartRequest(models=[], samples=10))
    assert Path(stamp["outputs"]["images"]) == sample_dir(settings.work_dir)
    assert (sample_dir(settings.work_dir) / "val_list.txt").is_file()
    # sample-data's default, then preprocess with no argument at all
    proc = invoke_cli("sample-data", "-n", "10", "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    sample = json.loads(proc.stdout)
    assert Path(sample["out_dir"]) == sample_dir(work)
    proc = invoke_cli("preprocess", "--json", "--no-progress", timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert Path(result["data_dir"]) == sample_dir(work)
    assert Path(result["output"]) == work / "data" / "val.bin"
    assert result["count"] == sample["val_count"]
