"""Where findings come from: commands (argument lists, each with a timeout) and file reads.

A missing tool or file becomes a "not found" Finding, never an exception; output
that a parser cannot read becomes "unparsed" with its raw text.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .report import ERROR, FOUND, NOT_FOUND, TIMEOUT, UNPARSED, Finding

RAW_LIMIT = 4000


@dataclass
class ToolOutput:
    """What one command printed. status: ran | not found | timeout | error."""

    argv: list[str]
    status: str
    returncode: int | None = None
    text: str = ""

    @property
    def command(self) -> str:
        return " ".join(self.argv)

    @property
    def ok(self) -> bool:
        return self.status == "ran" and self.returncode == 0


def run_tool(argv: list[str], timeout: float) -> ToolOutput:
    """Run a command (argument list) with a timeout; stdout and stderr together."""
    exe = argv[0] if os.sep in argv[0] else shutil.which(argv[0])
    if not exe or not os.access(exe, os.X_OK):
        return ToolOutput(argv, NOT_FOUND)
    try:
        proc = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, errors="replace",
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return ToolOutput(argv, TIMEOUT, text=f"no answer within {timeout:g} s")
    except OSError as exc:
        return ToolOutput(argv, ERROR, text=str(exc))
    return ToolOutput(argv, "ran", proc.returncode, (proc.stdout or "") + (proc.stderr or ""))


def run_tools(commands: dict[str, list[str]], timeout: float) -> dict[str, ToolOutput]:
    """Run independent commands at once (each still has its own timeout)."""
    if not commands:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(commands))) as pool:
        futures = {key: pool.submit(run_tool, argv, timeout) for key, argv in commands.items()}
        return {key: fut.result() for key, fut in futures.items()}


def read_text(path: Path) -> str | None:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return None


def clip_raw(text: str | None) -> str | None:
    return None if text is None else text[:RAW_LIMIT]


def tool_finding(section: str, name: str, out: ToolOutput, value: str | None,
                 details: dict | None = None) -> Finding:
    """A Finding for a command: found / not found / timeout / unparsed (with raw text)."""
    if out.status != "ran":
        return Finding(section, name, out.status, source=out.command,
                       raw=clip_raw(out.text) or None)
    if value is None:
        return Finding(section, name, UNPARSED, source=out.command, raw=clip_raw(out.text),
                       details={"returncode": out.returncode, **(details or {})})
    return Finding(section, name, FOUND, value, source=out.command, details=details or {})


def file_finding(section: str, name: str, path: Path, value: str | None,
                 text: str | None, details: dict | None = None) -> Finding:
    if text is None:
        return Finding(section, name, NOT_FOUND, source=str(path))
    if value is None:
        return Finding(section, name, UNPARSED, source=str(path), raw=clip_raw(text))
    return Finding(section, name, FOUND, value, source=str(path), details=details or {})


def existing_unique_dirs(paths) -> list[Path]:
    """Existing directories, first occurrence of each real path kept, order preserved."""
    seen, out = set(), []
    for p in paths:
        if not p:
            continue
        p = Path(p)
        try:
            real = p.resolve()
        except OSError:
            continue
        if p.is_dir() and real not in seen:
            seen.add(real)
            out.append(p)
    return out

