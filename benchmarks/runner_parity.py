"""cpp vs python runner on the same model and data: same top-1 per image, p50 within 5 %.

This claim needs a REAL Paddle Inference C++ library (the stand-in SDK of the
tests computes a different, made-up classifier), so it is checked only when one
is given:

    python benchmarks/runner_parity.py --lib /path/to/paddle_inference \
        [--model-dir DIR --data-file FILE] [--precision int8] [--limit 100] \
        [--batch-size 1] [--repeats 200] [--work-dir DIR] [--json]

It builds the C++ demo against --lib (build_demo, or reuses a build
already recorded for that library), then runs test_acc / trt_clas through the cpp
runner and the same configuration through the python runner (the installed
paddlepaddle wheel), and compares:
  - top-1 per image: must be equal for every image (FP32; for INT8 both engines
    must also use the same oneDNN kernels, so differences are reported, not hidden);
  - p50 latency at the batch size: within 5 % of each other.
Use a library and a wheel of the same Paddle version, or differences mean nothing.
Without --lib it prints NOT CHECKED and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolchain.settings import LabSettings  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", help="a real Paddle Inference C++ library (install dir)")
    ap.add_argument("--work-dir", default=str(ROOT / ".lab"))
    ap.add_argument("--model-dir", help="default <work-dir>/models/<default>/<precision>")
    ap.add_argument("--data-file", help="default <work-dir>/data/val.bin")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "int8"))
    ap.add_argument("--device", default="cpu", choices=("cpu", "gpu"))
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    if not args.lib:
        print("NOT CHECKED: cpp-vs-python parity needs a real Paddle Inference C++ library "
              "(--lib DIR, e.g. one `invoke fetch-lib` installed). The tests only check the "
              "cpp runner against the stand-in SDK and an independent numpy computation.")
        return 2

    from toolchain.build_demo.plan import DemoBuildRequest
    from toolchain.build_demo.run import build_demo
    from toolchain.library.installed import validate_library
    from toolchain.models.zoo import default_data_file, default_model_dir
    from toolchain.runners.run import run_accuracy, run_latency
    from toolchain.state import demo_build, save_demo_build, set_current_library

    settings = LabSettings.from_mapping({"work_dir": args.work_dir,
                                         "lib_dir": str(Path(args.work_dir) / "lib")})
    lib = validate_library(Path(args.lib)).path
    set_current_library(settings.lib_dir, lib, None, "manual")
    record = demo_build(settings.work_dir) or {}
    if Path(record.get("lib", "")).resolve() != Path(lib).resolve():
        print(f"building the demo against {lib} ...", file=sys.stderr)
        res = build_demo(settings, DemoBuildRequest(lib=Path(lib)))
        if not demo_build(settings.work_dir):       # build_demo records it; be explicit if it did not
            save_demo_build(settings.work_dir, {"lib": str(lib), "binaries": {
                k: str(v) for k, v in res.binaries.items()}, "gpu": res.gpu,
                "paddle_api": res.paddle_api, "built_at": "", "cmake_args": res.cmake_args})
    model = Path(args.model_dir) if args.model_dir else default_model_dir(settings,
                                                                           args.precision)
    data = Path(args.data_file) if args.data_file else default_data_file(settings)

    acc, lat = {}, {}
    for runner in ("cpp", "python"):
        acc[runner] = run_accuracy(settings, model, data, args.precision, device=args.device,
                                   runner=runner, batch_size=args.batch_size, limit=args.limit,
                                   threads=args.threads, predictions=True)
        lat[runner] = run_latency(settings, model, args.precision, device=args.device,
                                  runner=runner, batch_size=args.batch_size,
                                  warmup=args.warmup, repeats=args.repeats,
                                  threads=args.threads, data_file=data)
    pc, pp = acc["cpp"].raw["predictions"], acc["python"].raw["predictions"]
    differ = [i for i, (a, b) in enumerate(zip(pc, pp)) if a != b]
    p50c, p50p = lat["cpp"].latency_ms.p50, lat["python"].latency_ms.p50
    rel = abs(p50c - p50p) / min(p50c, p50p)
    same_top1 = len(pc) == len(pp) and not differ
    report = {"lib": str(lib), "model_dir": str(model), "data_file": str(data),
              "precision": args.precision, "device": args.device, "images": len(pc),
              "top1": {"cpp": acc["cpp"].top1, "python": acc["python"].top1},
              "differing_images": differ[:50], "same_top1_per_image": same_top1,
              "p50_ms": {"cpp": p50c, "python": p50p}, "p50_relative_difference": rel}
    if args.json:
        print(json.dumps(report, indent=2))
    print(f"{len(pc)} images: top-1 cpp {100 * acc['cpp'].top1:.2f} %, python "
          f"{100 * acc['python'].top1:.2f} %; per image "
          + ("identical: PASS" if same_top1 else f"{len(differ)} differ: FAIL"))
    print(f"p50 at batch {args.batch_size}: cpp {p50c:.3f} ms, python {p50p:.3f} ms, "
          f"difference {100 * rel:.1f} % (target <= 5 %): {'PASS' if rel <= 0.05 else 'FAIL'}")
    return 0 if same_top1 and rel <= 0.05 else 1


def _main() -> int:
    from toolchain.errors import LabError

    try:
        return main()
    except LabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(_main())
