#!/usr/bin/env python3
"""Which paddlepaddle CPU releases `invoke fetch-lib --from-wheel` can turn into a library.

For each version: a venv of its own (python -m venv), `pip install paddlepaddle==V`
with constraints.txt's pins for every other package (numpy, ...; the paddle pin
is dropped), then toolchain.fetch.wheel.assemble_wheel_library(python=that venv):
our declarations checked against that wheel's exports and a probe compared bit for
bit with that wheel's Python paddle.inference; then demo/ is built against the tree
with cmake. Prints a table: version, assembled?, demo built?, agrees? (the proof's
probe output = Python paddle.inference's, bit for bit), and the p50 of trt_clas
against that wheel's Python paddle.inference on a seeded MobileNetV1 x0.5 (224x224,
batch 1, 1 thread, oneDNN on; 7 rounds alternate C++ and Python, the change is
the median of the per-round p50 ratios). benchmarks/demo_overhead.py --wheel measures the demo's overhead finely.

Usage: python benchmarks/wheel_matrix.py [--versions 3.3.1,3.2.2] [--work DIR] [--keep]
Costs ~200 MB of download and ~1 GB of disk per version (venvs are reused from
--work when present). CI runs the installed version only (tests/integration/test_fetch_wheel.py).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VERSIONS = ("2.6.2", "3.0.0", "3.1.1", "3.2.2", "3.3.1")


def venv_for(work: Path, version: str) -> tuple[Path | None, str]:
    venv = work / f"venv-paddle-{version}"
    py = venv / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import paddle"], capture_output=True,
                                      timeout=300).returncode == 0:
        return py, "reused"
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True,
                   timeout=300)
    cons = work / "constraints-no-paddle.txt"
    cons.write_text("".join(ln for ln in (ROOT / "constraints.txt").read_text().splitlines(True)
                            if not ln.lower().startswith("paddlepaddle")))
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "-c", str(cons),
                           f"paddlepaddle=={version}"], capture_output=True, text=True,
                          timeout=1800)
    if proc.returncode != 0:
        # an older paddle may need an older numpy than the pins: retry unconstrained
        proc = subprocess.run([str(py), "-m", "pip", "install", "-q",
                               f"paddlepaddle=={version}"], capture_output=True, text=True,
                              timeout=1800)
        if proc.returncode != 0:
            return None, "pip failed: " + proc.stderr.strip().splitlines()[-1][:200]
        return py, "installed (without constraints.txt pins)"
    return py, "installed"


def build_demo(tree: Path, build: Path) -> tuple[bool, str]:
    shutil.rmtree(build, ignore_errors=True)
    for cmd in (["cmake", "-S", str(ROOT / "demo"), "-B", str(build), f"-DPADDLE_LIB={tree}",
                 "-DCMAKE_BUILD_TYPE=Release"],
                ["cmake", "--build", str(build), "-j", "2"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
        if proc.returncode != 0:
            return False, (proc.stderr.strip() or proc.stdout.strip())[-300:]
    ok = (build / "trt_clas").exists() and (build / "test_acc").exists()
    return ok, "" if ok else "no trt_clas/test_acc after the build"


# Seeded MobileNetV1 x0.5, exported, then timed with paddle.inference the way trt_clas
# runs it (1 thread, oneDNN, IR optimisation): prints the model paths and the p50s.
_PY_TIMING = r"""
import json, os, sys, time
import numpy as np
import paddle
work, rounds, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
paddle.seed(0)
net = paddle.vision.models.mobilenet_v1(scale=0.5)
net.eval()
spec = [paddle.static.InputSpec([None, 3, 224, 224], "float32", "x")]
paddle.jit.save(net, os.path.join(work, "mbv1"), input_spec=spec)
model = next(os.path.join(work, "mbv1" + s) for s in (".pdmodel", ".json")
             if os.path.exists(os.path.join(work, "mbv1" + s)))
