"""Running a lab task on the hosts: LabPlan (plan_lab), one thread per host with its own
deadline (Fabric), each host's JSON and log collected (execute_lab)."""

from __future__ import annotations

import json as _json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import LabError
from ..fsio import atomic_write_text
from ..results import JsonResult
from ..settings import LabSettings
from ..shellscript import ShellScript
from ..state import write_json_atomic
from .spec import HostSpec, TASKS, remote_command, resolve_hosts, ssh_argv
from .diff import HostDifference, host_differences


GRACE_S = 15


@dataclass
class HostOutcome(JsonResult):
    name: str
    address: str
    status: str                      # ok | failed | timeout | unreachable
    reason: str = ""
    exit_code: int | None = None
    elapsed_s: float = 0.0
    result_file: Path | None = None
    log_file: Path | None = None
    result: Any = None               # the host's JSON output


@dataclass
class LabRun(JsonResult):
    task: str
    args: list[str]
    parallel: bool
    hosts: list[HostOutcome] = field(default_factory=list)
    differences: list[HostDifference] = field(default_factory=list)
    summary_file: Path | None = None
    max_rows: int = 40               # rows of the differences table shown (JSON has all)
    ok: bool = True


def _reason(stderr: str, stdout: str) -> str:
    lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("error:"):
            return ln[:300]
    text = lines[-1] if lines else next((ln.strip() for ln in reversed((stdout or "")
                                                                         .splitlines())
                                         if ln.strip()), "")
    return text[:300]


def parse_json_output(stdout: str) -> Any:
    """The JSON a `--json` task printed (the whole output, or from the first line that
    opens an object to the end)."""
    text = (stdout or "").strip()
    if not text:
        return None
    try:
        return _json.loads(text)
    except ValueError:
        pass
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if ln.startswith("{"):
            try:
                return _json.loads("\n".join(lines[i:]))
            except ValueError:
                continue
    return None


class _QuietParamiko:
    """While any host connects: paramiko's log records are kept in a list, not printed.

    Paramiko's transport thread logs a traceback at ERROR ("Exception (client): Error
    reading SSH protocol banner" + the stack) when a port accepts TCP but does not
    speak SSH; with no logging set up, Python prints that on stderr through its
    last-resort handler, next to our own verdict ("unreachable: no SSH handshake").
    Entered once per host thread (counted), so parallel hosts share one state; the
    records go to each host's log instead. With --debug nothing is hidden.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: tuple | None = None
        self.records: list[str] = []

    def __enter__(self) -> "_QuietParamiko":
        from ..cli import debug_enabled

        with self._lock:
            self._users += 1
            if self._users == 1 and not debug_enabled():
                logger = logging.getLogger("paramiko")
                handler = _ListHandler(self.records)
                self._saved = (logger, logger.propagate, handler)
                logger.addHandler(handler)
                logger.propagate = False
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._saved is not None:
                logger, propagate, handler = self._saved
                logger.removeHandler(handler)
                logger.propagate = propagate
                self._saved = None

    def take(self) -> list[str]:
        with self._lock:
            out, self.records[:] = list(self.records), []
        return out


class _ListHandler(logging.Handler):
    """Appends formatted records to a list (at most 200)."""

    def __init__(self, sink: list[str]):
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.sink) < 200:
            self.sink.append(f"{record.name} {record.levelname}: {record.getMessage()}")


QUIET_PARAMIKO = _QuietParamiko()


def run_on_host(spec: HostSpec, command: str, timeout: float, holder: dict) -> HostOutcome:
    """Connect, run, classify. Never raises: every failure becomes an outcome.

    Paramiko's own log (a transport thread's traceback for a port that does not
    speak SSH) goes to holder["ssh_log"], i.e. the host's log file, not stderr."""
    with QUIET_PARAMIKO:
        try:
            return _run_on_host(spec, command, timeout, holder)
        finally:
            holder["ssh_log"] = QUIET_PARAMIKO.take()


