"""The C++ runner: run the demo binaries (trt_clas, test_acc) and read their JSON line.

The demo prints, as the LAST line of stdout, one JSON object (see contracts):
program, paddle_api, device, precision, batch_size, threads, warmup, repeats,
model_dir, latency_ms{count,min,mean,p50,p90,p99,max}, throughput_ips, and
first_batch (trt_clas with data) or images/top1/top5 (test_acc); and, when the demo
measures them, the RunResult fields of result.MEASURED_FIELDS under the same names
(inputs, create_ms, first_run_ms, warm_p50_ms, engine_cache, peak_rss_mb, ...).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from ..errors import LabError
from .result import LatencyStats, RunResult, measured_fields


def demo_args(program: str, files, device: str, precision: str, batch_size: int, threads: int,
              warmup: int, repeats: int, data_file: Path | None = None,
              limit: int | None = None, trt_cache_dir: str | None = None,
              workspace_mb: int | None = None, min_subgraph_size: int | None = None,
              predictions_out: Path | None = None, onednn: bool = True,
              ir_optim: bool = True, order_file: Path | None = None,
              seed: int | None = None) -> list[str]:
    """The demo's command-line flags for one run (gflags `--name=value`). trt_clas with
    `order_file` (write_order_file) times batches drawn in that order; `seed` is recorded."""
    args = [f"--model_dir={files.dir}", f"--model_file={files.program}",
            f"--params_file={files.params}", f"--device={device}", f"--precision={precision}",
            f"--batch_size={batch_size}", f"--threads={threads}"]
    if program == "trt_clas":
        args += [f"--warmup={warmup}", f"--repeats={repeats}"]
    else:
        args += [f"--warmup={warmup}"]
    if data_file is not None:
        args.append(f"--data_file={data_file}")
    if order_file is not None:
        args.append(f"--order_file={order_file}")
        if seed is not None:
            args.append(f"--seed={seed}")
    if limit is not None:
        args.append(f"--limit={limit}")
    if device == "gpu":
        args.append("--use_calib=" + ("true" if precision == "int8" and not files.quantized()
                                      else "false"))
        if trt_cache_dir:
            args.append(f"--trt_cache_dir={trt_cache_dir}")
        if workspace_mb:
            args.append(f"--workspace_mb={workspace_mb}")
        if min_subgraph_size:
            args.append(f"--min_subgraph_size={min_subgraph_size}")
    if device == "cpu" and not onednn:
        args.append("--use_onednn=false")
    if not ir_optim:
        args.append("--ir_optim=false")
    if predictions_out is not None:
        args.append(f"--predictions_out={predictions_out}")
    args.append("--json_only")
    return args


def write_order_file(path: Path, data_file: Path, sample_size: int, seed: int) -> list[int]:
    """Write trt_clas's --order_file: the seeded order in which the Python runner draws the
    sample set (the data file's first `sample_size` images, all when fewer), as
    little-endian int64; returns the order."""
    import numpy as np

    from ..data.binfmt import DatasetReader
    from .python_engine import sample_order

    with DatasetReader(data_file) as reader:
        count = reader.count
    order = sample_order(min(sample_size, count), seed)
    np.asarray(order, dtype="<i8").tofile(path)
    return order


def parse_demo_output(stdout: str, program: str | None = None) -> dict[str, Any]:
    """The demo's final JSON line as a dict; LabError when there is none."""
    lines = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
    if not lines:
        raise LabError(f"the demo{' ' + program if program else ''} printed nothing",
                       hint="run it by hand to see why; rebuild with `invoke build-demo`")
    try:
        data = json.loads(lines[-1])
    except ValueError:
        raise LabError("the demo's last line is not JSON: " + lines[-1][:300],
                       hint="the demo must print its JSON result last (rebuild it with "
                            "`invoke build-demo`)") from None
    if not isinstance(data, dict) or "latency_ms" not in data:
        raise LabError("the demo's JSON has no latency_ms: " + lines[-1][:300])
    if program and data.get("program") not in (None, program):
        raise LabError(f"expected output of {program}, got {data.get('program')}")
    return data


def read_predictions(path: Path) -> list[int]:
    """test_acc --predictions_out: one line per image `index top1 label`."""
    out: list[int] = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2 or int(parts[0]) != len(out):
            raise LabError(f"bad predictions line {n}: {line!r}", where=f"{path}:{n}")
        out.append(int(parts[1]))
    return out


def result_from_demo(data: dict, kind: str, model: str, model_dir: Path,
                     reason: str, config_calls: list, provenance: dict) -> RunResult:
    lat = LatencyStats.from_dict(data["latency_ms"])
    return RunResult(
        kind=kind, runner="cpp", model=model, model_dir=str(model_dir),
        device=data.get("device", ""), precision=data.get("precision", ""),
        batch_size=int(data.get("batch_size", 1)), threads=int(data.get("threads", 1)),
        warmup=int(data.get("warmup", 0)), repeats=int(data.get("repeats", lat.count)),
        latency_ms=lat, throughput_ips=data.get("throughput_ips"),
        images=data.get("images"), top1=data.get("top1"), top5=data.get("top5"),
        first_batch=data.get("first_batch"), config_calls=config_calls, runner_reason=reason,
        provenance={**provenance, "paddle_api": data.get("paddle_api")}, raw=data,
        **measured_fields(data))


def run_demo(binary: Path, args: list[str], timeout: float) -> str:
    """Run the binary, return its stdout; LabError with its stderr tail on failure."""
    return run_demo_measured(binary, args, timeout)[0]


def run_demo_measured(binary: Path, args: list[str], timeout: float
                      ) -> tuple[str, float | None]:
    """(stdout, the child's peak RSS in MB or None): run_demo, watching the child's own
    VmHWM in /proc/<pid>/status every <= 50 ms while it runs. Not ru_maxrss: Linux carries
    the parent's high-water mark into a child across fork/exec, so a child of a large
    process would report the parent's peak. None for a child that ended before the first
    look."""
    import os
    import tempfile
    import time

    cmd = [str(binary), *args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        except OSError as exc:
            raise LabError(f"cannot run {binary}: {exc.strerror}", where=str(binary),
                           hint="rebuild the demo with `invoke build-demo`") from None
        from .python_engine import proc_status_kb

        deadline, pause, peak_kb = time.monotonic() + timeout, 0.001, 0
        while True:
            peak_kb = max(peak_kb, proc_status_kb("VmHWM", f"/proc/{proc.pid}/status") or 0)
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                os.waitpid(proc.pid, 0)
                proc.returncode = -9
                raise LabError(f"{binary.name} ran longer than {timeout:.0f} s",
                               where=" ".join(cmd),
                               hint="lower --repeats/--limit, or raise lab.run.timeout")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        tail = (stderr.strip() or stdout.strip())[-1500:]
        raise LabError(f"{binary.name} failed (exit {proc.returncode}): {tail}",
                       where=" ".join(cmd), hint="see the message above; `invoke doctor` "
                                                 "checks the library and the GPU")
    return stdout, peak_kb / 1024.0 if peak_kb else None