from paddle import inference
cfg = inference.Config(model, os.path.join(work, "mbv1.pdiparams"))
cfg.disable_gpu()
cfg.set_cpu_math_library_num_threads(1)
(getattr(cfg, "enable_onednn", None) or cfg.enable_mkldnn)()
cfg.switch_ir_optim(True)
cfg.disable_glog_info()
pred = inference.create_predictor(cfg)
x = np.random.rand(1, 3, 224, 224).astype("float32")
h = pred.get_input_handle(pred.get_input_names()[0])
out = pred.get_output_handle(pred.get_output_names()[0])
def once():
    h.reshape(list(x.shape)); h.copy_from_cpu(x); pred.run(); out.copy_to_cpu()
for _ in range(10):
    once()
print(json.dumps({"model": model, "params": os.path.join(work, "mbv1.pdiparams")}), flush=True)
for _ in range(rounds):
    sys.stdin.readline()            # the lead's turn signal: C++ ran, now Python
    t = []
    for _ in range(repeats):
        t0 = time.perf_counter(); once(); t.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"p50": float(np.median(t))}), flush=True)
"""


def p50_cpp_vs_python(py: Path, build: Path, work: Path, rounds: int = 7,
                      repeats: int = 150) -> str:
    """'C++ x ms / Python y ms' on the same model, rounds alternating."""
    import json
    import statistics

    work.mkdir(parents=True, exist_ok=True)
    side = subprocess.Popen([str(py), "-c", _PY_TIMING, str(work), str(rounds), str(repeats)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**__import__("os").environ, "GLOG_minloglevel": "2"})
    try:
        paths = json.loads(side.stdout.readline())
        cpp, pyt = [], []
        for _ in range(rounds):
            proc = subprocess.run([str(build / "trt_clas"), f"--model_file={paths['model']}",
                                   f"--params_file={paths['params']}", "--threads=1",
                                   "--warmup=10", f"--repeats={repeats}", "--json_only"],
                                  capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                return "trt_clas failed: " + (proc.stderr.strip() or proc.stdout.strip())[-120:]
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            cpp.append(res["latency_ms"]["p50"])
            side.stdin.write("\n")
            side.stdin.flush()
            pyt.append(json.loads(side.stdout.readline())["p50"])
        # per-round ratios: each round runs both back to back, so load mostly cancels
        ratio = statistics.median(c / p for c, p in zip(cpp, pyt))
        c, p = statistics.median(cpp), statistics.median(pyt)
        return f"{c:.2f} / {p:.2f} ms ({(ratio - 1) * 100:+.1f} %)"
    except (ValueError, KeyError, OSError) as exc:
        return f"timing failed: {exc}"
    finally:
        side.kill()
        side.wait(timeout=30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versions", default=",".join(VERSIONS))
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "wheel-matrix")
    a = ap.parse_args()
    from toolchain.errors import LabError
    from toolchain.fetch.wheel import assemble_wheel_library

    a.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for version in [v.strip() for v in a.versions.split(",") if v.strip()]:
        t0 = time.monotonic()
        row = {"version": version, "assembled": "no", "demo": "-", "agrees": "-", "p50": "-",
               "note": ""}
        py, how = venv_for(a.work, version)
        if py is None:
            row["note"] = how
            rows.append(row)
            continue
        tree = a.work / f"paddle_inference-wheel-{version}"
        try:
            lib = assemble_wheel_library(tree, python=py, cache_dir=a.work / "cache")
            row["assembled"] = "yes"
            row["agrees"] = (f"yes ({lib.proof.bytes_compared} bytes, "
                             f"{lib.proof.symbols_checked} symbols)")
        except LabError as exc:
            row["note"] = exc.message[:300]
            rows.append(row)
            continue
        ok, why = build_demo(tree, a.work / f"build-{version}")
        row["demo"] = "yes" if ok else "no"
        if ok:
            row["p50"] = p50_cpp_vs_python(py, a.work / f"build-{version}",
                                           a.work / f"timing-{version}")
        row["note"] = (why or how) + f"; {time.monotonic() - t0:.0f} s"
        rows.append(row)
        print(row, flush=True)
    print()
    print(f"{'paddlepaddle':<13} {'assembled':<10} {'demo built':<11} "
          f"{'agrees with Python':<30} {'p50 C++ / Python':<28} note")
    for r in rows:
        print(f"{r['version']:<13} {r['assembled']:<10} {r['demo']:<11} {r['agrees']:<30} "
              f"{r['p50']:<28} {r['note']}")
    return 0 if all(r["demo"] == "yes" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