def _run_on_host(spec: HostSpec, command: str, timeout: float, holder: dict) -> HostOutcome:
    import paramiko
    from fabric import Connection
    from invoke.exceptions import CommandTimedOut

    out = HostOutcome(name=spec.name, address=spec.address, status="failed")
    connect_kwargs: dict[str, Any] = {"banner_timeout": spec.connect_timeout,
                                      "auth_timeout": spec.connect_timeout}
    if spec.key:
        connect_kwargs.update(key_filename=[spec.key], look_for_keys=False, allow_agent=False)
    conn = Connection(host=spec.host, user=spec.user, port=spec.port,
                      connect_timeout=max(1, int(spec.connect_timeout)),
                      connect_kwargs=connect_kwargs)
    holder["conn"] = conn
    try:
        res = conn.run(command, hide=True, warn=True, in_stream=False,
                       timeout=timeout + GRACE_S if timeout else None)
    except CommandTimedOut as exc:
        out.status, out.reason = "timeout", f"no end after {exc.timeout}s; channel closed"
        holder["stdout"], holder["stderr"] = exc.result.stdout, exc.result.stderr
        return out
    except paramiko.AuthenticationException as exc:
        out.status = "unreachable"
        out.reason = f"SSH authentication failed as {spec.user or 'the local user'}" \
                     f"{' with key ' + spec.key if spec.key else ''}: {exc}"
        return out
    except (paramiko.SSHException, socket.timeout, TimeoutError) as exc:
        out.status = "unreachable"
        out.reason = f"no SSH handshake with {spec.address} within " \
                     f"{spec.connect_timeout:g}s ({type(exc).__name__}: {exc})"
        return out
    except OSError as exc:  # NoValidConnectionsError (refused), DNS, no route
        out.status = "unreachable"
        out.reason = f"cannot connect to {spec.address}: {exc}"
        return out
    finally:
        transport = getattr(conn.client, "_transport", None)
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - closing a dead connection
            pass
        if transport is not None and transport.is_alive():
            transport.join(2)   # its last log lines land while we still hold them back
    holder["stdout"], holder["stderr"] = res.stdout, res.stderr
    out.exit_code = res.exited
    out.result = parse_json_output(res.stdout)
    if res.exited == 0:
        out.status = "ok" if out.result is not None else "failed"
        if out.result is None:
            out.reason = "the task printed no JSON"
    elif res.exited in (124, 137) and timeout and "timeout -k" in command:
        out.status = "timeout"
        out.reason = f"still running after {timeout:g}s; killed on the host"
    elif res.exited == 127:
        out.reason = f"command not found on the host: {_reason(res.stderr, '')} " \
                     f"(set PATH in the host's env, or `invoke:` to the full path)"
    else:
        out.reason = f"exit {res.exited}: {_reason(res.stderr, res.stdout)}"
    return out


def _finish(outcome: HostOutcome, spec: HostSpec, task: str, command: str, holder: dict,
            results_dir: Path) -> HostOutcome:
    folder = results_dir / "lab" / spec.folder
    result_file = folder / f"{task}.json"
    if outcome.result is not None:
        write_json_atomic(result_file, outcome.result)
        outcome.result_file = result_file
    else:
        result_file.unlink(missing_ok=True)  # never leave an older run's result as this one's
    log = (f"# host {spec.name} ({spec.address})\n# command: {command}\n"
           f"# status: {outcome.status} exit: {outcome.exit_code} "
           f"elapsed: {outcome.elapsed_s:.1f}s\n# reason: {outcome.reason}\n"
           f"## stdout\n{holder.get('stdout') or ''}\n## stderr\n{holder.get('stderr') or ''}\n"
           + ("## ssh (paramiko)\n" + "\n".join(holder["ssh_log"]) + "\n"
              if holder.get("ssh_log") else ""))
    outcome.log_file = folder / f"{task}.log"
    atomic_write_text(outcome.log_file, log)
    return outcome


def _deadline(spec: HostSpec, timeout: float) -> float:
    # connect + banner + auth may each take connect_timeout, then the command.
    return 3 * spec.connect_timeout + (timeout or 0) + 2 * GRACE_S


def _collect(spec: HostSpec, holder: dict, timeout: float, box_wait: float) -> HostOutcome:
    thread: threading.Thread = holder["thread"]
    thread.join(max(0.0, box_wait))
    if thread.is_alive():
        conn = holder.get("conn")
        if conn is not None:  # unblock the thread if it can be; don't wait for it
            threading.Thread(target=_quiet_close, args=(conn,), daemon=True).start()
        return HostOutcome(name=spec.name, address=spec.address, status="timeout",
                           reason=f"no answer within {_deadline(spec, timeout):g}s "
                                  f"(connection or command hung); abandoned")
    return holder["outcome"]


