"""`--compare OLD.json`: the change of every number against an earlier bench run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LabError
from ..results import JsonResult

# Provenance fields whose change makes a comparison less like-for-like.
CONTEXT_KEYS = ("host.hostname", "host.cpu_model", "gpu", "paddle.version",
                "library.version_sha256", "tool.version", "tool.git_commit", "dataset.sha256")


@dataclass
class ChangeRow(JsonResult):
    model: str
    batch_size: int
    precision: str
    old_p50_ms: float | None
    new_p50_ms: float | None
    p50_change_pct: float | None      # + = slower
    old_top1: float | None
    new_top1: float | None
    top1_change_pts: float | None
    old_speedup: float | None
    new_speedup: float | None
    status: str = "both"              # "both" | "only new" | "only old"
    within_noise: bool | None = None  # |p50 change| <= the larger stability spread


@dataclass
class Comparison(JsonResult):
    old_file: str
    old_created_at: str | None
    rows: list[ChangeRow] = field(default_factory=list)
    context_changes: dict[str, list[Any]] = field(default_factory=dict)  # key: [old, new]


def load_report(path: Path) -> dict:
    """An earlier bench.json, or a LabError saying why it cannot be used."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise LabError("the bench result to compare with does not exist", where=str(path),
                       hint="pass a bench.json of an earlier run: results/<timestamp>/bench.json")
    except (OSError, json.JSONDecodeError) as err:
        raise LabError(f"cannot read the bench result to compare with: {err}", where=str(path),
                       hint="pass a bench.json written by `invoke bench`")
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise LabError("not a bench result (no 'rows' list)", where=str(path),
                       hint="pass a bench.json written by `invoke bench`")
    return data


def _dig(data: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _index(report: dict) -> dict[tuple, dict]:
    out = {}
    for row in report.get("rows", []):
        for prec, res in (row.get("results") or {}).items():
            out[(row.get("model"), int(row.get("batch_size", 0)), prec)] = {
                "p50": (res.get("latency_ms") or {}).get("p50"),
                "top1": res.get("top1"),
                "speedup": (row.get("speedup") or {}).get(prec),
                "spread": (res.get("stability") or {}).get("spread"),
            }
    return out


def _diff(new: float | None, old: float | None, scale: float = 1.0) -> float | None:
    if new is None or old is None:
        return None
    return (new - old) * scale


def compare(new: dict, old: dict, old_file: str = "") -> Comparison:
    """Row by row (model, batch size, precision) change from `old` to `new` (bench.json dicts)."""
    a, b = _index(old), _index(new)
    rows = []
    for key in list(b) + [k for k in a if k not in b]:
        o, n = a.get(key, {}), b.get(key, {})
        pct = None
        if o.get("p50") and n.get("p50") is not None:
            pct = (n["p50"] / o["p50"] - 1) * 100
        noise = None
        spreads = [s for s in (o.get("spread"), n.get("spread")) if isinstance(s, (int, float))]
        if pct is not None and spreads:
            noise = abs(pct) <= max(spreads) * 100
        rows.append(ChangeRow(
            model=key[0], batch_size=key[1], precision=key[2],
            old_p50_ms=o.get("p50"), new_p50_ms=n.get("p50"), p50_change_pct=pct,
            old_top1=o.get("top1"), new_top1=n.get("top1"),
            top1_change_pts=_diff(n.get("top1"), o.get("top1"), 100),
            old_speedup=o.get("speedup"), new_speedup=n.get("speedup"),
            status="both" if (key in a and key in b) else ("only new" if key in b else "only old"),
            within_noise=noise))
    context = {}
    for key in CONTEXT_KEYS:
        ov, nv = _dig(old.get("provenance") or {}, key), _dig(new.get("provenance") or {}, key)
        if ov != nv:
            context[key] = [ov, nv]
    return Comparison(old_file=old_file, old_created_at=old.get("created_at"), rows=rows,
                      context_changes=context)
