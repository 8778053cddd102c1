"""What reached TensorRT: Paddle-TRT's log and TensorRT's engine-inspector output, read.

Pure: text in, TrtCoverage out. Paddle logs one "detect a sub-graph with N nodes" line per
sub-graph it hands to TensorRT, "Run Paddle-TRT <PRECISION> mode" per engine, and
"Prepare TRT engine" (a build) or "Load TRT Optimized Info from" (a cached engine). With
enable_tensorrt_inspector the engine's layers follow as TensorRT's kJSON layer information:
{"Layers": [...]} (names only unless the engine was built with detailed verbosity) or one
{"Name": ..., "LayerType": ..., "Outputs": [{"Format/Datatype": ...}]} object per layer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..results import JsonResult

_SUBGRAPH = re.compile(r"detect a sub-graph with (\d+) nodes")
_MODE = re.compile(r"Run Paddle-TRT (\w+) mode")
_BUILD = re.compile(r"Prepare TRT engine")
_LOAD = re.compile(r"Load TRT Optimized Info from (\S+)")
_PRECISION = re.compile(r"\b(FP32|FP16|BF16|FP8|FP4|INT8|Int8|INT4|Int32|INT32|Int64|Bool|"
                        r"UInt8|Half|Float)\b")
_PRECISION_NAMES = {"half": "FP16", "float": "FP32", "int8": "INT8", "int32": "INT32",
                    "int64": "INT64", "bool": "BOOL", "uint8": "UINT8", "int4": "INT4"}


@dataclass
class TrtLayer(JsonResult):
    name: str
    layer_type: str | None = None
    precision: str | None = None      # of its first output; None when built without detail


@dataclass
class TrtCoverage(JsonResult):
    subgraph_nodes: list[int] = field(default_factory=list)   # ops per TensorRT sub-graph
    engine_modes: list[str] = field(default_factory=list)     # FP32 / FP16 / INT8 per engine
    engines_built: int = 0
    engines_loaded: list[str] = field(default_factory=list)   # serialized engine paths
    layers: list[TrtLayer] = field(default_factory=list)
    ops_total: int | None = None                              # the model's op count, if known

    @property
    def ops_in_trt(self) -> int:
        return sum(self.subgraph_nodes)

    @property
    def ops_outside_trt(self) -> int | None:
        return None if self.ops_total is None else max(self.ops_total - self.ops_in_trt, 0)

    def precision_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for layer in self.layers:
            key = layer.precision or "unknown"
            out[key] = out.get(key, 0) + 1
        return out

    def to_dict(self) -> dict:
        data = super().to_dict()
        data.update(ops_in_trt=self.ops_in_trt, ops_outside_trt=self.ops_outside_trt,
                    precision_counts=self.precision_counts())
        return data

    def summary(self) -> str:
        """One line for the run's report."""
        parts = [f"{len(self.subgraph_nodes)} TensorRT sub-graph(s), {self.ops_in_trt} op(s) "
                 "inside"]
        if self.ops_outside_trt is not None:
            parts.append(f"{self.ops_outside_trt} outside")
        if self.engine_modes:
            parts.append("mode " + "/".join(sorted(set(self.engine_modes))))
        if self.engines_built or self.engines_loaded:
            parts.append(f"{self.engines_built} built, {len(self.engines_loaded)} loaded")
        if self.layers:
            parts.append("layers " + ", ".join(f"{k} {v}" for k, v in
                                               sorted(self.precision_counts().items())))
        return "; ".join(parts)


def _precision(fmt: str | None) -> str | None:
    m = _PRECISION.search(fmt or "")
    if not m:
        return None
    word = m.group(1)
    return _PRECISION_NAMES.get(word.lower(), word.upper())


def _layer(obj) -> TrtLayer | None:
    if isinstance(obj, str):
        return TrtLayer(name=obj)
    if not isinstance(obj, dict) or "Name" not in obj:
        return None
    outputs = obj.get("Outputs") or obj.get("Inputs") or []
    fmt = outputs[0].get("Format/Datatype") if outputs and isinstance(outputs[0], dict) else None
    return TrtLayer(name=str(obj["Name"]), layer_type=obj.get("LayerType"),
                    precision=_precision(fmt))


def _json_objects(text: str):
    """Every JSON object in `text` that starts with a "Layers" or "Name" key."""
    decoder = json.JSONDecoder()
    pos = 0
    while True:
        start = text.find("{", pos)
        if start < 0:
            return
        head = text[start + 1:start + 40].lstrip()
        if head.startswith(('"Layers"', '"Name"')):
            try:
                obj, end = decoder.raw_decode(text, start)
            except json.JSONDecodeError:
                pos = start + 1
                continue
            yield obj
            pos = end
        else:
            pos = start + 1


def parse_trt_output(text: str, ops_total: int | None = None) -> TrtCoverage:
    """Paddle-TRT log text (with or without inspector output) -> coverage and precision."""
    out = TrtCoverage(ops_total=ops_total)
    for line in text.splitlines():
        m = _SUBGRAPH.search(line)
        if m:
            out.subgraph_nodes.append(int(m.group(1)))
        m = _MODE.search(line)
        if m:
            out.engine_modes.append(m.group(1).upper())
        if _BUILD.search(line):
            out.engines_built += 1
        m = _LOAD.search(line)
        if m:
            out.engines_loaded.append(m.group(1))
    for obj in _json_objects(text):
        items = obj["Layers"] if "Layers" in obj else [obj]
        out.layers += [lay for lay in map(_layer, items) if lay is not None]
    return out
