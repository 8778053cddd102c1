"""`invoke fetch-lib` for real: CLI subprocess -> local HTTP mirror -> installed library.

The archives are stand-ins with the real layouts (tests/support/fetch.py): the
Paddle SDK itself cannot be downloaded here.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, run_invoke
from support.fetch import MALICIOUS_KINDS, build_library_archive, malicious_member, mirror_path, version_txt_for
from support.fetch_server import FetchServer
from toolchain.errors import LabError
from toolchain.fetch.extract import install_archive, safe_extract
from toolchain.lock.file import load_lock, save_lock
from toolchain.library.manifest import find_recipe

ROW_102 = "2.5.2-linux-gpu-cuda10.2-cudnn8.1.1-trt7.2.3.4-gcc8.2-mkl-avx"
ROW_1X = "1.6.3-linux-cpu-mkl-avx"


def publish(srv: FetchServer, row_id: str, **kw) -> tuple[Path, str]:
    row = find_recipe(row_id)
    path = build_library_archive(srv.root / mirror_path(row).lstrip("/"), row, **kw)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(env, *args, check=False):
    return run_invoke("fetch-lib", *args, env=env, timeout=120, check=check)


def lib_dir(env) -> Path:
    return Path(env["INVOKE_LAB_LIB_DIR"])


def leftovers(env) -> list[str]:
    d = lib_dir(env)
    return sorted(p.name for p in d.iterdir() if p.name.startswith(".")) if d.exists() else []


def test_fetch_cuda_10_2_from_mirror_then_cache(lab_env, mirror):
    archive, sha = publish(mirror, ROW_102)
    proc = fetch(lab_env, "--cuda", "10.2", "--mirror", mirror.url, check=True)
    assert ROW_102 in proc.stdout and "recorded in the lock file" in proc.stdout
    installed = lib_dir(lab_env) / ROW_102
    assert (installed / "paddle" / "lib" / "libpaddle_inference.so").is_file()
    current = json.loads((lib_dir(lab_env) / "current.json").read_text())
    assert current["row_id"] == ROW_102 and current["path"] == str(installed.resolve())
    assert current["sha256"] == sha and current["source"] == "fetch"
    entry = load_lock(Path(lab_env["INVOKE_LAB_LOCK_FILE"]))["libraries"][ROW_102]
    assert entry["sha256"] == sha and entry["size"] == archive.stat().st_size
    assert entry["url"].startswith("https://paddle-inference-lib.bj.bcebos.com/")
    assert len(mirror.gets(mirror_path(find_recipe(ROW_102)))) == 1
    assert leftovers(lab_env) == []

    # again: already installed, no request
    again = fetch(lab_env, "--cuda", "10.2", "--mirror", mirror.url, "--json", check=True)
    out = json.loads(again.stdout)
    assert out["status"] == "already-installed" and out["cache_hit"] is True
    # another lib dir: from the cache, still no request, even with the mirror down
    mirror.stop()
    other = fetch(lab_env, "--cuda", "10.2", "--mirror", mirror.url, "--json",
                  "--lib-dir", str(lab_env["INVOKE_LAB_WORK_DIR"] + "/lib2"), check=True)
    out = json.loads(other.stdout)
    assert out["status"] == "installed" and out["cache_hit"] and out["checksum_source"] == "lock"
    assert len(mirror.gets(mirror_path(find_recipe(ROW_102)))) == 1


def test_fetch_1x_fluid_layout(lab_env, mirror):
    publish(mirror, ROW_1X)
    proc = fetch(lab_env, "--paddle", "1.6.3", "--cpu", "--mirror", mirror.url, "--json",
                 check=True)
    out = json.loads(proc.stdout)
    assert out["row_id"] == ROW_1X and out["row"]["lib_family"] == "fluid_inference"
    assert (lib_dir(lab_env) / ROW_1X / "paddle" / "lib" / "libpaddle_fluid.so").is_file()
    assert out["version_txt"]["with_gpu"] is False


def test_resume_partial_download_through_cli(lab_env, mirror):
    archive, sha = publish(mirror, ROW_102, padding=400_000)
    part = (Path(lab_env["INVOKE_LAB_CACHE_DIR"]) / "partial" / ROW_102 /
            "paddle_inference.tgz.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(archive.read_bytes()[:100_000])
    out = json.loads(fetch(lab_env, "--cuda", "10.2", "--mirror", mirror.url, "--json",
                           check=True).stdout)
    assert out["resumed_from"] == 100_000
    assert out["bytes_downloaded"] == archive.stat().st_size - 100_000
    assert mirror.gets(mirror_path(find_recipe(ROW_102)))[0][2] == "bytes=100000-"
    assert out["sha256"] == sha and not part.exists()


def test_checksum_mismatch_deletes_download_and_names_digests(lab_env, mirror):
    archive, sha = publish(mirror, ROW_102)
    wrong = "0" * 64
    save_lock(Path(lab_env["INVOKE_LAB_LOCK_FILE"]),
              {"libraries": {ROW_102: {"sha256": wrong, "size": archive.stat().st_size}}})
    proc = fetch(lab_env, "--cuda", "10.2", "--mirror", mirror.url)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert wrong in proc.stderr and sha in proc.stderr and "deleted" in proc.stderr
    cache = Path(lab_env["INVOKE_LAB_CACHE_DIR"])
    assert not list(cache.rglob("*.part")) and not (cache / "sha256").exists()
    assert not (lib_dir(lab_env) / ROW_102).exists()


def test_locked(lab_env, mirror):
    publish(mirror, ROW_102)
    proc = fetch(lab_env, "--cuda", "10.2", "--mirror", mirror.url, "--locked")
    assert proc.returncode != 0 and "no checksum" in proc.stderr
    assert mirror.requests == []
    fetch(lab_env, "--cuda", "10.2", "--mirror", mirror.url, check=True)
    # the lock pins the row ([library] row_id, as `invoke lock` writes it): no flags needed
    lock_path = Path(lab_env["INVOKE_LAB_LOCK_FILE"])
    lock = load_lock(lock_path)
    lock["library"] = {"row_id": ROW_102}
    save_lock(lock_path, lock)
    out = json.loads(fetch(lab_env, "--locked", "--mirror", mirror.url, "--json", "--lib-dir",
                           lab_env["INVOKE_LAB_WORK_DIR"] + "/lib3", check=True).stdout)
    assert out["row_id"] == ROW_102 and out["checksum_source"] == "lock"
    bad = fetch(lab_env, "--locked", "--cpu")
    assert bad.returncode != 0 and "pins" in bad.stderr


def test_version_txt_disagreeing_with_row_is_refused(lab_env, mirror):
    row = find_recipe(ROW_102)
    publish(mirror, ROW_102, version_txt=version_txt_for(row, cuda="11.2", trt="8.0.3.4"))
    proc = fetch(lab_env, "--cuda", "10.2", "--mirror", mirror.url)
    assert proc.returncode != 0 and "disagrees" in proc.stderr
    assert "CUDA: expected 10.2, version.txt says 11.2" in proc.stderr
    assert not (lib_dir(lab_env) / ROW_102).exists() and leftovers(lab_env) == []
    assert not (lib_dir(lab_env) / "current.json").exists()


def test_malicious_archive_through_cli(lab_env, mirror):
    publish(mirror, ROW_102, extra=[malicious_member("symlink")])
    proc = fetch(lab_env, "--cuda", "10.2", "--mirror", mirror.url)
    assert proc.returncode != 0 and "unsafe archive" in proc.stderr
    assert "points outside" in proc.stderr
    assert not (lib_dir(lab_env) / ROW_102).exists() and leftovers(lab_env) == []


@pytest.mark.parametrize("kind", MALICIOUS_KINDS)
def test_each_malicious_member_is_refused(tmp_path, kind):
    row = find_recipe(ROW_102)
    archive = build_library_archive(tmp_path / "a.tgz", row, extra=[malicious_member(kind)])
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(LabError, match="unsafe archive"):
        safe_extract(archive, dest)
    assert list(dest.iterdir()) == []      # checked before anything is written
    assert not Path("/tmp/paddle-trt-lab-evil").exists()


def test_archive_flag_installs_offline(lab_env, tmp_path):
    row = find_recipe(ROW_102)
    archive = build_library_archive(tmp_path / "dl" / "paddle_inference.tgz", row)
    out = json.loads(fetch(lab_env, "--cuda", "10.2", "--archive", str(archive), "--json",
                           check=True).stdout)
    assert out["status"] == "installed" and out["archive"] == str(archive)
    entry = load_lock(Path(lab_env["INVOKE_LAB_LOCK_FILE"]))["libraries"][ROW_102]
    assert entry["source"] == "archive" and archive.exists()   # the user's file is kept
    missing = fetch(lab_env, "--cuda", "10.2", "--archive", str(tmp_path / "nope.tgz"))
    assert missing.returncode != 0 and "no such file" in missing.stderr


def test_concurrent_fetches_download_once(lab_env, mirror):
    publish(mirror, ROW_102, padding=200_000)
    mirror.delay_s[mirror_path(find_recipe(ROW_102))] = 0.5
    cmd = [sys.executable, "-m", "invoke", "--search-root", str(ROOT), "fetch-lib", "--cuda",
           "10.2", "--mirror", mirror.url, "--json"]
    import os

    env = dict(os.environ, **lab_env)
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert len(mirror.gets(mirror_path(find_recipe(ROW_102)))) == 1
    statuses = sorted(json.loads(o[0])["status"] for o in outs)
    assert statuses == ["already-installed", "installed"]


def test_interrupted_install_leaves_nothing(tmp_path):
    row = find_recipe(ROW_102)
    archive = build_library_archive(tmp_path / "a.tgz", row)
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / f".tmp-{row.id}-stale").mkdir()   # what a killed run leaves
    seen = []

    def interrupt(name):
        seen.append(name)
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        install_archive(archive, lib, row.id, lambda found: None, {}, on_member=interrupt)
    assert list(lib.iterdir()) == []        # stale tmp cleaned, new tmp removed, no dest
    dest = install_archive(archive, lib, row.id, lambda found: None, {"sha256": "x"})
    assert dest == lib / row.id and (dest / "version.txt").is_file()


def test_dry_run_prints_script_and_touches_nothing(lab_env, mirror):
    proc = fetch(lab_env, "--cuda", "10.2", "--mirror", mirror.url, "--dry-run", check=True)
    assert proc.stdout.startswith("#!/usr/bin/env bash") and "curl -fL" in proc.stdout
    assert f"{mirror.url}/2.5.2/cxx_c/Linux/GPU/" in proc.stdout
    assert mirror.requests == [] and not lib_dir(lab_env).exists()


def test_list_json_and_marks(lab_env):
    proc = fetch(lab_env, "--list", "--paddle", "3.0.0", "--cuda", "11.8", "--json", check=True)
    rows = json.loads(proc.stdout)["rows"]
    assert {r["status"] for r in rows} == {"ok", "removed"}
    assert rows[0]["status"] == "ok"
    table = fetch(lab_env, "--list", "--paddle", "3.0.0", "--cuda", "11.8", check=True).stdout
    assert "removed" in table and "3.0.0-linux-gpu-cuda11.8-cudnn8.6.0" in table


@pytest.mark.parametrize("args,needle", [
    (("--cpu", "--cuda", "10.2"), "contradicts"),
    (("--cpu", "--gpu"), "conflicting device flags"),
    (("--math", "atlas"), "unknown math library"),
    (("--paddle", "3.0.0", "--cuda", "10.2"), "CUDA versions that exist"),
    (("--cuda", "10.2", "--mirror", "ftp://x"), "--mirror must be"),
])
def test_bad_input_one_clear_message(lab_env, args, needle):
    proc = fetch(lab_env, *args)
    assert proc.returncode != 0 and needle in proc.stderr
    assert "Traceback" not in proc.stderr and "error:" in proc.stderr


def test_auto_uses_the_real_probe(lab_env):
    """--auto on this machine (GPU or not): the choice is explained and fits the probe."""
    from toolchain.doctor import collect_report
    from toolchain.settings import LabSettings

    proc = fetch(lab_env, "--auto", "--dry-run", "--json", check=True)
    out = json.loads(proc.stdout)
    assert any(r.startswith("--auto:") for r in out["reasons"])
    report = collect_report(LabSettings.from_mapping({}))
    assert out["row"]["device"] == ("gpu" if report.driver_cuda_max else "cpu")


def test_manifest_checksums_are_enforced(tmp_path, mirror):
    """A row with a published sha256/md5: verified before extraction, no lock entry written."""
    import dataclasses

    from toolchain.fetch.resolve import LibraryRequest
    from toolchain.fetch.run import FetchOptions, fetch_library
    from toolchain.settings import LabSettings

    archive, sha = publish(mirror, ROW_102)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    row = find_recipe(ROW_102)
    settings = LabSettings.from_mapping({"work_dir": str(tmp_path / "w"),
                                         "cache_dir": str(tmp_path / "c"),
                                         "lib_dir": str(tmp_path / "w" / "lib"),
                                         "lock_file": str(tmp_path / "lock.toml")})
    opts = FetchOptions(mirror=mirror.url)
    good = [dataclasses.replace(row, sha256=sha, md5=md5)]
    out = fetch_library(settings, LibraryRequest(cuda="10.2"), opts, rows=good)
    assert out.checksum_source == "manifest" and out.sha256 == sha
    assert load_lock(settings.lock_file) == {}
    bad = [dataclasses.replace(row, sha256=sha, md5="f" * 32)]
    with pytest.raises(LabError) as err:
        fetch_library(dataclasses.replace(settings, cache_dir=tmp_path / "c2"),
                      LibraryRequest(cuda="10.2"), dataclasses.replace(opts, force=True),
                      rows=bad)
    assert "md5" in err.value.message and "f" * 32 in err.value.message and md5 in \
        err.value.message


def test_ctrl_c_during_fetch_leaves_nothing_installed(lab_env, mirror):
    import os
    import signal
    import time

    publish(mirror, ROW_102)
    path = mirror_path(find_recipe(ROW_102))
    mirror.delay_s[path] = 3.0
    cmd = [sys.executable, "-m", "invoke", "--search-root", str(ROOT), "fetch-lib", "--cuda",
           "10.2", "--mirror", mirror.url]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, **lab_env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not mirror.arrived and time.monotonic() < deadline:   # the request is in flight
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert not (lib_dir(lab_env) / ROW_102).exists()
    assert not (lib_dir(lab_env) / "current.json").exists()
    assert load_lock(Path(lab_env["INVOKE_LAB_LOCK_FILE"])) == {}


def test_dry_run_script_really_runs(lab_env, mirror):
    """The printed plan is pasteable: bash runs it with real curl/sha256sum/tar."""
    import shutil

    if not (shutil.which("curl") and shutil.which("sha256sum")):
        pytest.skip("curl/sha256sum not installed")
    archive, sha = publish(mirror, ROW_102)
    save_lock(Path(lab_env["INVOKE_LAB_LOCK_FILE"]),
              {"libraries": {ROW_102: {"sha256": sha, "size": archive.stat().st_size}}})
    script = fetch(lab_env, "--cuda", "10.2", "--mirror", mirror.url, "--dry-run",
                   check=True).stdout
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert ": OK" in proc.stdout                      # sha256sum -c passed
    installed = lib_dir(lab_env) / ROW_102
    assert (installed / "paddle" / "include" / "paddle_inference_api.h").is_file()
    assert leftovers(lab_env) == []


def test_damaged_install_is_reinstalled_from_cache(lab_env, mirror):
    publish(mirror, ROW_102)
    fetch(lab_env, "--cuda", "10.2", "--mirror", mirror.url, check=True)
    (lib_dir(lab_env) / ROW_102 / "paddle" / "lib" / "libpaddle_inference.so").unlink()
    out = json.loads(fetch(lab_env, "--cuda", "10.2", "--mirror", mirror.url, "--json",
                           check=True).stdout)
    assert out["status"] == "installed" and out["cache_hit"] is True
    assert (lib_dir(lab_env) / ROW_102 / "paddle" / "lib" / "libpaddle_inference.so").is_file()
    assert len(mirror.gets(mirror_path(find_recipe(ROW_102)))) == 1


def test_list_piped_is_one_row_per_line(lab_env):
    """stdout is a pipe here: plain `<id>\\t<status>` lines, no table, no wrapping."""
    from toolchain.fetch.resolve import LibraryRequest
    from toolchain.fetch.run import list_libraries

    proc = fetch(lab_env, "--list", "--paddle", "3.0.0", "--cuda", "11.8", check=True)
    lines = proc.stdout.splitlines()
    want = list_libraries(LibraryRequest(paddle="3.0.0", cuda="11.8"))
    assert [ln.split("\t") for ln in lines] == [[r.id, r.status] for r in want]
    assert not any("━" in ln or "│" in ln for ln in lines)


@pytest.mark.parametrize("args", ["fetch-lib --list", "--help fetch-lib"])
def test_a_reader_that_leaves_early(lab_env, args):
    """`invoke fetch-lib --list | true`: the reader is gone before the first line (Python takes
    longer to start than `true` to exit), so the write meets a closed pipe: a quiet stop with
    status 141 like ls or grep, no BrokenPipeError traceback. `--help TASK` is printed by
    Invoke itself, before any task runs, and stops the same way."""
    cmd = (f"{sys.executable} -m invoke --search-root {ROOT} {args} | true; "
           "echo \"status=${PIPESTATUS[0]}\" >&2")
    proc = subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=dict(os.environ, **lab_env),
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert "status=141" in proc.stderr, proc.stderr


@pytest.mark.parametrize("value", ["many", "2.5", ""])
def test_a_setting_from_the_environment_that_is_not_a_number(lab_env, value):
    """INVOKE_LAB_FETCH_RETRIES=many: Invoke casts it to the setting's type before any task
    runs; one message naming the variable, the setting and what it needs, exit 2."""
    env = dict(os.environ, **lab_env, INVOKE_LAB_FETCH_RETRIES=value)
    proc = subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(ROOT),
                           "fetch-lib", "--list"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert f"INVOKE_LAB_FETCH_RETRIES={value!r} is not an integer" in proc.stderr
    assert "lab.fetch.retries" in proc.stderr and "fix:" in proc.stderr
    assert proc.stdout == ""


def test_a_list_setting_from_the_environment(lab_env):
    """Invoke cannot read a list from the environment (INVOKE_LAB_VERIFY_WARN=x): one message
    saying where a list setting goes instead, exit 2, no traceback."""
    env = dict(os.environ, **lab_env, INVOKE_LAB_VERIFY_WARN="x")
    proc = subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(ROOT),
                           "fetch-lib", "--list"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "INVOKE_LAB_VERIFY_WARN cannot set the list setting lab.verify.warn" in proc.stderr
    assert "as a YAML list in invoke.yaml" in proc.stderr
