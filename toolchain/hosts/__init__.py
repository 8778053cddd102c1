"""`invoke lab`: run one lab task on many hosts over SSH (Fabric) and diff the results.

Each host runs `invoke <task> --json` in its project checkout, with the
environment its config names (remote shells are non-interactive: ~/.bashrc,
conda and CUDA's PATH are not loaded, so PATH / LD_LIBRARY_PATH go in `env`).
Every host has its own timeout, enforced three times over: coreutils `timeout`
on the host (so a hung task is killed there), Fabric's `run(timeout=)`, and a
local deadline on the host's thread (so a host that hangs while connecting does
not block the others either; Fabric's ThreadingGroup joins with no timeout).
Each host's JSON lands in <results_dir>/lab/<host>/<task>.json with a log beside it;
the cross-host table lists the values that differ between hosts and the hosts
that failed, and why.

Settings (invoke.yaml):
  lab.lab:   defaults for every host: user, key, port, checkout, env, invoke,
             timeout, connect_timeout, parallel, remote_timeout, ignore_keys, max_rows
  lab.hosts: <name>: {host, port, user, key, checkout, env, invoke, timeout}
             (or just "user@host:port"); a --hosts name not listed there is read
             as user@host:port with the lab.lab defaults.

- spec: HostSpec, lab.hosts resolution, the remote command
- remote: plan_lab / execute_lab over SSH
- diff: the cross-host differences
"""
