"""`invoke lab` against real sshd servers on 127.0.0.1: parallel vs serial, and cost of SSH.

Starts two OpenSSH servers (as the tests do), defines N hosts on them that all
run `invoke verify --json` in this checkout, plus one host whose task hangs, and
measures in this one run:
  - local:    `invoke verify --json` run directly (no SSH), for scale
  - serial:   `invoke lab --serial` over the N good hosts
  - parallel: `invoke lab --parallel` over the same N hosts
  - hung:     `invoke lab --parallel` over the N hosts + the hung one (timeout T)
Targets: parallel is at least 1.5x faster than serial for N=4 on 2 cores; with a
hung host the run takes at most its timeout plus the parallel time plus 5 s
(the hung host costs its own timeout, once, not the others' time).
Usage: python benchmarks/lab_hosts.py [--hosts N] [--hang-timeout S]
Needs /usr/sbin/sshd (Debian: apt-get install -y openssh-server).
"""

from __future__ import annotations

import argparse
import getpass
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.lab import build_lab, lab_env, lab_settings
from support.sshd import keypair, sshd_missing_reason, start_sshd

INVOKE = [sys.executable, "-m", "invoke", "--search-root", str(ROOT)]


def timed(argv: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    import os

    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=900)
    return time.perf_counter() - start, proc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--hang-timeout", type=float, default=5)
    opts = ap.parse_args()
    reason = sshd_missing_reason()
    if reason:
        raise SystemExit(reason)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "keys").mkdir()
        key = keypair(base / "keys", "id_lab")
        servers = [start_sshd(base / f"sshd{i}", [key]) for i in range(2)]
        try:
            env = lab_env(base / "lab")
            build_lab(lab_settings(env))
            t_lock, proc = timed([*INVOKE, "lock"], env)
            assert proc.returncode == 0, proc.stderr
            hang = base / "hang"
            hang.mkdir()
            (hang / "invoke").write_text("#!/bin/sh\nexec sleep 3600\n")
            (hang / "invoke").chmod(0o755)
            remote_env = {"PATH": f"{Path(sys.executable).parent}:$PATH", **env}
            hosts = {f"h{i}": {"host": "127.0.0.1", "port": servers[i % 2].port}
                     for i in range(opts.hosts)}
            hosts["hung"] = {"host": "127.0.0.1", "port": servers[0].port,
                             "timeout": opts.hang_timeout, "env": {"PATH": f"{hang}:$PATH"}}
            cfg = base / "lab.yaml"
            cfg.write_text(json.dumps({"lab": {
                "lab": {"user": getpass.getuser(), "key": str(key), "checkout": str(ROOT),
                        "env": remote_env},
                "hosts": hosts}}))
            good = ",".join(h for h in hosts if h != "hung")
            run_env = {**env, "INVOKE_LAB_RESULTS_DIR": str(base / "results")}
            t_local, proc = timed([*INVOKE, "verify", "--json"], env)
            assert proc.returncode == 0, proc.stderr
            rows = []
            for label, args in (("serial", ["--serial"]), ("parallel", ["--parallel"])):
                took, proc = timed([*INVOKE, "-f", str(cfg), "lab", "--hosts", good, "--task",
                                    "verify", "--json", *args], run_env)
                assert proc.returncode == 0, proc.stderr
                rows.append((label, took))
            t_serial, t_parallel = rows[0][1], rows[1][1]
            t_hung, proc = timed([*INVOKE, "-f", str(cfg), "lab", "--hosts", good + ",hung",
                                  "--task", "verify", "--json", "--parallel"], run_env)
            outcome = {h["name"]: h["status"] for h in json.loads(proc.stdout)["hosts"]}
            assert outcome.pop("hung") == "timeout" and set(outcome.values()) == {"ok"}, outcome
        finally:
            for s in servers:
                s.stop()
    n = opts.hosts
    speedup = t_serial / t_parallel
    hung_budget = opts.hang_timeout + t_parallel + 5
    print(f"hosts: {n} on 2 sshd servers (127.0.0.1), task: verify --json")
    print(f"local verify (no SSH)          {t_local:6.2f} s")
    print(f"lab --serial   ({n} hosts)       {t_serial:6.2f} s  ({t_serial / n:.2f} s a host, "
          f"SSH + remote start {t_serial / n - t_local:+.2f} s over local)")
    print(f"lab --parallel ({n} hosts)       {t_parallel:6.2f} s")
    print(f"speed-up parallel vs serial    {speedup:6.2f}x  (target >= 1.5x: "
          f"{'met' if speedup >= 1.5 else 'NOT met'})")
    print(f"lab --parallel + 1 hung host   {t_hung:6.2f} s  (hung host timeout "
          f"{opts.hang_timeout:g} s; budget {hung_budget:.2f} s: "
          f"{'met' if t_hung <= hung_budget else 'NOT met'})")


if __name__ == "__main__":
    main()
