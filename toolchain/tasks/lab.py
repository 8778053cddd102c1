"""Reproducible labs: `invoke lock`, `invoke verify`, `invoke lab` (many hosts)."""

from __future__ import annotations

from contextlib import contextmanager

from .. import flags
from ..cli import emit, lab_task


@contextmanager
def _hash_progress(settings, enabled: bool):
    """A bar (on stderr) over the bytes the lock hashes; yields on_bytes (None: no bar)."""
    from ..lock.collect import expected_bytes
    from ..progress import NO_PROGRESS
    from .progress import progress_for

    sink = progress_for(enabled)
    total = expected_bytes(settings) if sink is not NO_PROGRESS else 0
    if total < (64 << 20):  # small labs hash in a blink: no bar
        yield None
        return
    # the total covers models/ and data/; library and binaries add a little more
    with sink.track("hashing", total=total, unit="bytes") as bar:
        yield bar.advance


def _value(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, list):
        return " ".join(str(x) for x in v) or "[]"
    s = str(v)
    if len(s) in (40, 64) and all(ch in "0123456789abcdef" for ch in s):
        return s[:12] + "…"  # a commit or sha256: the head tells them apart
    return s if len(s) <= 48 else s[:20] + "…" + s[-20:]


def _render_lock(con, result) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"lock written: {escape(str(result.path))}")
    table.add_column("table")
    table.add_column("items", justify="right")
    from ..lock.collect import COMPARED_TABLES, flatten_lock

    flat = flatten_lock(result.data)
    for name in COMPARED_TABLES:
        n = sum(1 for k in flat if k == name or k.startswith(name + ".")
                or k.startswith(name + "["))
        table.add_row(name, str(n))
    con.print(table)
    con.print(f"hashed {result.files_hashed} model/data files "
              f"({result.bytes_hashed / 2**20:.1f} MiB); kept fetch-lib checksums for "
              f"{len(result.kept_libraries)} libraries")
    if result.missing:
        miss = Table(title="not collected (recorded under \\[missing])")
        miss.add_column("item")
        miss.add_column("why")
        for key, reason in sorted(result.missing.items()):
            miss.add_row(escape(key), escape(reason))
        con.print(miss)


@lab_task(help={
    "out": "where to write the lock (default: lab.lock_file, lab.lock.toml)",
    **flags.help_for(json_=" (the whole lock instead of a summary)"),
})
def lock(c, out=None, json_=False):
    """Pin everything this lab's results depend on in lab.lock.toml.

    Records the tool version and git commit; Python and the installed versions of
    the project's dependencies; the current Paddle Inference library (manifest row,
    URL, archive size/sha256, main library sha256, version.txt digest and fields);
    driver, CUDA, cuDNN, TensorRT, GPU model, gcc, cmake, CPU; the demo build's
    flags and binaries' sha256; the sha256 of every file under <work_dir>/models
    and <work_dir>/data. What cannot be collected is listed under [missing] with
    the reason. fetch-lib's [libraries] checksums in the file are kept.
    Compare another machine with it using `invoke verify`.
    """
    from pathlib import Path

    from ..lock.collect import write_lock
    from ..settings import LabSettings

    settings = LabSettings.from_context(c)
    with _hash_progress(settings, not json_) as on_bytes:
        result = write_lock(settings, Path(out) if out else None, on_bytes=on_bytes)
    emit(result, json_, _render_lock)