def _quiet_close(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001
        pass


@dataclass(frozen=True)
class HostRun(JsonResult):
    spec: HostSpec
    timeout: float
    command: str                     # the shell line the host runs


@dataclass(frozen=True)
class LabPlan(JsonResult):
    """What `invoke lab` will do: one run per host, and where the results go."""
    task: str
    args: tuple[str, ...]
    parallel: bool
    runs: tuple[HostRun, ...]
    results_dir: Path                # <results_dir>/lab/<host>/<task>.{json,log}
    ignore_keys: tuple[str, ...]
    max_rows: int

    @property
    def summary_file(self) -> Path:
        return self.results_dir / "lab" / f"{self.task}.json"

    def script(self) -> str:
        """The runs as ssh lines (a pasteable shell script)."""
        sh = ShellScript(f"lab --task {self.task} --dry-run", "one ssh run per host")
        for r in self.runs:
            sh.comment(f"{r.spec.name} ({r.spec.address}), timeout {r.timeout:g}s")
            sh.run(ssh_argv(r.spec, r.command), if_fails=f"{r.spec.name}: failed")
        return sh.render()


def plan_lab(settings: LabSettings, names: list[str], task: str, args: list[str] | None = None,
             timeout: float | None = None, parallel: bool | None = None) -> LabPlan:
    """Hosts, commands and timeouts of a lab run (pure: settings in, plan out)."""
    if task not in TASKS:
        raise LabError(f"unknown lab task {task!r}", hint=f"use one of: {', '.join(TASKS)}")
    cfg = settings.lab
    specs = resolve_hosts(names, settings.hosts, cfg)
    parallel = cfg.parallel if parallel is None else parallel
    args = list(args or [])
    runs = []
    for spec in specs:
        host_timeout = float(timeout) if timeout else spec.timeout
        runs.append(HostRun(spec, host_timeout,
                            remote_command(spec, task, args, host_timeout,
                                           cfg.remote_timeout)))
    return LabPlan(task=task, args=tuple(args), parallel=parallel, runs=tuple(runs),
                   results_dir=settings.results_dir,
                   ignore_keys=tuple(cfg.ignore_keys),
                   max_rows=cfg.max_rows)


def execute_lab(plan: LabPlan, on_done: Callable[[HostOutcome], None] | None = None) -> LabRun:
    """Run the plan's hosts; collect, diff, write the summary."""
    try:
        import fabric  # noqa: F401
    except ImportError:
        raise LabError("Fabric is not installed", hint="pip install 'paddle-trt-lab[lab]'") \
            from None
    task = plan.task
    run = LabRun(task=task, args=list(plan.args), parallel=plan.parallel,
                 max_rows=plan.max_rows)

    def start(r: HostRun) -> dict:
        spec, host_timeout, command = r.spec, r.timeout, r.command
        holder: dict[str, Any] = {}

        def work() -> None:
            t0 = time.monotonic()
            try:
                outcome = run_on_host(spec, command, host_timeout, holder)
            except Exception as exc:  # noqa: BLE001 - one host's bug must not stop the others
                outcome = HostOutcome(name=spec.name, address=spec.address, status="failed",
                                      reason=f"{type(exc).__name__}: {exc}")
            outcome.elapsed_s = round(time.monotonic() - t0, 2)
            holder["outcome"] = outcome

        holder["thread"] = threading.Thread(target=work, name=f"lab-{spec.name}", daemon=True)
        holder["deadline"] = time.monotonic() + _deadline(spec, host_timeout)
        holder["t0"] = time.monotonic()
        holder["thread"].start()
        return holder

    def finish(r: HostRun, holder: dict) -> HostOutcome:
        outcome = _collect(r.spec, holder, r.timeout, holder["deadline"] - time.monotonic())
        if not outcome.elapsed_s:
            outcome.elapsed_s = round(time.monotonic() - holder["t0"], 2)
        outcome = _finish(outcome, r.spec, task, r.command, holder, plan.results_dir)
        if on_done:
            on_done(outcome)
        return outcome

    if plan.parallel:
        holders = [start(r) for r in plan.runs]
        run.hosts = [finish(r, holder) for r, holder in zip(plan.runs, holders)]
    else:
        run.hosts = [finish(r, start(r)) for r in plan.runs]
    run.differences = host_differences({o.name: o.result for o in run.hosts
                                        if o.result is not None}, plan.ignore_keys)
    run.ok = all(o.status == "ok" for o in run.hosts)
    run.summary_file = plan.summary_file
    write_json_atomic(plan.summary_file, run.to_dict())
    return run


def run_lab(settings: LabSettings, names: list[str], task: str, args: list[str] | None = None,
            timeout: float | None = None, parallel: bool | None = None,
            on_done: Callable[[HostOutcome], None] | None = None) -> LabRun:
    """Run `invoke <task> --json ARGS` on every host: plan_lab, then execute_lab."""
    return execute_lab(plan_lab(settings, names, task, args, timeout, parallel), on_done)
