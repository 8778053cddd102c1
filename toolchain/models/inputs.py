"""A model's input (feed) shapes, read from its program file without importing paddle,
and the one check that a dataset's images fit the model's image input.

    read_model_inputs(files) -> [ModelInput(name, shape)] in feed order, or None
    static_image_shape(files) -> (C, H, W) of a fixed-size image input, or None
    check_images_fit_model(files, image_shape, source) -> None or LabError

Legacy (.pdmodel) programs are a ProgramDesc protobuf (paddle/fluid/framework/
framework.proto): block 0 holds `feed` ops (output `Out` = the input variable,
attribute `col` = its position) and the variables with their TensorDesc dims,
-1 for a dynamic dimension. A few protobuf wire-format fields are read here by
hand, so the check costs milliseconds and works where paddle is not installed
(the C++ demo path). PIR (.json) programs list `data` ops with `name` and
`shape` attributes. Anything unreadable gives None: no check, the engine
decides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import LabError

DYNAMIC = -1


@dataclass(frozen=True)
class ModelInput:
    name: str
    shape: tuple[int, ...]       # -1: dynamic (any size)


# --- protobuf wire format (only what ProgramDesc needs) ---------------------------------

class _WireError(ValueError):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _WireError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value): an int for varints, bytes for length-delimited."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, wire, value
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise _WireError("truncated field")
            yield number, wire, buf[pos:pos + size]
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise _WireError(f"unsupported wire type {wire}")
    if pos != len(buf):
        raise _WireError("truncated message")


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _first(buf: bytes, number: int):
    return next((v for n, _w, v in _fields(buf) if n == number), None)


def _tensor_dims(var_type: bytes) -> tuple[int, ...] | None:
    """VarType.lod_tensor(3).tensor(1).dims(2) of a dense tensor variable (field 3 is
    named dense_tensor in Paddle 3.x, same number)."""
    lod = _first(var_type, 3)
    tensor = _first(lod, 1) if isinstance(lod, bytes) else None
    if not isinstance(tensor, bytes):
        return None
    dims: list[int] = []
    for n, wire, v in _fields(tensor):
        if n != 2:
            continue
        if wire == 0:
            dims.append(_int64(int(v)))          # proto2 repeated int64: one field each
        elif isinstance(v, bytes):               # packed, should a writer pack them
            pos = 0
            while pos < len(v):
                d, pos = _varint(v, pos)
                dims.append(_int64(d))
    return tuple(dims)


def _legacy_inputs(data: bytes) -> list[ModelInput] | None:
    block0 = _first(data, 1)                     # ProgramDesc.blocks
    if not isinstance(block0, bytes):
        return None
    var_types: dict[str, bytes] = {}
    feeds: list[tuple[int, str]] = []
    for n, _w, v in _fields(block0):
        if n == 3 and isinstance(v, bytes):      # BlockDesc.vars: VarDesc name(1) type(2)
            name, vtype = _first(v, 1), _first(v, 2)
            if isinstance(name, bytes) and isinstance(vtype, bytes):
                var_types[name.decode()] = vtype       # dims read for the feeds only
        elif n == 4 and isinstance(v, bytes):    # BlockDesc.ops: OpDesc type(3)
            if _first(v, 3) != b"feed":
                continue
            col, out = 0, None
            for m, _w2, part in _fields(v):
                if m == 2 and isinstance(part, bytes):      # outputs: Var parameter(1) args(2)
                    if _first(part, 1) == b"Out":
                        arg = _first(part, 2)
                        out = arg.decode() if isinstance(arg, bytes) else None
                elif m == 4 and isinstance(part, bytes):    # attrs: name(1) i(3)
                    if _first(part, 1) == b"col":
                        col = int(_first(part, 3) or 0)
            if out:
                feeds.append((col, out))
    if not feeds:
        return None
    inputs = []
    for _col, name in sorted(feeds):
        shape = _tensor_dims(var_types[name]) if name in var_types else None
        if shape is None:
            return None
        inputs.append(ModelInput(name, shape))
    return inputs


def _pir_inputs(data: bytes) -> list[ModelInput] | None:
    program = json.loads(data)["program"]
    inputs = []
    for region in program.get("regions", [])[:1]:
        for block in region.get("blocks", [])[:1]:
            for op in block.get("ops", []):
                if not str(op.get("#", "")).endswith(".data"):
                    continue
                attrs = {a.get("N"): (a.get("AT") or {}).get("D") for a in op.get("A", [])
                         if isinstance(a, dict)}
                if not isinstance(attrs.get("shape"), list):
                    return None
                inputs.append(ModelInput(str(attrs.get("name", "")),
                                         tuple(int(d) for d in attrs["shape"])))
    return inputs or None


def read_model_inputs(files) -> list[ModelInput] | None:
    """The model's inputs in feed order (name, shape with -1 for dynamic), or None when
    the program cannot be read this way (then nothing is checked)."""
    try:
        data = Path(files.program).read_bytes()
        if files.format == "pir":
            return _pir_inputs(data)
        return _legacy_inputs(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        return None


def static_image_shape(files) -> tuple[int, ...] | None:
    """(C, H, W) of the model's first input when it is a batch of images of one fixed
    size ([-1, C, H, W]), else None (dynamic sizes, or not readable)."""
    inputs = read_model_inputs(files)
    shape = inputs[0].shape if inputs else ()
    if len(shape) == 4 and all(d > 0 for d in shape[1:]):
        return tuple(shape[1:])
    return None


def _fits(shape: tuple[int, ...], image_shape: tuple[int, ...]) -> bool:
    if len(shape) != len(image_shape) + 1:
        return False
    return all(want <= 0 or want == have for want, have in zip(shape[1:], image_shape))


def _dims(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def check_images_fit_model(files, image_shape: tuple[int, ...], source: str) -> None:
    """LabError unless the model's first input takes a batch of `image_shape` images.

    `source` names where the images come from ("dataset X"). A dynamic dimension
    (-1) fits any size; an unreadable program is not checked.
    """
    inputs = read_model_inputs(files)
    if not inputs:
        return
    first = inputs[0]
    if _fits(first.shape, tuple(image_shape)):
        return
    c, h, w = (tuple(image_shape) + (0, 0, 0))[:3]
    takes = ("x".join(str(d) if d > 0 else "?" for d in first.shape[1:]) + " images"
             if len(first.shape) == 4 else "no batch of CHW images")
    raise LabError(
        f"{source} holds {c}x{h}x{w} images, but the model {files.dir} takes {takes}: "
        f"input '{first.name}' has shape {_dims(first.shape)}",
        where=str(files.program),
        hint=f"the lab's datasets are {c}x{h}x{w} (`invoke preprocess` centre-crops {h} "
             "like Paddle's reference script; it has no other size): use a model whose input "
             f"is [-1, {c}, {h}, {w}] or has dynamic height and width (-1), e.g. the lab's "
             "own `invoke models --export small_cnn`, or export this model again with that "
             "input shape")


def check_dataset_fits_model(files, data_file: Path | str) -> None:
    """check_images_fit_model for a lab dataset (bin file or slim-dir), whose images are
    binfmt.IMAGE_SHAPE."""
    from ..data.binfmt import IMAGE_SHAPE

    check_images_fit_model(files, IMAGE_SHAPE, f"dataset {data_file}")


def check_same_inputs(models: dict[str, Any]) -> None:
    """LabError when models compared side by side (name -> ModelFiles, e.g. a model's FP32
    and INT8 folders) take different inputs; unreadable programs are not checked."""
    read = {name: read_model_inputs(files) for name, files in models.items()}
    known = {name: inputs for name, inputs in read.items() if inputs}
    if len({tuple(i) for i in known.values()}) <= 1:
        return
    described = "; ".join(f"{name} ({models[name].dir}): "
                          + ", ".join(f"'{i.name}' {_dims(i.shape)}" for i in inputs)
                          for name, inputs in known.items())
    raise LabError(f"these models take different inputs, so their numbers do not compare: "
                   f"{described}", where=str(next(iter(models.values())).dir),
                   hint="quantize the FP32 model again (`invoke quantize --model-dir "
                        "<fp32 dir>`) so that both come from the same export")