def _render_verify(con, result, show_all: bool = False) -> None:
    """The items that differ (all items with --all), then one line of counts."""
    from rich.markup import escape
    from rich.table import Table

    shown = [i for i in result.items if show_all or i.status != "ok"]
    matched = len(result.items) - len([i for i in result.items if i.status != "ok"])
    if shown:
        title = f"verify against {escape(str(result.lock_file))}" + \
            ("" if show_all else ": the differences")
        table = Table(title=title, expand=True)
        table.add_column("item", overflow="fold", ratio=4)
        table.add_column("status", no_wrap=True, min_width=9)
        for col in ("expected (lock)", "found (here)"):
            table.add_column(col, overflow="fold", ratio=2)
        table.add_column("note", overflow="fold", ratio=3)
        style = {"ok": "green", "different": "red", "missing": "yellow"}
        for item in shown:
            status = item.status if item.matters or item.status == "ok" \
                else f"{item.status} (warn)"
            color = style[item.status] if item.matters or item.status == "ok" else "yellow"
            table.add_row(escape(item.key), f"[{color}]{status}[/]",
                          escape(_value(item.expected)), escape(_value(item.found)),
                          escape(item.note))
        con.print(table)
    else:
        con.print(f"verify against {escape(str(result.lock_file))}")
    if not show_all and matched:
        con.print(f"{matched} items match the lock (not listed; --all lists them)")
    counts = ", ".join(f"{n} {k}" for k, n in sorted(result.counts.items()))
    verdict = "[green]matches the lock[/]" if result.ok else \
        f"[red]{len(result.failing)} differences that matter[/]"
    con.print(f"{counts}; {len(result.warnings)} warnings; {verdict}")


@lab_task(help={
    "lock": "the lock file to compare with (default: lab.lock_file)",
    **flags.help_for(json_=" (the comparison)"),
    "strict": "make every difference matter, also those lab.verify.warn lists",
    "all_": "list every compared item, also those that match (default: only the "
           "differences and a count of the matches; --json always has every item)",
})
def verify(c, lock=None, json_=False, strict=False, all_=False):
    """Compare this machine with a lock file: each item ok / different / missing.

    Collects the same items as `invoke lock` and prints what differs: per item, what
    the lock expects and what was found here, then how many items matched (--all
    lists those too). Exits non-zero when a difference matters.
    Which differences only warn is set by lab.verify.warn (shell globs on item
    names, default "tool.*" and "demo.binaries.*"); lab.verify.ignore lists items
    not compared at all.
    """
    from pathlib import Path

    from ..errors import LabError
    from ..settings import LabSettings
    from ..lock.compare import verify_lock

    settings = LabSettings.from_context(c)
    with _hash_progress(settings, not json_) as on_bytes:
        result = verify_lock(settings, Path(lock) if lock else None, strict=strict,
                             on_bytes=on_bytes)
    emit(result, json_, lambda con, r: _render_verify(con, r, show_all=all_))
    if not result.ok:
        shown = ", ".join(result.failing[:5]) + (" …" if len(result.failing) > 5 else "")
        raise LabError(f"this machine differs from the lock in {len(result.failing)} "
                       f"item(s) that matter: {shown}", where=str(result.lock_file),
                       hint="bring the machine to the locked state (e.g. `invoke fetch-lib "
                            "--locked`), or run `invoke lock` to accept the new state; list "
                            "harmless items under lab.verify.warn in invoke.yaml")


def _render_lab(con, run) -> None:
    from rich.markup import escape
    from rich.table import Table

    hosts = Table(title=f"invoke {run.task} on {len(run.hosts)} hosts "
                        f"({'parallel' if run.parallel else 'serial'})")
    hosts.add_column("host", overflow="fold", max_width=28)
    hosts.add_column("status", no_wrap=True)
    hosts.add_column("s", justify="right", no_wrap=True)
    hosts.add_column("reason / result", overflow="fold", ratio=1)
    color = {"ok": "green", "failed": "red", "timeout": "magenta", "unreachable": "red"}
    for o in run.hosts:
        detail = o.reason or (str(o.result_file) if o.result_file else "")
        name = escape(o.name) if o.name == o.address else \
            f"{escape(o.name)}\n[dim]{escape(o.address)}[/]"
        hosts.add_row(name, f"[{color.get(o.status, 'red')}]{o.status}[/]",
                      f"{o.elapsed_s:.1f}", escape(detail))
    con.print(hosts)
    answered = [o.name for o in run.hosts if o.result is not None]
    if len(answered) < 2:
        con.print(f"{len(answered)} host(s) returned JSON: nothing to compare across hosts")
    elif not run.differences:
        con.print(f"[green]the {len(answered)} hosts that answered agree[/] "
                  "(times and paths aside)")
    else:
        limit = run.max_rows
        diff = Table(title=f"where the hosts differ ({len(run.differences)} values)")
        diff.add_column("value", overflow="fold")
        for name in answered:
            diff.add_column(escape(name), overflow="fold")
        for d in run.differences[:limit]:
            diff.add_row(escape(d.key), *(escape(_value(d.values.get(n))) for n in answered))
        con.print(diff)
        if len(run.differences) > limit:
            con.print(f"… {len(run.differences) - limit} more in {run.summary_file}")
    con.print(f"per-host JSON and logs under {run.summary_file.parent if run.summary_file else ''}")


