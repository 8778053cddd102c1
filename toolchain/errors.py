"""The one error type every step raises for bad input or a failed check."""

from __future__ import annotations


class LabError(Exception):
    """A failure the user can act on: what is wrong, where, and how to fix it.

    Tasks print it as one block (see toolchain.cli) and exit non-zero; the
    traceback is shown only with `invoke --debug ...` or PADDLE_TRT_LAB_DEBUG=1.
    """

    def __init__(self, message: str, hint: str | None = None, where: str | None = None,
                 exit_code: int = 1):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.where = where
        self.exit_code = exit_code

    def __str__(self) -> str:
        parts = [self.message]
        if self.where:
            parts.append(f"where: {self.where}")
        if self.hint:
            parts.append(f"fix: {self.hint}")
        return "\n".join(parts)
