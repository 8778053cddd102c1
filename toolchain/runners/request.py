"""run / test-acc flags -> what to run (the task only parses, calls, renders)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import flags as flag_words
from ..errors import LabError
from ..settings import LabSettings


@dataclass(frozen=True)
class RunRequest:
    """One model through a runner: the flags with lab.run's defaults filled in."""

    model_dir: Path
    precision: str
    device: str
    runner: str
    batch_size: int
    data_file: Path | None          # None: seeded input (latency without a dataset)
    plan_overrides: dict[str, Any] = field(default_factory=dict)


def _default_data(settings: LabSettings) -> Path:
    from ..models.zoo import default_data_file

    return Path(settings.run.data_file) if settings.run.data_file \
        else default_data_file(settings)


def trt_overrides(flags: dict[str, Any]) -> dict[str, Any]:
    """The TensorRT debug flags as PlanOptions fields (only those given)."""
    out: dict[str, Any] = {}
    for name in ("trt_disable_ops", "trt_disable_subgraph"):
        if flags.get(name):
            out[name] = tuple(v.strip() for v in str(flags[name]).split(",") if v.strip())
    for name in ("trt_inspector", "cuda_graph"):
        if flags.get(name):
            out[name] = True
    return out


def parse_request(flags: dict[str, Any], settings: LabSettings, kind: str) -> RunRequest:
    """`kind` "latency" (run: no dataset means seeded input) or "accuracy" (test-acc: the
    dataset must exist). Flags not given are None."""
    from ..models.zoo import default_model_dir

    precision = flag_words.precision_of(bool(flags.get("int8")), bool(flags.get("fp16")),
                                        bool(flags.get("fp32")), bool(flags.get("bf16")))
    rs = settings.run
    model_dir = Path(flags["model_dir"]) if flags.get("model_dir") \
        else default_model_dir(settings, precision)
    if flags.get("data_file"):
        data: Path | None = Path(flags["data_file"])
    else:
        data = _default_data(settings)
        if kind == "latency" and not data.exists():
            data = None
    if kind == "accuracy" and not data.exists():
        raise LabError(f"dataset not found: {data}", where=str(data),
                       hint="make it with `invoke sample-data` + `invoke preprocess` "
                            "(quickstart does both), or pass --data-file")
    batch = flags.get("batch_size")
    return RunRequest(model_dir=model_dir, precision=precision,
                      device=flags.get("device") or rs.device,
                      runner=flags.get("runner") or rs.runner,
                      batch_size=rs.batch_size if batch is None else int(batch),
                      data_file=data, plan_overrides=trt_overrides(flags))
