"""One module per task namespace; each defines Invoke tasks and nothing else.

`collection()` gathers every task of every module here into the root
Collection, so `invoke doctor`, `invoke fetch-lib`, ... are flat names while the
code stays split by concern. A module is found by being here: adding a task
needs no edit to tasks.py.
"""

from __future__ import annotations

import importlib
import pkgutil

from invoke import Collection, Task


def collection() -> Collection:
    from ..cli import install_parser_hooks

    install_parser_hooks()
    ns = Collection()
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Task) and value.__module__ == module.__name__:
                ns.add_task(value)
    return ns