@lab_task(help={
    "hosts": "comma-separated hosts: names of lab.hosts entries in invoke.yaml, or "
             "user@host:port (default: every lab.hosts entry)",
    "task": "the task each host runs with --json: doctor | verify | fetch-lib | bench | "
            "quickstart (default: doctor)",
    "args": "extra arguments for the remote task, one shell-quoted string "
            "(e.g. --args '--locked')",
    "timeout": "seconds each host's task may run before it is killed there and marked "
               "timed out (default: the host's `timeout`, else lab.lab.timeout)",
    "parallel": "run all hosts at once, one thread each (the default, lab.lab.parallel)",
    "serial": "run the hosts one after another",
    **flags.help_for(dry_run=" (the ssh command each host would run)",
                     json_=" (the whole run: every host's JSON, the differences)"),
}, numbers={"timeout": flags.SECONDS})
def lab(c, hosts=None, task="doctor", args=None, timeout=None, parallel=False, serial=False,
        dry_run=False, json_=False):
    """Run one lab task on many hosts over SSH (Fabric) and show where they differ.

    Each host runs `invoke TASK --json` in its project checkout with the environment
    its config gives (PATH, LD_LIBRARY_PATH: remote shells do not load ~/.bashrc).
    A per-host timeout keeps one hung host from blocking the others. Each host's
    JSON and log go to <results_dir>/lab/<host>/TASK.{json,log}, the run's summary
    to <results_dir>/lab/TASK.json. The table shows each host's status (ok, failed,
    timeout, unreachable) with the reason, then the values that differ between
    hosts (driver, TensorRT, library, latencies, ...). Exits non-zero when a host
    did not finish ok. Hosts and defaults: lab.hosts and lab.lab in invoke.yaml.
    """
    import shlex
    import sys

    from ..errors import LabError
    from ..hosts.remote import execute_lab, plan_lab
    from ..settings import LabSettings

    if parallel and serial:
        raise LabError("--parallel and --serial exclude each other", hint="pick one")
    settings = LabSettings.from_context(c)
    names = [h for h in hosts.split(",") if h.strip()] if hosts else \
        list(settings.hosts)
    if not names:
        raise LabError("no hosts given and none configured",
                       hint="pass --hosts user@host:port,... or add entries under lab.hosts "
                            "in invoke.yaml (see docs/lab.md)")
    try:
        extra = shlex.split(args or "")
    except ValueError as exc:
        raise LabError(f"cannot split --args: {exc}", hint="quote it as one shell string")
    seconds = timeout      # parsed by @lab_task(numbers=...): None or a number > 0
    mode = True if parallel else (False if serial else None)
    plan = plan_lab(settings, names, task, extra, seconds, mode)
    if dry_run:
        sys.stdout.write(plan.script())
        return

    def on_done(o):
        if not json_:
            from rich.console import Console
            Console(stderr=True, highlight=False).print(
                f"  {o.name}: {o.status} ({o.elapsed_s:.1f}s)")

    run = execute_lab(plan, on_done=on_done)
    emit(run, json_, _render_lab)
    if not run.ok:
        bad = [f"{o.name} ({o.status})" for o in run.hosts if o.status != "ok"]
        raise LabError(f"{len(bad)} of {len(run.hosts)} hosts did not finish ok: "
                       f"{', '.join(bad)}", where=str(run.summary_file),
                       hint="see the reasons above and each host's log under "
                            f"{run.summary_file.parent}")
