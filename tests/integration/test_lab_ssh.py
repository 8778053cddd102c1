"""`invoke lab` against real OpenSSH servers on 127.0.0.1.

Two sshd processes on two free ports stand for two lab machines; the "checkout"
on each is this very project (the hosts are this machine), with the venv's bin on
PATH through the host's env. Hosts:
  alpha  sshd 1, a lab that matches the lock               -> ok
  beta   sshd 2, the same lab with a changed dataset       -> failed (verify drift)
  gamma  sshd 2, its `invoke` hangs forever                -> timeout, killed on the host
  delta  sshd 1, a key the server does not accept          -> unreachable
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from support import ROOT, run_invoke
from support.lab import build_lab, lab_env, lab_settings
from support.sshd import keypair, sshd_missing_reason, start_sshd

pytestmark = pytest.mark.slow

HANG_MARK = "4321.0123"  # the hung `invoke` sleeps this long: unique in the process table
VENV_BIN = str(Path(sys.executable).parent)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    reason = sshd_missing_reason()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("sshd")
    keys = base / "keys"
    keys.mkdir()
    good, other = keypair(keys, "id_lab"), keypair(keys, "id_stranger")
    started = []
    try:
        for name in ("one", "two"):
            started.append(start_sshd(base / name, [good]))
    except RuntimeError as exc:
        for s in started:
            s.stop()
        pytest.skip(f"sshd cannot run in this sandbox: {exc}")
    yield {"one": started[0], "two": started[1], "key": good, "stranger": other}
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def lab_config(servers, tmp_path_factory):
    """Two labs (one drifted from the lock), a hanging `invoke`, and the invoke.yaml."""
    base = tmp_path_factory.mktemp("labs")
    env_a = lab_env(base / "a")
    build_lab(lab_settings(env_a))
    lock = run_invoke("lock", env=env_a, timeout=120)
    assert lock.returncode == 0, lock.stderr
    # beta: a second checkout's work dir, the same lab but for one dataset byte
    env_b = lab_env(base / "b")
    shutil.copytree(base / "a" / "work", base / "b" / "work", symlinks=True)
    s_b = lab_settings(env_b)
    from toolchain.state import demo_build, save_demo_build, set_current_library
    lib_b = s_b.lib_dir / "3.0.0-gpu-cuda12.6-trt10.5" / "paddle_inference"
    set_current_library(s_b.lib_dir, lib_b, "3.0.0-gpu-cuda12.6-trt10.5", "fetch",
                        url="https://paddle-inference-lib.bj.bcebos.com/"
                            "3.0.0-gpu-cuda12.6-trt10.5.tgz")
    rec = demo_build(s_b.work_dir)
    a_work = str(lab_settings(env_a).work_dir)
    rec["lib"] = str(lib_b.resolve())
    rec["binaries"] = {k: v.replace(a_work, str(s_b.work_dir)) for k, v in rec["binaries"].items()}
    rec["cmake_args"] = [x.replace(str(Path(a_work).resolve()), str(s_b.work_dir))
                         for x in rec["cmake_args"]]
    save_demo_build(s_b.work_dir, rec)
    with open(s_b.work_dir / "data" / "val.bin", "r+b") as fh:
        fh.write(b"\xff")
    # gamma: an `invoke` that never returns
    hang_bin = base / "hang-bin"
    hang_bin.mkdir()
    (hang_bin / "invoke").write_text(f"#!/bin/sh\nexec sleep {HANG_MARK}\n")
    (hang_bin / "invoke").chmod(0o755)

    def env_of(lab_env_vars: dict, path_first: str = VENV_BIN) -> dict:
        env = {"PATH": f"{path_first}:$PATH"}
        env.update({k: v for k, v in lab_env_vars.items() if k != "INVOKE_LAB_LOCK_FILE"})
        env["INVOKE_LAB_LOCK_FILE"] = env_a["INVOKE_LAB_LOCK_FILE"]  # the one lock
        return env

    one, two = servers["one"].port, servers["two"].port
    config = {"lab": {
        "lab": {"user": getpass.getuser(), "key": str(servers["key"]), "checkout": str(ROOT),
                "env": env_of(env_a), "connect_timeout": 10},
        "hosts": {
            "alpha": {"host": "127.0.0.1", "port": one},
            "beta": {"host": "127.0.0.1", "port": two, "env": env_of(env_b)},
            "gamma": {"host": "127.0.0.1", "port": two, "timeout": 6,
                      "env": {"PATH": f"{hang_bin}:$PATH"}},
            "delta": {"host": "127.0.0.1", "port": one, "key": str(servers["stranger"])},
        },
    }}
    path = base / "lab.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML; Invoke reads -f *.yaml as YAML
    return {"file": path, "one": one, "two": two, "base": base}


def _hang_processes() -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if HANG_MARK in cmd and "sleep" in cmd:
            found.append(f"{pid}: {cmd}")
    return found


def test_lab_in_parallel_with_a_hung_a_drifted_and_a_refused_host(lab_config, tmp_path):
    results = tmp_path / "results"
    t0 = time.monotonic()
    proc = run_invoke("-f", str(lab_config["file"]), "lab", "--hosts",
                      "alpha,beta,gamma,delta", "--task", "verify", "--parallel", "--json",
                      env={"INVOKE_LAB_RESULTS_DIR": str(results)}, timeout=300)
    elapsed = time.monotonic() - t0
    assert proc.returncode != 0  # not every host ended ok
    run = json.loads(proc.stdout)
    hosts = {h["name"]: h for h in run["hosts"]}
    assert hosts["alpha"]["status"] == "ok", hosts["alpha"]
    assert hosts["alpha"]["result"]["ok"] is True
    assert hosts["beta"]["status"] == "failed" and hosts["beta"]["exit_code"] == 1
    assert "differs from the lock" in hosts["beta"]["reason"]
    assert hosts["gamma"]["status"] == "timeout", hosts["gamma"]
    assert "killed on the host" in hosts["gamma"]["reason"]
    assert hosts["delta"]["status"] == "unreachable"
    assert "authentication" in hosts["delta"]["reason"].lower()
    # the hung host cost its own timeout, not the others' time
    assert hosts["gamma"]["elapsed_s"] < 40
    assert elapsed < 120
    assert not _hang_processes(), "the hung task was left running on the host"
    # each host's JSON and log under results/lab/<host>/
    alpha = json.loads((results / "lab" / "alpha" / "verify.json").read_text())
    assert alpha["ok"] is True and alpha["items"]
    beta = json.loads((results / "lab" / "beta" / "verify.json").read_text())
    assert 'data["val.bin"].sha256' in beta["failing"]
    assert not (results / "lab" / "gamma" / "verify.json").exists()
    assert "exit: 124" in (results / "lab" / "gamma" / "verify.log").read_text()
    assert "Authentication" in (results / "lab" / "delta" / "verify.log").read_text() or \
        "authentication" in (results / "lab" / "delta" / "verify.log").read_text()
    # the cross-host table names the drifted item
    diffs = {d["key"]: d["values"] for d in run["differences"]}
    key = 'items[data["val.bin"].sha256].status'
    assert diffs[key] == {"alpha": "ok", "beta": "different"}
    assert json.loads((results / "lab" / "verify.json").read_text())["task"] == "verify"


def test_lab_serially_with_an_address_and_the_table(lab_config, tmp_path):
    results = tmp_path / "results"
    user = getpass.getuser()
    address = f"{user}@127.0.0.1:{lab_config['two']}"  # not in lab.hosts: lab.lab defaults
    proc = run_invoke("-f", str(lab_config["file"]), "lab", "--hosts", f"beta,{address}",
                      "--task", "verify", "--serial",
                      env={"INVOKE_LAB_RESULTS_DIR": str(results), "COLUMNS": "200"},
                      timeout=300)
    assert proc.returncode != 0
    out = proc.stdout
    assert "serial" in out and "where the hosts differ" in out
    assert 'items[data["val.bin"].sha256].status' in out
    assert "error:" in proc.stderr and "beta (failed)" in proc.stderr
    assert "Traceback" not in proc.stderr
    folder = f"{user}_127.0.0.1_{lab_config['two']}"
    assert json.loads((results / "lab" / folder / "verify.json").read_text())["ok"] is True


def test_lab_unreachable_port_and_bad_input(lab_config, tmp_path):
    from support.sshd import free_port

    results = tmp_path / "results"
    env = {"INVOKE_LAB_RESULTS_DIR": str(results)}
    dead = f"127.0.0.1:{free_port()}"
    proc = run_invoke("-f", str(lab_config["file"]), "lab", "--hosts", f"alpha,{dead}",
                      "--task", "verify", "--json", env=env, timeout=300)
    run = json.loads(proc.stdout)
    hosts = {h["name"]: h for h in run["hosts"]}
    assert hosts["alpha"]["status"] == "ok"
    assert hosts[dead]["status"] == "unreachable" and "cannot connect" in hosts[dead]["reason"]
    assert proc.returncode != 0
    bad = run_invoke("-f", str(lab_config["file"]), "lab", "--hosts", "alpha",
                     "--task", "rm-rf", env=env, timeout=60)
    assert bad.returncode == 1 and "unknown lab task" in bad.stderr
    assert "Traceback" not in bad.stderr
    both = run_invoke("lab", "--hosts", "alpha", "--parallel", "--serial", env=env, timeout=60)
    assert both.returncode == 1 and "exclude each other" in both.stderr
    untouched = tmp_path / "untouched"
    plan = run_invoke("-f", str(lab_config["file"]), "lab", "--hosts", "alpha,gamma",
                      "--task", "bench", "--args", "--quick --batch 8", "--dry-run",
                      env={"INVOKE_LAB_RESULTS_DIR": str(untouched)}, timeout=60)
    assert plan.returncode == 0
    assert f"ssh -p {lab_config['one']} -i" in plan.stdout
    assert "timeout -k 10 6 invoke bench --json --quick --batch 8" in plan.stdout
    assert not untouched.exists()  # a dry run runs nothing
