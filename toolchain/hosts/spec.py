"""Who the hosts are and what runs there: HostSpec from lab.hosts / user@host:port, the
remote command line (cd, env, coreutils timeout, invoke TASK --json) and its ssh form."""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import LabError
from ..results import JsonResult
from ..settings import HostDefaults


TASKS = ("doctor", "verify", "fetch-lib", "bench", "quickstart")


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class HostSpec(JsonResult):
    """One host: where to connect, where the checkout is, what environment to export."""

    name: str
    host: str
    port: int = 22
    user: str | None = None
    key: str | None = None
    checkout: str = "~/paddle-trt-lab"
    env: dict[str, str] = field(default_factory=dict)
    invoke: str = "invoke"
    timeout: float = 1800
    connect_timeout: float = 15

    @property
    def address(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.host}:{self.port}"

    @property
    def folder(self) -> str:
        """The host's folder name under results/lab/."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.name).strip("._") or "host"


def parse_address(text: str) -> tuple[str | None, str, int | None]:
    """'user@host:port' / 'host' / 'user@[::1]:22' -> (user, host, port)."""
    user, _, rest = text.rpartition("@")
    m = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", rest) or re.fullmatch(r"([^:]+)(?::(\d+))?",
                                                                        rest)
    if not m or not m.group(1):
        raise LabError(f"cannot read host {text!r}", hint="write user@host:port, host:port or "
                       "host, or name an entry of lab.hosts in invoke.yaml")
    return (user or None), m.group(1), int(m.group(2)) if m.group(2) else None


def resolve_hosts(names: list[str], hosts_cfg: Mapping[str, Any], defaults: HostDefaults
                  ) -> list[HostSpec]:
    """HostSpecs for --hosts names: lab.hosts entries, else user@host:port."""
    specs: list[HostSpec] = []
    for name in dict.fromkeys(n.strip() for n in names if n.strip()):
        entry = hosts_cfg.get(name)
        if isinstance(entry, str):
            entry = {"host": entry}
        entry = dict(entry or {})
        user, host, port = parse_address(entry.get("host") or name)
        env = {**dict(defaults.env), **dict(entry.get("env") or {})}
        for var in env:
            if not ENV_NAME.fullmatch(str(var)):
                raise LabError(f"host {name}: {var!r} is not an environment variable name",
                               where=f"invoke.yaml lab.hosts.{name}.env")
        try:
            spec = HostSpec(
                name=name, host=host,
                port=int(entry.get("port") or port or defaults.port or 22),
                user=entry.get("user") or user or defaults.user or None,
                key=_expand(entry.get("key") or defaults.key),
                checkout=str(entry.get("checkout") or defaults.checkout),
                env={str(k): str(v) for k, v in env.items()},
                invoke=str(entry.get("invoke") or defaults.invoke),
                timeout=float(entry.get("timeout") or defaults.timeout),
                connect_timeout=float(entry.get("connect_timeout")
                                      or defaults.connect_timeout),
            )
        except (TypeError, ValueError) as exc:
            raise LabError(f"host {name}: bad setting ({exc})",
                           where=f"invoke.yaml lab.hosts.{name}") from None
        specs.append(spec)
    if not specs:
        raise LabError("no hosts given", hint="pass --hosts h1,h2 (names from lab.hosts in "
                       "invoke.yaml, or user@host:port)")
    return specs


def _expand(path: Any) -> str | None:
    return os.path.expanduser(os.path.expandvars(str(path))) if path else None


def _dquote(value: str) -> str:
    """Double-quote for sh, leaving $VAR to expand on the host (PATH=/x/bin:$PATH)."""
    return '"' + re.sub(r'(["\\`])', r"\\\1", value) + '"'


def _cd(path: str) -> str:
    if path == "~" or path.startswith("~/"):
        return "cd ~/" + shlex.quote(path[2:]) if len(path) > 2 else "cd ~"
    return "cd " + shlex.quote(path)


def remote_command(spec: HostSpec, task: str, args: list[str], timeout: float | None,
                   remote_timeout: bool = True) -> str:
    """The shell line a host runs: cd checkout, export env, invoke TASK --json ARGS."""
    parts = [_cd(spec.checkout)]
    if spec.env:
        parts.append("export " + " ".join(f"{k}={_dquote(v)}" for k, v in spec.env.items()))
    run = [spec.invoke, task, "--json", *args]
    line = " ".join(shlex.quote(a) for a in run)
    if remote_timeout and timeout:
        line = f"timeout -k 10 {int(max(1, round(timeout)))} {line}"
    parts.append(line)
    return " && ".join(parts)


def ssh_argv(spec: HostSpec, command: str) -> list[str]:
    """The same run as an `ssh` command (for --dry-run)."""
    argv = ["ssh", "-p", str(spec.port)]
    if spec.key:
        argv += ["-i", spec.key]
    return argv + [f"{spec.user}@{spec.host}" if spec.user else spec.host, command]
