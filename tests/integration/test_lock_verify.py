"""`invoke lock` and `invoke verify` through the real CLI, on a lab built on disk."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from support import run_invoke
from support.lab import build_lab, lab_env, lab_settings
from toolchain.lock.file import load_lock, save_lock, set_library_entry
from toolchain.state import save_demo_build, demo_build, set_current_library

ROW = "3.0.0-gpu-cuda12.6-trt10.5"
FETCHED = {"url": f"https://paddle-inference-lib.bj.bcebos.com/{ROW}.tgz",
           "sha256": "ab" * 32, "size": 123456789, "recorded": "2026-11-26T10:00:00+00:00"}


@pytest.fixture
def lab(tmp_path):
    env = lab_env(tmp_path)
    settings = lab_settings(env)
    paths = build_lab(settings, ROW)
    # fetch-lib's trust-on-first-use checksum, as fetch-lib records it
    data: dict = {}
    set_library_entry(data, ROW, FETCHED)
    set_library_entry(data, "2.6.2-cpu-avx-mkl", {"url": "https://x/cpu.tgz",
                                                  "sha256": "cd" * 32, "size": 42})
    save_lock(settings.lock_file, data)
    return env, settings, paths


def _verify(env, *args):
    proc = run_invoke("verify", "--json", *args, env=env, timeout=120)
    return proc, json.loads(proc.stdout) if proc.stdout.strip() else None


def _items(report):
    return {item["key"]: item for item in report["items"]}


def test_lock_records_the_lab_and_keeps_fetch_lib_checksums(lab):
    env, settings, paths = lab
    proc = run_invoke("lock", env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = load_lock(settings.lock_file)
    # fetch-lib's entries survive untouched
    assert data["libraries"][ROW] == FETCHED
    assert data["libraries"]["2.6.2-cpu-avx-mkl"]["size"] == 42
    lib = data["library"]
    assert lib["row_id"] == ROW and lib["source"] == "fetch"
    assert lib["url"] == FETCHED["url"]
    assert lib["archive_sha256"] == FETCHED["sha256"] and lib["archive_size"] == FETCHED["size"]
    assert lib["main_lib_sha256"] == hashlib.sha256(paths["main_lib"].read_bytes()).hexdigest()
    assert lib["main_lib"] == "paddle/lib/libpaddle_inference.so"
    assert lib["version_txt"]["tensorrt_version"] == "10.5.0.18"
    assert lib["version_txt"]["cuda_version"] == "12.6"
    assert lib["location"] == f"$LIB_DIR/{ROW}/paddle_inference"
    demo = data["demo"]
    assert demo["cmake_args"][0] == f"-DPADDLE_LIB=$LIB_DIR/{ROW}/paddle_inference"
    assert demo["binaries"]["trt_clas"]["sha256"] == hashlib.sha256(
        open(paths["binaries"]["trt_clas"], "rb").read()).hexdigest()
    models = data["models"]
    assert set(models) == {"mobilenet_v3_small/fp32/inference.pdmodel",
                           "mobilenet_v3_small/fp32/inference.pdiparams"}  # no _opt_cache
    assert data["data"]["val.bin"]["sha256"] == hashlib.sha256(
        paths["dataset"].read_bytes()).hexdigest()
    assert data["data"]["val.bin"]["size"] == paths["dataset"].stat().st_size
    assert data["python"]["packages"]["invoke"]
    assert data["tool"]["version"]
    # every compared item was either collected or has a reason in [missing]
    assert all(isinstance(v, str) and v for v in data.get("missing", {}).values())
    assert "rich" in data["python"]["packages"]


def test_lock_then_verify_on_the_same_machine_is_all_ok(lab):
    env, settings, _ = lab
    assert run_invoke("lock", env=env, timeout=120).returncode == 0
    proc, report = _verify(env)
    assert proc.returncode == 0, proc.stderr
    assert report["ok"] is True and report["failing"] == []
    assert {i["status"] for i in report["items"]} == {"ok"}
    keys = _items(report)
    assert "library.main_lib_sha256" in keys and 'data["val.bin"].sha256' in keys
    # the human view: only the differences (none) and a count of the matches
    table = run_invoke("verify", env={**env, "COLUMNS": "200"}, timeout=120)
    assert table.returncode == 0 and "matches the lock" in table.stdout
    assert f"{len(report['items'])} items match the lock" in table.stdout
    assert "library.main_lib_sha256" not in table.stdout
    assert len(table.stdout.splitlines()) <= 4
    every = run_invoke("verify", "--all", env={**env, "COLUMNS": "200"}, timeout=120)
    assert every.returncode == 0 and "library.main_lib_sha256" in every.stdout
    assert "items match the lock" not in every.stdout
    assert len(every.stdout.splitlines()) > len(report["items"])


def test_verify_reports_a_changed_library_and_dataset(lab):
    env, settings, paths = lab
    assert run_invoke("lock", env=env, timeout=120).returncode == 0
    locked = load_lock(settings.lock_file)
    paths["main_lib"].write_bytes(b"\x7fELF another build of the library " * 4096)
    with open(paths["dataset"], "r+b") as fh:  # same size, one byte different
        fh.seek(1000)
        fh.write(b"\xff")
    proc, report = _verify(env)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "error:" in proc.stderr and "differs from the lock" in proc.stderr
    items = _items(report)
    lib = items["library.main_lib_sha256"]
    assert lib["status"] == "different" and lib["matters"]
    assert lib["expected"] == locked["library"]["main_lib_sha256"]
    assert lib["found"] == hashlib.sha256(paths["main_lib"].read_bytes()).hexdigest()
    assert items["library.main_lib_size"]["status"] == "different"
    ds = items['data["val.bin"].sha256']
    assert ds["status"] == "different" and ds["expected"] == locked["data"]["val.bin"]["sha256"]
    assert items['data["val.bin"].size']["status"] == "ok"
    assert set(report["failing"]) == {"library.main_lib_sha256", "library.main_lib_size",
                                      "library.tree_listing_sha256", 'data["val.bin"].sha256'}
    # the table names both
    table = run_invoke("verify", env={**env, "COLUMNS": "200"}, timeout=120)
    assert table.returncode != 0
    assert "library.main_lib_sha256" in table.stdout and "different" in table.stdout
    # only the differences are listed; the matches are counted
    ok = sum(1 for i in report["items"] if i["status"] == "ok")
    assert f"{ok} items match the lock (not listed; --all lists them)" in table.stdout
    assert 'data["val.bin"].size' not in table.stdout and "library.file_count" not in table.stdout


def test_missing_and_new_items(lab):
    env, settings, paths = lab
    assert run_invoke("lock", env=env, timeout=120).returncode == 0
    # a binary gone, a dataset added, a library file added (listing changes)
    (paths["main_lib"].parent / "libextra.so").write_bytes(b"x")
    import os
    os.remove(paths["binaries"]["test_acc"])
    (settings.work_dir / "data" / "calib.bin").write_bytes(b"calibration")
    proc, report = _verify(env)
    assert proc.returncode != 0
    items = _items(report)
    gone = items["demo.binaries.test_acc.sha256"]
    assert gone["status"] == "missing" and gone["found"] is None
    assert "does not exist" in gone["note"]
    assert gone["matters"] is False  # demo.binaries.* only warns by default
    new = items['data["calib.bin"].sha256']
    assert new["status"] == "different" and new["expected"] is None
    assert new["note"] == "not in the lock"
    assert items["library.tree_listing_sha256"]["status"] == "different"
    assert items["library.file_count"]["status"] == "different"
    assert items["library.main_lib_sha256"]["status"] == "ok"


def test_warn_patterns_and_strict(lab, tmp_path):
    env, settings, paths = lab
    assert run_invoke("lock", env=env, timeout=120).returncode == 0
    paths["dataset"].write_bytes(b"a different dataset")
    cfg = tmp_path / "runtime.yaml"
    cfg.write_text('lab:\n  verify:\n    warn: ["data*"]\n')
    proc = run_invoke("-f", str(cfg), "verify", "--json", env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] and report["failing"] == []
    assert set(report["warnings"]) == {'data["val.bin"].sha256', 'data["val.bin"].size'}
    strict = run_invoke("-f", str(cfg), "verify", "--json", "--strict", env=env, timeout=120)
    assert strict.returncode != 0
    assert set(json.loads(strict.stdout)["failing"]) == set(report["warnings"])
    # ignored items are not compared at all
    cfg.write_text('lab:\n  verify:\n    ignore: ["data*"]\n')
    ignored = run_invoke("-f", str(cfg), "verify", "--json", env=env, timeout=120)
    assert ignored.returncode == 0
    assert not any(i["key"].startswith("data") for i in json.loads(ignored.stdout)["items"])


def test_a_second_checkout_of_the_same_lab_verifies(lab, tmp_path):
    """Lock in one work dir, verify in a copy elsewhere: paths are stored portably."""
    env, settings, _ = lab
    assert run_invoke("lock", env=env, timeout=120).returncode == 0
    other = tmp_path / "second"
    shutil.copytree(settings.work_dir, other / "work", symlinks=True)
    env2 = lab_env(other)
    env2["INVOKE_LAB_LOCK_FILE"] = env["INVOKE_LAB_LOCK_FILE"]
    s2 = lab_settings(env2)
    lib2 = s2.lib_dir / ROW / "paddle_inference"
    set_current_library(s2.lib_dir, lib2, ROW, "fetch")
    record = demo_build(s2.work_dir)
    record["lib"] = str(lib2.resolve())
    record["binaries"] = {k: v.replace(str(settings.work_dir), str(s2.work_dir))
                          for k, v in record["binaries"].items()}
    record["cmake_args"] = [a.replace(str(settings.work_dir.resolve()), str(s2.work_dir))
                            for a in record["cmake_args"]]
    save_demo_build(s2.work_dir, record)
    proc, report = _verify(env2)
    assert proc.returncode == 0, [i for i in report["items"] if i["status"] != "ok"]
    # and drift in the second checkout is caught
    (s2.work_dir / "models" / "mobilenet_v3_small" / "fp32" / "inference.pdiparams").write_bytes(
        b"retrained")
    proc, report = _verify(env2)
    assert proc.returncode != 0
    assert 'models["mobilenet_v3_small/fp32/inference.pdiparams"].sha256' in report["failing"]


def test_lock_out_keeps_the_lab_lock_libraries(lab, tmp_path):
    env, settings, _ = lab
    out = tmp_path / "elsewhere" / "pinned.toml"
    proc = run_invoke("lock", "--out", str(out), "--json", env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["kept_libraries"] == ["2.6.2-cpu-avx-mkl", ROW]
    assert load_lock(out)["libraries"][ROW] == FETCHED
    proc, report = _verify(env, "--lock", str(out))
    assert proc.returncode == 0 and report["lock_file"] == str(out)


def test_an_empty_lab_locks_with_reasons(tmp_path):
    env = lab_env(tmp_path)
    proc = run_invoke("lock", "--json", env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    missing = json.loads(proc.stdout)["missing"]
    assert "run `invoke fetch-lib`" in missing["library"]
    assert "build-demo" in missing["demo"]
    assert "no files under" in missing["models"] and "no files under" in missing["data"]
    proc, report = _verify(env)
    assert proc.returncode == 0, proc.stderr


def test_verify_without_a_lock_or_with_a_broken_one(tmp_path):
    env = lab_env(tmp_path)
    proc = run_invoke("verify", env=env, timeout=60)
    assert proc.returncode == 1
    assert "no lock file" in proc.stderr and "invoke lock" in proc.stderr
    assert "Traceback" not in proc.stderr
    lock = tmp_path / "lab.lock.toml"
    lock.write_text("[library\nrow_id = 1\n")
    proc = run_invoke("verify", env=env, timeout=60)
    assert proc.returncode == 1 and "not valid TOML" in proc.stderr
    assert "Traceback" not in proc.stderr
    lock.write_text('[libraries."x"]\nurl = "u"\n')  # only fetch-lib's table
    proc = run_invoke("verify", env=env, timeout=60)
    assert proc.returncode == 1 and "run `invoke lock` first" in proc.stderr


def test_a_rebuilt_demo_binary_warns_and_strict_fails(lab):
    env, settings, paths = lab
    assert run_invoke("lock", env=env, timeout=120).returncode == 0
    with open(paths["binaries"]["trt_clas"], "ab") as fh:
        fh.write(b"another build id")
    proc, report = _verify(env)
    assert proc.returncode == 0, proc.stderr
    assert set(report["warnings"]) == {"demo.binaries.trt_clas.sha256",
                                       "demo.binaries.trt_clas.size"}
    table = run_invoke("verify", env={**env, "COLUMNS": "200"}, timeout=120)
    assert "different (warn)" in table.stdout and "2 warnings" in table.stdout
    proc, report = _verify(env, "--strict")
    assert proc.returncode == 1 and "demo.binaries.trt_clas.sha256" in report["failing"]
    # the build flags do matter
    record = demo_build(settings.work_dir)
    record["cmake_args"].append("-DWITH_STATIC_LIB=ON")
    save_demo_build(settings.work_dir, record)
    proc, report = _verify(env)
    assert proc.returncode == 1 and "demo.cmake_args" in report["failing"]


def test_fetch_lib_locked_takes_the_row_the_lock_pins(tmp_path):
    """The lock's [library] row_id and the kept [libraries] checksum are what
    `invoke fetch-lib --locked` uses (a dry run, no network)."""
    from toolchain.library.manifest import load_manifest

    row = next(r for r in load_manifest() if r.id.startswith("3.0.0-linux-gpu"))
    env = lab_env(tmp_path)
    settings = lab_settings(env)
    build_lab(settings, row.id)
    data: dict = {}
    set_library_entry(data, row.id, {"url": row.url, "sha256": "ef" * 32, "size": 1234})
    save_lock(settings.lock_file, data)
    assert run_invoke("lock", env=env, timeout=120).returncode == 0
    lock = load_lock(settings.lock_file)
    assert lock["library"]["row_id"] == row.id
    assert lock["library"]["archive_sha256"] == "ef" * 32
    plan = run_invoke("fetch-lib", "--locked", "--dry-run", env=env, timeout=120)
    assert plan.returncode == 0, plan.stderr
    assert f"pinned by the lock file: {row.id}" in plan.stdout
    assert "ef" * 32 in plan.stdout and row.url in plan.stdout
