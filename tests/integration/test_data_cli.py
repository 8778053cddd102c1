"""`invoke preprocess` / `invoke sample-data` through the real CLI, bad input included."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys

import pytest

from support import ROOT
from support.data import make_image_set, read_only_dir
from toolchain.data.binfmt import DatasetReader
from toolchain.data.reference import reference_bin


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_images")
    make_image_set(root)
    return root


def _data_dir(tmp_path, images, list_text: str):
    root = tmp_path / "data"
    root.mkdir()
    (root / "val").symlink_to(images / "val")
    (root / "val_list.txt").write_text(list_text)
    return root


def _lines(images):
    return (images / "val_list.txt").read_text().splitlines()


def _assert_clean_failure(proc, *needles, out_dir=None):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "error:" in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)
    if out_dir is not None:
        left = [p.name for p in out_dir.iterdir()]
        assert left == [], left


def test_preprocess_json_and_output(invoke_cli, images, tmp_path, lab_env):
    out = tmp_path / "out" / "val.bin"
    proc = invoke_cli("preprocess", "--data-dir", str(images), "--out", str(out), "--json",
                      "--jobs", "2", check=True)
    result = json.loads(proc.stdout)
    assert result["count"] == len(_lines(images)) and result["format"] == "bin"
    reference_bin(images, images / "val_list.txt", tmp_path / "ref.bin")
    assert out.read_bytes() == (tmp_path / "ref.bin").read_bytes()
    assert json.loads(out.with_name("val.bin.json").read_text())["sha256"] == result["sha256"]


@pytest.mark.parametrize("line,needles", [
    ("val/000_rgb.jpg", ["line 2", "1 field(s), expected 2"]),
    ("val/000_rgb.jpg 3 extra", ["line 2", "3 field(s)"]),
    ("val/000_rgb.jpg three", ["line 2", "'three' is not an integer"]),
    ("val/000_rgb.jpg 1.5", ["line 2", "not an integer"]),
])
def test_bad_label_lines(invoke_cli, images, tmp_path, line, needles):
    first = _lines(images)[0]
    root = _data_dir(tmp_path, images, f"{first}\n{line}\n")
    out = tmp_path / "out"
    out.mkdir()
    proc = invoke_cli("preprocess", "--data-dir", str(root), "--out", str(out / "v.bin"))
    _assert_clean_failure(proc, *needles, f"{root / 'val_list.txt'}:2", out_dir=out)


@pytest.mark.parametrize("text", ["", "\n  \n\n"])
def test_empty_label_list(invoke_cli, images, tmp_path, text):
    root = _data_dir(tmp_path, images, text)
    proc = invoke_cli("preprocess", "--data-dir", str(root), "--out", str(tmp_path / "v.bin"))
    _assert_clean_failure(proc, "is empty", str(root / "val_list.txt"))
    assert not (tmp_path / "v.bin").exists()


def test_label_list_not_found(invoke_cli, images, tmp_path):
    proc = invoke_cli("preprocess", "--data-dir", str(images), "--label-list", "nope.txt",
                      "--out", str(tmp_path / "v.bin"))
    _assert_clean_failure(proc, "label list not found", "nope.txt")


def test_missing_images_listed_then_skipped(invoke_cli, images, tmp_path):
    lines = _lines(images)
    text = "\n".join([lines[0], "val/missing_a.jpg 1", lines[1], "val/missing_b.jpg 2",
                      lines[2]]) + "\n"
    root = _data_dir(tmp_path, images, text)
    out = tmp_path / "out"
    out.mkdir()
    proc = invoke_cli("preprocess", "--data-dir", str(root), "--out", str(out / "v.bin"))
    _assert_clean_failure(proc, "2 of 5 images", "line 2: val/missing_a.jpg",
                          "line 4: val/missing_b.jpg", "--skip-missing", out_dir=out)
    proc = invoke_cli("preprocess", "--data-dir", str(root), "--out", str(out / "v.bin"),
                      "--skip-missing", "--json", check=True)
    result = json.loads(proc.stdout)
    assert result["count"] == 3
    assert [m["line"] for m in result["skipped_missing"]] == [2, 4]
    with DatasetReader(out / "v.bin") as r:
        assert r.count == 3
        assert list(r.labels) == [int(line.split()[1]) for line in lines[:3]]


def test_corrupt_image_error_then_skip_bad(invoke_cli, images, tmp_path):
    lines = _lines(images)
    root = _data_dir(tmp_path, images, "\n".join([lines[0], "junk.jpg 4", lines[1]]) + "\n")
    (root / "junk.jpg").write_bytes(b"this is not an image")
    out = tmp_path / "out"
    out.mkdir()
    proc = invoke_cli("preprocess", "--data-dir", str(root), "--out", str(out / "v.bin"))
    _assert_clean_failure(proc, "line 2", str(root / "junk.jpg"), "--skip-bad", out_dir=out)
    proc = invoke_cli("preprocess", "--data-dir", str(root), "--out", str(out / "v.bin"),
                      "--skip-bad", "--json", check=True)
    assert json.loads(proc.stdout)["count"] == 2


def test_unreadable_image_is_reported(invoke_cli, images, tmp_path):
    lines = _lines(images)
    root = _data_dir(tmp_path, images, "\n".join([lines[0], "adir.jpg 4"]) + "\n")
    (root / "adir.jpg").mkdir()          # exists, cannot be read as an image (even by root)
    proc = invoke_cli("preprocess", "--data-dir", str(root), "--out", str(tmp_path / "v.bin"))
    _assert_clean_failure(proc, "line 2", "adir.jpg")
    assert not (tmp_path / "v.bin").exists()


def test_output_in_read_only_dir(invoke_cli, images, tmp_path):
    with read_only_dir(tmp_path / "ro") as ro:
        proc = invoke_cli("preprocess", "--data-dir", str(images), "--out",
                          str(ro / "v.bin"))
        _assert_clean_failure(proc, "cannot write the output", "writable")
        assert not list(ro.glob("*v.bin*"))


def test_output_below_a_file(invoke_cli, images, tmp_path):
    (tmp_path / "plain").write_text("x")
    proc = invoke_cli("preprocess", "--data-dir", str(images), "--out",
                      str(tmp_path / "plain" / "v.bin"))
    _assert_clean_failure(proc, "cannot create the output directory")


def test_convert_round_trip_cli(invoke_cli, images, tmp_path):
    src = tmp_path / "val.bin"
    invoke_cli("preprocess", "--data-dir", str(images), "--out", str(src), "--limit", "4",
               check=True)
    invoke_cli("preprocess", "--convert", str(src), "--to", "slim-dir", "--out",
               str(tmp_path / "slim"), check=True)
    assert sorted(p.name for p in (tmp_path / "slim").iterdir()) == [
        "0.data", "1.data", "2.data", "3.data"]
    proc = invoke_cli("preprocess", "--convert", str(tmp_path / "slim"), "--to", "bin",
                      "--out", str(tmp_path / "back.bin"), "--json", check=True)
    assert json.loads(proc.stdout)["source_sidecar_verified"] is True
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    # a tampered source is refused
    data = bytearray(src.read_bytes())
    data[100] ^= 1
    src.write_bytes(bytes(data))
    proc = invoke_cli("preprocess", "--convert", str(src), "--to", "slim-dir", "--out",
                      str(tmp_path / "slim2"))
    _assert_clean_failure(proc, "does not match its sidecar")
    assert not (tmp_path / "slim2").exists()
    proc = invoke_cli("preprocess", "--convert", str(src), "--out", str(tmp_path / "x"))
    _assert_clean_failure(proc, "--convert needs --to")


def test_sample_data_then_preprocess_defaults(invoke_cli, lab_env, tmp_path):
    proc = invoke_cli("sample-data", "-n", "20", "--json", check=True)
    sample = json.loads(proc.stdout)
    assert sample["count"] == 20 and sample["source_package"] == "scikit-learn"
    proc = invoke_cli("preprocess", "--json", check=True)   # defaults: sample dir -> val.bin
    result = json.loads(proc.stdout)
    assert result["count"] == sample["val_count"]
    work = tmp_path / "work"
    assert result["output"] == str(work / "data" / "val.bin")
    proc = invoke_cli("preprocess", "--label-list", "train_list.txt", "--format", "slim-dir",
                      "--out", str(work / "data" / "train"), "--json", check=True)
    assert json.loads(proc.stdout)["count"] == sample["train_count"]
    proc = invoke_cli("sample-data", "--out", str(tmp_path / "elsewhere"), "-n", "99999")
    _assert_clean_failure(proc, "-n must be an integer from 10 to 1740, got 99999")
    assert not (tmp_path / "elsewhere").exists()
    shutil.rmtree(work / "data" / "sample")


def test_dry_run_prints_the_plan_and_writes_nothing(invoke_cli, images, tmp_path):
    lines = _lines(images)
    root = _data_dir(tmp_path, images, "\n".join([lines[0], "val/gone.jpg 1", lines[1]]) + "\n")
    out = tmp_path / "out" / "v"
    proc = invoke_cli("preprocess", "--data-dir", str(root), "--out", str(out), "--format",
                      "slim-dir", "--skip-missing", "--jobs", "2", "--dry-run", "--json",
                      check=True)
    plan = json.loads(proc.stdout)
    assert (plan["format"], plan["listed"], len(plan["entries"])) == ("slim-dir", 3, 2)
    assert [m["rel_path"] for m in plan["missing"]] == ["val/gone.jpg"]
    assert plan["need_bytes"] == 2 * 602116 and plan["jobs"] == 2
    proc = invoke_cli("preprocess", "--data-dir", str(root), "--out", str(out),
                      "--skip-missing", "--jobs", "1", "--dry-run", check=True)
    script = proc.stdout
    assert script.startswith("#!/usr/bin/env bash\n") and "nothing was written" in script
    assert "# missing:    line 2: val/gone.jpg" in script
    assert f"{8 + 2 * 602120:,} bytes" in script                  # the bin size of 2 images
    command = script.splitlines()[-1]
    assert shlex.split(command) == ["invoke", "preprocess", "--data-dir", str(root),
                                    "--label-list", str(root / "val_list.txt"),
                                    "--out", str(out), "--format", "bin", "--jobs", "1",
                                    "--skip-missing"]
    assert not (tmp_path / "out").exists()
    # the printed script runs the plan it describes
    here = shlex.join([sys.executable, "-m", "invoke", "--search-root", str(ROOT)])
    runnable = script[:-len(command) - 1] + here + command[len("invoke"):] + " --json\n"
    proc = subprocess.run(["bash", "-c", runnable], cwd=str(ROOT), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["count"] == 2 and DatasetReader(out).count == 2
    shutil.rmtree(tmp_path / "out")
    assert not (tmp_path / "out").exists()
    proc = invoke_cli("preprocess", "--data-dir", str(root), "--out", str(out), "--dry-run")
    _assert_clean_failure(proc, "1 of 3 images", "--skip-missing")
