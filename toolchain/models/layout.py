"""What is inside a model directory: format, file names, quantized or not, sha256.

Two on-disk formats of a Paddle inference model:
- "legacy": a ProgramDesc protobuf (`*.pdmodel`, or PaddleSlim's `model`) + `*.pdiparams`
  (`params`); written when FLAGS_enable_pir_api=0 is set before paddle is imported.
- "pir": Paddle 3.x's PIR program as JSON (`*.json`) + `*.pdiparams`.

The lab writes one model per directory: `model.pdmodel|model.json` + `model.pdiparams`,
and a `lab_model.json` record next to them (name, kind, format, sha256, ...).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError
from ..fsio import atomic_write_bytes, atomic_write_json, hash_file_into

PROGRAM_NAMES = {"legacy": "model.pdmodel", "pir": "model.json"}
PARAMS_NAME = "model.pdiparams"
RECORD_NAME = "lab_model.json"
# Op names a quantized program carries. A legacy program also lists every op
# name once in its op-version map, so fake-quant names count only when repeated.
QUANT_OPS = (b"quantize_linear",)
FAKE_QUANT_OPS = (b"fake_quantize", b"fake_channel_wise_quantize", b"fake_dequantize",
                  b"fake_channel_wise_dequantize")
# Debug-only op attributes that tie a program's bytes to where it was written:
# Paddle records the Python call stack of each op it creates (absolute paths of
# the venv and the checkout, line numbers of our code); clip_extra drops it from
# most ops on save but not from feed/fetch. Inference never reads it.
DEBUG_ATTRS = ("op_callstack",)


@dataclass
class ModelFiles:
    dir: Path
    format: str          # "legacy" | "pir"
    program: Path
    params: Path

    def quantized(self) -> bool:
        """True when the program holds quantize/dequantize ops (an INT8 model)."""
        data = self.program.read_bytes()
        return (any(m in data for m in QUANT_OPS)
                or any(data.count(m) > 1 for m in FAKE_QUANT_OPS))

    def sha256(self) -> str:
        """sha256 over program and params bytes: the identity of this model."""
        h = hashlib.sha256()
        for p in (self.program, self.params):
            h.update(p.name.encode() + b"\0")
            hash_file_into(h, p)
        return h.hexdigest()

    def record(self) -> dict:
        """The lab_model.json beside the files ({} for a model made elsewhere)."""
        try:
            return json.loads((self.dir / RECORD_NAME).read_text())
        except (FileNotFoundError, ValueError):
            return {}


def _pair(model_dir: Path, program: Path) -> Path | None:
    """The params file that belongs to `program` (same stem, or PaddleSlim's `params`)."""
    if program.suffix == ".json":       # any other JSON beside a model is not a program
        cands: tuple[Path, ...] = (program.with_suffix(".pdiparams"),)
    else:
        cands = (program.with_suffix(".pdiparams"), model_dir / PARAMS_NAME,
                 model_dir / "params")
    for cand in cands:
        if cand.is_file():
            return cand
    return None


def find_model_files(model_dir: Path | str) -> ModelFiles:
    """Locate program + params in `model_dir`; LabError says what is missing.

    Legacy wins when a directory holds both formats (it is what oneDNN INT8 and
    the C++ demo run).
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise LabError(f"model directory not found: {model_dir}", where=str(model_dir),
                       hint="run `invoke quickstart` (offline: data, models and INT8 in one "
                            "go), or step by step `invoke models --export small_cnn` (FP32), "
                            "then `invoke quantize` (INT8); or pass --model-dir")
    candidates: list[tuple[str, Path]] = []
    for fmt, name in PROGRAM_NAMES.items():
        if (model_dir / name).is_file():
            candidates.append((fmt, model_dir / name))
    for p in sorted(model_dir.glob("*.pdmodel")):
        candidates.append(("legacy", p))
    if (model_dir / "model").is_file():
        candidates.append(("legacy", model_dir / "model"))
    if (model_dir / "__model__").is_file():
        candidates.append(("legacy", model_dir / "__model__"))
    for p in sorted(model_dir.glob("*.json")):
        if p.name != RECORD_NAME:
            candidates.append(("pir", p))
    for fmt, program in sorted(candidates, key=lambda c: c[0] != "legacy"):
        params = _pair(model_dir, program)
        if params is not None:
            return ModelFiles(dir=model_dir, format=fmt, program=program, params=params)
    raise LabError(
        f"no Paddle inference model in {model_dir}",
        where=str(model_dir),
        hint="a model directory holds model.pdmodel (or model.json) + model.pdiparams; "
             "export one with `invoke models --export small_cnn`")


def strip_debug_attrs(program: Path) -> int:
    """Drop DEBUG_ATTRS from every op of a legacy (.pdmodel) program, in place.

    Returns how many attributes were removed (0: file untouched). The rewrite is
    deterministic protobuf serialization into a temp file beside it, then a
    rename. Worker side: imports paddle's protobuf module (so paddle itself).
    """
    from paddle.base.proto import framework_pb2

    program = Path(program)
    desc = framework_pb2.ProgramDesc()
    desc.ParseFromString(program.read_bytes())
    removed = 0
    for block in desc.blocks:
        for op in block.ops:
            for i in reversed(range(len(op.attrs))):
                if op.attrs[i].name in DEBUG_ATTRS:
                    del op.attrs[i]
                    removed += 1
    if not removed:
        return 0
    atomic_write_bytes(program, desc.SerializeToString(deterministic=True))
    return removed


def write_record(model_dir: Path, record: dict) -> None:
    atomic_write_json(Path(model_dir) / RECORD_NAME, record)
