"""Where the hosts' JSON results differ: flattened keys, ignore globs, the highlighted
keys (driver, TensorRT, library, latency ...) first."""

from __future__ import annotations

import json as _json
from dataclasses import dataclass
from typing import Any

from ..lock.collect import matches
from ..results import JsonResult
from ..settings import HostDefaults


# Keys shown first in the cross-host table: what usually explains a difference.
HIGHLIGHT = ("*driver*", "*tensorrt*", "*trt*", "*cuda*", "*cudnn*", "*gpu*", "*library*",
             "*latency*", "*throughput*", "*top1*", "*top5*", "*speedup*")


@dataclass
class HostDifference(JsonResult):
    key: str
    values: dict[str, Any]           # host -> value (None: the host's JSON lacks it)


def flatten_json(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of a JSON value by path; lists of objects with a "key"/"name" are indexed
    by it (items[system.cuda_version].found), lists of scalars are leaves."""
    flat: dict[str, Any] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            flat.update(flatten_json(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, (index, v) in enumerate(zip(_list_labels(value), value)):
            flat.update(flatten_json(v, f"{prefix}[{index if index is not None else i}]"))
    else:
        flat[prefix] = value
    return flat


def _list_labels(items: list[dict]) -> list[str | None]:
    """A unique label per object: its "key", "name", "id" or "check", or "section/name"
    (doctor's findings); None (use the position) when nothing is unique."""
    candidates = [[v.get(f) for v in items] for f in ("key", "name", "id", "check")]
    candidates.append([f"{v.get('section')}/{v.get('name')}"
                       if isinstance(v.get("section"), str) and isinstance(v.get("name"), str)
                       else None for v in items])
    for labels in candidates:
        if all(isinstance(x, str) for x in labels) and len(set(labels)) == len(labels):
            return labels
    return [None] * len(items)


def host_differences(results: dict[str, Any], ignore: Any = HostDefaults().ignore_keys
                     ) -> list[HostDifference]:
    """Keys whose values differ between the hosts' JSON results (absent counts)."""
    if len(results) < 2:
        return []
    flats = {host: flatten_json(data) for host, data in results.items()}
    keys = list(dict.fromkeys(k for flat in flats.values() for k in flat))
    diffs = []
    for key in keys:
        if matches(key, ignore):
            continue
        values = {host: flat.get(key) for host, flat in flats.items()}
        present = {host for host, flat in flats.items() if key in flat}
        seen = {_json.dumps(v, sort_keys=True, default=str) for v in values.values()}
        if len(seen) > 1 or len(present) != len(flats):
            diffs.append(HostDifference(key=key, values=values))
    diffs.sort(key=lambda d: (not matches(d.key.lower(), HIGHLIGHT),))
    return diffs
