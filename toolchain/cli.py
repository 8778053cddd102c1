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

from invoke import task
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


def lab_task(*args: Any, **kwargs: Any) -> Callable:
    """`@lab_task(help={...})`: an Invoke task whose LabError becomes a clean exit.

    Use exactly like `invoke.task`; the wrapped body keeps its signature, so
    Invoke still derives the flags from it.
    """

    def decorate(body: Callable) -> Any:
        @functools.wraps(body)
        def run(c, *a: Any, **kw: Any) -> Any:
            try:
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

        return task(*args, **kwargs)(run)

    if len(args) == 1 and callable(args[0]) and not kwargs:
        body, args = args[0], ()
        return decorate(body)
    return decorate


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
