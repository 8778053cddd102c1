"""What every task shares: error handling, output, --json.

Tasks are thin: parse flags, call the library, render the result. This module is
the only place that turns a LabError into one printed block and an exit code.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import Any, Callable

from invoke import Task, task
from invoke.exceptions import Exit

from .errors import LabError


def debug_enabled() -> bool:
    """`invoke --debug ...` (root logger at DEBUG) or PADDLE_TRT_LAB_DEBUG=1."""
    if os.environ.get("PADDLE_TRT_LAB_DEBUG", "") not in ("", "0"):
        return True
    return logging.getLogger().isEnabledFor(logging.DEBUG)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(err: LabError) -> None:
    from rich.markup import escape

    con = _stderr_console()
    con.print(f"[bold red]error:[/] {escape(err.message)}")
    if err.where:
        con.print(f"  [bold]where:[/] {escape(str(err.where))}")
    if err.hint:
        con.print(f"  [bold]fix:[/]   {escape(err.hint)}")


def lab_task(*args: Any, numbers: dict | None = None, **kwargs: Any) -> Callable:
    """`@lab_task(help={...}, numbers={...})`: an Invoke task whose LabError becomes a clean exit.

    Use exactly like `invoke.task`; the wrapped body keeps its signature, so
    Invoke still derives the flags from it. `numbers` maps a parameter to its
    toolchain.flags spec (Number / NumberList): the value is parsed and
    range-checked before the body runs (None = not given stays None), the
    flag's help gets the allowed range appended, and `invoke --help TASK`
    shows INT / FLOAT instead of STRING. Give numeric parameters a default of
    None, so that Invoke passes the text through and never casts it itself.
    """
    numbers = dict(numbers or {})

    def decorate(body: Callable) -> Any:
        @functools.wraps(body)
        def run(c, *a: Any, **kw: Any) -> Any:
            try:
                if numbers:
                    from .flags import parse_numbers

                    kw = parse_numbers(numbers, kw)
                return body(c, *a, **kw)
            except LabError as err:
                if debug_enabled():
                    raise
                print_error(err)
                raise Exit(code=err.exit_code) from None
            except KeyboardInterrupt:
                if debug_enabled():
                    raise
                _stderr_console().print("[bold red]interrupted[/]")
                raise Exit(code=130) from None
            except BrokenPipeError:
                # `invoke fetch-lib --list | head`: the reader left; stop quietly, as
                # ls and grep do, and keep Python from complaining at exit.
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                raise Exit(code=141) from None

        opts = dict(kwargs)
        if numbers:
            helps = dict(opts.get("help") or {})
            for param, spec in numbers.items():
                for key in (param, param.replace("_", "-"), param.rstrip("_")):
                    if key in helps:
                        helps[key] = spec.help(helps[key])
                        break
            opts["help"] = helps
        opts.setdefault("klass", _LabTask)
        t = task(*args, **opts)(run)
        if numbers:
            t.metavars = {p: spec.metavar for p, spec in numbers.items()}
        return t

    if len(args) == 1 and callable(args[0]) and not kwargs and not numbers:
        body, args = args[0], ()
        return decorate(body)
    return decorate


class _LabTask(Task):
    """A Task whose numeric flags carry a `metavar` (INT, FLOAT) for `invoke --help`, and
    whose automatic short flags are letters only: Invoke would otherwise hand out "-1" to
    --bf16 (so `--batch-size=-1` parses as a flag) or "--" to --trt-disable-ops."""

    metavars: dict = {}

    def arg_opts(self, name: str, default: str, taken_names: set) -> dict:
        opts = super().arg_opts(name, default, taken_names)
        names = opts["names"]
        if len(names) == 2 and not names[1].isalpha():
            opts["names"] = names[:1]
        return opts

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list:
        arguments = super().get_arguments(ignore_unknown_help=ignore_unknown_help)
        for arg in arguments:
            metavar = self.metavars.get(arg.attr_name or arg.name)
            if metavar:
                arg.metavar = metavar
        return arguments


def install_parser_hooks() -> None:
    """Two small additions to the stock `invoke` parser (users run the stock binary,
    so there is no Program subclass to hook): `invoke --help TASK` shows a numeric
    flag's metavar (INT, FLOAT) instead of STRING, and "No idea what '--batch' is!"
    gains "Did you mean --batch-size?". Both only add to Invoke's own output; with an
    Invoke that lacks these methods they do nothing. Idempotent.
    """
    try:
        from invoke.parser import ParserContext
        from invoke.parser.parser import ParseMachine

        original_help_for = ParserContext.help_for
        original_error = ParseMachine.error
    except (ImportError, AttributeError):
        return
    if getattr(original_help_for, "_lab_hook", False):
        return

    def help_for(self, flag):
        namestr, helpstr = original_help_for(self, flag)
        metavar = getattr(self.flags[flag], "metavar", None)
        if metavar:
            namestr = namestr.replace("=STRING", f"={metavar}").replace(" STRING", f" {metavar}")
        return namestr, helpstr

    def error(self, msg):
        try:
            msg = msg + did_you_mean(msg, self.context, self.contexts)
        except Exception:   # never let a suggestion hide Invoke's own message
            pass
        return original_error(self, msg)

    help_for._lab_hook = True
    ParserContext.help_for = help_for
    ParseMachine.error = error
    _hook_env_and_help()


def _hook_env_and_help() -> None:
    """Failures that happen in Invoke itself, before any task runs, as one message and an
    exit code instead of a traceback: an INVOKE_LAB_* variable that does not cast to its
    setting's type (INVOKE_LAB_FETCH_RETRIES=many) or sets a list, and `invoke --help TASK
    | head` (the reader left while help was printed: stop quietly with 141, as a task
    does). Bare `invoke --help` prints before tasks.py is loaded, out of reach."""
    try:
        from invoke.env import Environment
        from invoke.exceptions import UncastableEnvVar
        from invoke.program import Program
    except ImportError:
        return
    original_path_set = Environment._path_set

    def path_set(self, key_path, value):
        try:
            return original_path_set(self, key_path, value)
        except (ValueError, TypeError, UncastableEnvVar) as err:
            name = self._prefix + self._to_env_var(key_path)
            old = self._path_get(key_path)
            setting = ".".join(key_path)
            if isinstance(old, (list, tuple)):
                raise Exit(f"error: {name} cannot set the list setting {setting} (default "
                           f"{list(old)!r}): Invoke reads no lists from the environment\n"
                           f"  where: the environment\n"
                           f"  fix:   unset {name}, and set {setting} as a YAML list in "
                           "invoke.yaml", code=2) from None
            kind = {int: "an integer", float: "a number"}.get(type(old), type(old).__name__)
            raise Exit(f"error: {name}={value!r} is not {kind} (the setting "
                       f"{setting}, default {old!r})\n"
                       f"  where: the environment ({err})\n"
                       f"  fix:   set {name} to {kind}, or unset it", code=2) from None

    def quiet_on_broken_pipe(method):
        @functools.wraps(method)
        def wrapped(self, *a, **kw):
            try:
                return method(self, *a, **kw)
            except BrokenPipeError:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                raise Exit(code=141) from None
        return wrapped

    Environment._path_set = path_set
    # core --help prints from parse_collection; --list and TASK --help from parse_cleanup
    Program.print_help = quiet_on_broken_pipe(Program.print_help)
    Program.parse_cleanup = quiet_on_broken_pipe(Program.parse_cleanup)


def did_you_mean(msg: str, context: Any, contexts: Any) -> str:
    """' Did you mean --batch-size?' for Invoke's "No idea what '--batch' is!" (or '')."""
    import difflib
    import re

    m = re.fullmatch(r"No idea what '(.+)' is!", msg)
    if not m:
        return ""
    token = m.group(1)
    if token.startswith("-"):
        if context is None or not getattr(context, "name", None):
            return ""
        known = sorted(set(context.flags) | set(context.inverse_flags))
        known = [k for k in known if k.startswith("--")]
        where = f" (`invoke --help {context.name}` lists its flags)"
        stem = token.split("=", 1)[0]
    else:
        known = sorted(contexts or ())
        where = " (`invoke --list` lists the tasks)"
        stem = token
    prefixed = [k for k in known if k.startswith(stem) and len(stem) >= 3]
    close = prefixed[:1] or difflib.get_close_matches(stem, known, n=1, cutoff=0.6)
    if close:
        return f" Did you mean {close[0]}?{where}"
    return where


def console():
    """The stdout console for tables and progress."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def emit(result: Any, as_json: bool, render: Callable[[Any, Any], None]) -> None:
    """Print a result: its JSON with `--json`, else `render(console, result)`."""
    if as_json:
        sys.stdout.write(result.to_json() + "\n")
        sys.stdout.flush()
    else:
        render(console(), result)
