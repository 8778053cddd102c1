"""Flags, declared once: numeric ranges and parsers, and the words every task shares.

Every numeric option of every task is a `Number` here (or a `NumberList` for comma
lists). A task names its numeric flags in `@lab_task(numbers={...})` (toolchain.cli),
which parses them *before* the task body runs, so `--batch-size 0`, `--repeats -1`,
`--warmup abc` or `--limit 10**15` stop with one LabError that states the allowed
range, before anything is loaded, downloaded or built. "Not given" is None
everywhere (the task then uses its configured default); a value is never replaced
silently.

    int_flag("0", "batch-size", 1, 4096)
    LabError: --batch-size must be an integer from 1 to 4096, got 0

The task signature keeps `None` as the default (Invoke then makes a string flag
and never casts, so a bad value reaches us instead of a traceback); `metavar`
("INT", "FLOAT", "INT[,INT...]") is what `invoke --help TASK` shows instead of
STRING (toolchain.cli installs that).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import LabError

__all__ = ["Number", "NumberList", "flag_name", "int_flag", "float_flag", "parse_numbers",
           "HELP", "help_for", "precision_of", "choice"]


def flag_name(param: str) -> str:
    """'batch_size' -> '--batch-size', 'n' -> '-n' (how the user typed it)."""
    name = param.lstrip("-").rstrip("_").replace("_", "-")
    return f"-{name}" if len(name) == 1 else f"--{name}"


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class Number:
    """One numeric flag: `kind` int or float, inclusive bounds (lo excluded if lo_open)."""

    kind: type
    lo: float
    hi: float
    lo_open: bool = False
    special: str = ""          # what a bound value means, e.g. "0 = all cores"
    example: str = ""          # a sensible value for the hint (default: the lowest allowed)

    @property
    def metavar(self) -> str:
        return "INT" if self.kind is int else "FLOAT"

    def range_text(self) -> str:
        """'an integer from 1 to 4096', 'a number above 0 and at most 600'."""
        if self.kind is int:
            text = f"an integer from {_fmt(self.lo)} to {_fmt(self.hi)}"
        elif self.lo_open:
            text = f"a number above {_fmt(self.lo)} and at most {_fmt(self.hi)}"
        else:
            text = f"a number from {_fmt(self.lo)} to {_fmt(self.hi)}"
        return text + (f" ({self.special})" if self.special else "")

    def help(self, text: str) -> str:
        """The flag's help line with its range appended: '...; an integer from 1 to 4096.'"""
        return f"{text.rstrip('.')}; {self.range_text()}"

    def parse(self, value: Any, name: str) -> int | float | None:
        """None -> None; else the checked number, or a LabError naming the range."""
        if value is None:
            return None
        flag = flag_name(name)
        text = str(value).strip()
        example = self.example or _fmt(min(self.hi, self.lo + 1) if self.lo_open else self.lo)
        bad = LabError(f"{flag} must be {self.range_text()}, got {text or repr(value)}",
                       hint=f"e.g. {flag} {example}, or leave it out for the default")
        if isinstance(value, bool):
            raise bad
        try:
            number = int(text, 10) if self.kind is int else float(text)
        except (TypeError, ValueError):
            raise bad from None
        if self.kind is float and not math.isfinite(number):
            raise bad
        if number < self.lo or number > self.hi or (self.lo_open and number == self.lo):
            raise bad
        return number


@dataclass(frozen=True)
class NumberList:
    """A comma list of numbers, each a `item` Number, no empty list, duplicates dropped."""

    item: Number
    max_items: int = 64

    @property
    def metavar(self) -> str:
        return f"{self.item.metavar}[,{self.item.metavar}...]"

    def range_text(self) -> str:
        return f"a comma list of {self.item.range_text().replace('an integer', 'integers')}"

    def help(self, text: str) -> str:
        return f"{text.rstrip('.')}; {self.range_text()}"

    def parse(self, value: Any, name: str) -> list | None:
        if value is None:
            return None
        flag = flag_name(name)
        parts = [p.strip() for p in str(value).split(",")]
        if not any(parts) or "" in parts or len(parts) > self.max_items:
            raise LabError(f"{flag} must be {self.range_text()} (at most {self.max_items}), "
                           f"got {str(value)!r}",
                           hint=f"e.g. {flag} {_fmt(max(self.item.lo, 1))},"
                                f"{_fmt(max(self.item.lo, 1) * 4)}")
        return list(dict.fromkeys(self.item.parse(p, name) for p in parts))


def int_flag(value: Any, name: str, lo: int, hi: int) -> int | None:
    """An integer flag from lo to hi (None stays None)."""
    return Number(int, lo, hi).parse(value, name)


def float_flag(value: Any, name: str, lo: float, hi: float, lo_open: bool = False
               ) -> float | None:
    """A finite number flag from lo (excluded if lo_open) to hi (None stays None)."""
    return Number(float, lo, hi, lo_open).parse(value, name)


