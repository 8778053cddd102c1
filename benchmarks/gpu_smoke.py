"""GPU smoke test for a lab's new GPU host: the first thing to run there.

Steps, each an `invoke` task in a subprocess: doctor --strict, fetch-lib --auto,
build-demo --gpu, run FP32 / FP16 / INT8 through TensorRT, then FP16 again, which must
load the engine the first FP16 run serialized (a cache hit). It stops at the first step
that cannot run and prints one screen: each step, its time, and what stopped it.

--plan runs only what needs no download and no GPU build: doctor (reported, not
enforced), fetch-lib --auto --list, fetch-lib --auto --dry-run, and the TensorRT config
plans FP32/FP16/INT8 for the GPU found (what `run` would apply).

Usage: python benchmarks/gpu_smoke.py [--plan] [--model-dir DIR] [--int8-model-dir DIR]
                                      [--timeout S] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
INVOKE = [sys.executable, "-m", "invoke", "--search-root", str(ROOT)]


@dataclass
class Step:
    name: str
    status: str = "not run"          # ok | fail | not run
    seconds: float = 0.0
    note: str = ""
    output: str = ""


@dataclass
class Smoke:
    mode: str
    steps: list[Step] = field(default_factory=list)
    stopped_by: str | None = None


def invoke(args: list[str], timeout: float) -> tuple[int, str, str, float]:
    start = time.perf_counter()
    try:
        proc = subprocess.run([*INVOKE, *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = 124, exc.stdout or "", f"timed out after {timeout:.0f} s"
        out = out.decode(errors="replace") if isinstance(out, bytes) else out
    return rc, out, err, round(time.perf_counter() - start, 2)


def last_lines(text: str, n: int = 3) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:])


def doctor_summary(report: dict) -> str:
    fails = [v for v in report.get("verdicts", []) if v["level"] == "fail"]
    if not fails:
        return f"{report.get('summary')}"
    return "; ".join(f"{v['check']}: {v['message']} -> fix: {v.get('fix')}" for v in fails)


def doctor_json(timeout: float) -> tuple[dict | None, Step]:
    step = Step("doctor --strict")
    rc, out, err, step.seconds = invoke(["doctor", "--json"], timeout)
    try:
        report = json.loads(out)
    except json.JSONDecodeError:
        step.status, step.note = "fail", last_lines(err or out)
        return None, step
    step.output = out
    failed = any(v["level"] == "fail" for v in report.get("verdicts", []))
    step.status = "fail" if failed else "ok"
    step.note = doctor_summary(report)
    return report, step


def run_step(name: str, args: list[str], timeout: float) -> tuple[Step, dict | None]:
    step = Step(name)
    rc, out, err, step.seconds = invoke(args, timeout)
    step.output = out + err
    data = None
    if "--json" in args:
        try:
            data = json.loads(out)
        except json.JSONDecodeError:
            data = None
    step.status = "ok" if rc == 0 else "fail"
    step.note = last_lines(err if rc else out) if rc or data is None else ""
    return step, data


def cache_dir_of(result: dict) -> str | None:
    for call in result.get("config_calls") or []:
        if call and call[0] == "set_optim_cache_dir":
            return call[1]
    return None


def plan_lines(report: dict | None) -> list[str]:
    """The GPU config plans `run` would apply on this host, FP32 / FP16 / INT8."""
    from toolchain.errors import LabError
    from toolchain.runners.configplan import PlanOptions, config_plan

    gpus = (report or {}).get("gpus") or []
    lib = ((report or {}).get("library") or {}).get("version") or {}
    gpu = gpus[0] if gpus else {}
    opts = PlanOptions(batch_size=1, gpu_name=gpu.get("name", ""),
                       gpu_cc=gpu.get("compute_capability") or "",
                       trt_version=lib.get("tensorrt_version") or "",
                       lib_commit=lib.get("git_commit") or "",
                       paddle_version=lib.get("paddle_version") or "",
                       model_sha256="<sha256 of the model>", cache_root="<work_dir>/trt_cache")
    lines = []
    for precision, kind in (("fp32", "fp32"), ("fp16", "fp32"), ("int8", "quantized")):
        try:
            plan = config_plan("gpu", precision, kind, opts)
            lines.append(f"{precision} ({kind} model): " + "; ".join(
                f"{c[0]}({', '.join(repr(a) for a in c[1:])})" for c in plan))
        except LabError as exc:
            lines.append(f"{precision}: refused: {exc.message}")
    return lines


def plan_mode(timeout: float) -> Smoke:
    smoke = Smoke("plan")
    report, step = doctor_json(timeout)
    step.name = "doctor (reported)"
    smoke.steps.append(step)
    listing, _ = run_step("fetch-lib --auto --list", ["fetch-lib", "--auto", "--list",
                                                      "--plain"], timeout)
    rows = [ln for ln in listing.output.splitlines() if "\t" in ln]
    notes = [ln for ln in listing.output.splitlines() if ln.startswith(("--auto", "best row"))]
    listing.note = (f"{len(rows)} row(s); first: {rows[0].split(chr(9))[0] if rows else '-'}"
                    + ("; " + " | ".join(notes) if notes else ""))
    smoke.steps.append(listing)
    dry, _ = run_step("fetch-lib --auto --dry-run", ["fetch-lib", "--auto", "--dry-run"],
                      timeout)
    if dry.status == "ok":
        dry.note = " | ".join(ln[2:] for ln in dry.output.splitlines()
                              if ln.startswith(("# row:", "# why: --auto", "# why: to load",
                                                "# why: note")))
    smoke.steps.append(dry)
    plans = Step("TensorRT plans", status="ok")
    plans.output = "\n".join(plan_lines(report))
    plans.note = f"{len(plans.output.splitlines())} plan(s)"
    smoke.steps.append(plans)
    return smoke


def full_mode(args) -> Smoke:
    smoke = Smoke("full")
    t = args.timeout
    report, step = doctor_json(t)
    smoke.steps.append(step)
    if step.status != "ok":
        smoke.stopped_by = f"doctor --strict: {step.note}"
        return smoke
    model = ["--model-dir", args.model_dir] if args.model_dir else []
    int8_model = ["--model-dir", args.int8_model_dir] if args.int8_model_dir else model
    gpu_run = ["--device", "gpu", "--runner", "cpp", "--json"]
    sequence = [
        ("fetch-lib --auto", ["fetch-lib", "--auto"]),
        ("build-demo --gpu", ["build-demo", "--gpu"]),
        ("run FP32 (TensorRT)", ["run", "--fp32", *model, *gpu_run]),
        ("run FP16 (TensorRT)", ["run", "--fp16", *model, *gpu_run]),
        ("run INT8 (TensorRT)", ["run", "--int8", *int8_model, *gpu_run]),
    ]
    fp16 = None
    for name, argv in sequence:
        step, data = run_step(name, argv, t)
        smoke.steps.append(step)
        if step.status != "ok":
            smoke.stopped_by = f"{name}: {step.note}"
            return smoke
        if data:
            lat = data.get("latency_ms") or {}
            step.note = f"p50 {lat.get('p50')} ms, {data.get('throughput_ips')} img/s"
            if name.startswith("run FP16"):
                fp16 = data
    from toolchain.runners.configplan import engine_start

    cache = cache_dir_of(fp16 or {})
    listing = sorted(os.listdir(cache)) if cache and os.path.isdir(cache) else []
    step, data = run_step("run FP16 again (cache)", ["run", "--fp16", *model, *gpu_run], t)
    state = engine_start(listing)
    step.note = f"engine cache {cache}: {state} ({len(listing)} file(s) before the run)"
    if step.status == "ok" and state != "load":
        step.status = "fail"
        smoke.stopped_by = "the second FP16 run found no serialized engine: no cache hit"
    elif step.status != "ok":
        smoke.stopped_by = f"run FP16 again: {last_lines(step.output)}"
    smoke.steps.append(step)
    return smoke


def render(smoke: Smoke) -> str:
    width = max(len(s.name) for s in smoke.steps)
    lines = [f"GPU smoke ({smoke.mode}) on {os.uname().nodename}"]
    for s in smoke.steps:
        lines.append(f"  {s.status:7} {s.name:{width}}  {s.seconds:7.2f} s  {s.note}")
    for s in smoke.steps:
        if s.name == "TensorRT plans":
            lines += ["  plans:"] + [f"    {ln}" for ln in s.output.splitlines()]
    if smoke.mode == "full":
        lines.append("verdict: " + ("PASS: every step ran" if smoke.stopped_by is None
                                    else f"STOPPED at {smoke.stopped_by}"))
    else:
        failed = [s.name for s in smoke.steps if s.status == "fail"]
        lines.append("verdict: plan only; " + (f"failing: {', '.join(failed)}" if failed
                                                else "nothing failed"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", action="store_true", help="doctor, fetch-lib --auto --list / "
                    "--dry-run and the TensorRT plans only")
    ap.add_argument("--model-dir")
    ap.add_argument("--int8-model-dir", help="a quantized model for the INT8 run "
                    "(default: the FP32 model, calibrated by TensorRT)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per step")
    ap.add_argument("--json", dest="json_file", help="write every step's output here")
    args = ap.parse_args(argv)
    smoke = plan_mode(args.timeout) if args.plan else full_mode(args)
    print(render(smoke))
    if args.json_file:
        Path(args.json_file).write_text(json.dumps(asdict(smoke), indent=2))
    if smoke.mode == "full":
        return 0 if smoke.stopped_by is None else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