def parse_numbers(specs: dict[str, Number | NumberList], values: dict[str, Any]) -> dict:
    """{param: value} with every param in `specs` parsed; the others unchanged."""
    out = dict(values)
    for param, spec in specs.items():
        if param in out:
            out[param] = spec.parse(out[param], param.rstrip("_"))
    return out


# The lab's numeric flags (one vocabulary: the same name means the same range).
BATCH_SIZE = Number(int, 1, 4096)
WARMUP = Number(int, 0, 100_000, example="10")
REPEATS = Number(int, 1, 100_000, example="100")
RUN_THREADS = Number(int, 0, 1024, special="0 = all cores")
THREADS = Number(int, 1, 1024)
LIMIT = Number(int, 1, 1_000_000_000, example="100")
JOBS = Number(int, 1, 1024)
BATCH_NUMS = Number(int, 1, 100_000, example="10")
SAMPLE_IMAGES = Number(int, 10, 1740, example="400")
SECONDS = Number(float, 0, 7 * 24 * 3600, lo_open=True, example="60")
TOLERANCE = Number(float, 0, 1, lo_open=True, example="0.05")
TOP1_DROP = Number(float, -100, 100, example="1")
SPEEDUP = Number(float, 0, 1000, lo_open=True, example="1.5")
BATCH_SIZES = NumberList(BATCH_SIZE)
SAMPLE_SIZE = Number(int, 1, 1_000_000, example="1024")
SEED = Number(int, 0, 2 ** 32 - 1, example="0")
CYCLES = Number(int, 3, 100_000, example="50")
SLOPE_KB = Number(float, 0, 1_000_000, example="64")
COMPARE_IMAGES = Number(int, 1, 100_000, example="32")
TOP = Number(int, 1, 100_000, example="10")
MAX_TOP1_DROP = Number(float, 0, 100, example="1")


# ---- the words every task shares ----------------------------------------------------------
# One spelling per idea: the Python parameter (json_, list_, all_, out, lib, dry_run ...)
# and one help text; a task may add a sentence after it (tests/unit/test_flag_vocabulary.py).
# "Not given" is None for every flag that has no on/off meaning.
HELP: dict[str, str] = {
    "json_": "print the result as JSON on stdout (progress and notes go to stderr)",
    "dry_run": "print what would be done as a shell script and change nothing",
    "cuda_root": "CUDA toolkit root (default lab.cuda_root, $CUDA_HOME, the nvcc on PATH)",
    "trt_root": "TensorRT root holding include/NvInfer.h and lib/libnvinfer.so "
                "(default lab.trt_root, then $TENSORRT_ROOT)",
    "lib": "a Paddle Inference library folder (paddle/include, paddle/lib, version.txt); "
           "default: the current library (the last fetch-lib / build-lib)",
    "int8": "INT8 (a quantized model; default dir <work_dir>/models/<default>/int8)",
    "fp16": "FP16 (GPU / TensorRT only)",
    "bf16": "BF16 (CPU only: the FP32 model through oneDNN's bfloat16 kernels; needs "
            "avx512_bf16 or amx_bf16)",
    "fp32": "FP32 (the default precision; default dir <work_dir>/models/<default>/fp32)",
    "model_dir": "model directory (model.pdmodel|model.json + model.pdiparams); default: the "
                 "lab.models.default model that quickstart / `invoke models` made",
    "runner": "auto (the C++ demo when it is built for the current library, else Python), "
              "cpp or python (default lab.run.runner)",
}


def help_for(*names: str, **own: str) -> dict[str, str]:
    """The shared help of `names`, plus a task's own texts (`own` may extend a shared one:
    a text starting with " " or ";" is appended, e.g. help_for(dry_run=" (the cmake commands)"))."""
    out = {n: HELP[n] for n in names}
    for key, text in own.items():
        out[key] = (HELP[key] + text) if key in HELP and text[:1] in (" ", ";") else text
    return out


PRECISIONS = ("fp32", "fp16", "int8", "bf16")


def precision_of(int8: bool, fp16: bool, fp32: bool, bf16: bool = False) -> str:
    """--int8 / --fp16 / --fp32 / --bf16 (at most one; none = fp32)."""
    chosen = [name for name, on in (("int8", int8), ("fp16", fp16), ("fp32", fp32),
                                    ("bf16", bf16)) if on]
    if len(chosen) > 1:
        raise LabError(f"pick one precision, got {' and '.join('--' + c for c in chosen)}")
    return chosen[0] if chosen else "fp32"


def choice(value: str | None, name: str, allowed: tuple[str, ...]) -> str | None:
    """A flag that takes one of `allowed` (None stays None)."""
    if value is None or value == "":
        return None
    if value not in allowed:
        raise LabError(f"{flag_name(name)} must be one of {', '.join(allowed)}, got {value!r}",
                       hint=f"e.g. {flag_name(name)} {allowed[0]}")
    return value
