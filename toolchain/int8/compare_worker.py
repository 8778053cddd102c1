"""Worker side of compare-layers (FLAGS_enable_pir_api=0): both programs, same images.

    FLAGS_enable_pir_api=0 python -m toolchain.int8.compare_worker --fp32 DIR --int8 DIR \
        --data val.bin [--images 32] [--batch-size 8]

Prints one JSON line: the compared ops, per tensor the error sums (compare.ErrorSums),
the compared tensors feeding each one, NaN/Inf found, top-1 agreement.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys


def _ops(program) -> list:
    from .compare import OpInfo

    return [OpInfo(op.type, tuple(op.input_arg_names), tuple(op.output_arg_names))
            for op in program.global_block().ops if op.type not in ("feed", "fetch")]


def _load(paddle, exe, model_dir: str, program: str, params: str):
    scope = paddle.static.Scope()
    with paddle.static.scope_guard(scope):
        prog, feeds, fetches = paddle.static.load_inference_model(
            model_dir, exe, model_filename=program, params_filename=params)
    return scope, prog, feeds, fetches


def _run(args) -> dict:
    import numpy as np

    from ..data.binfmt import DatasetReader
    from ..errors import LabError
    from ..models.worker import check_pir_flag
    from .compare import ErrorSums, feeding_compared, quantized_ops
    from .finite import find_nonfinite

    check_pir_flag(False)
    import paddle

    paddle.enable_static()
    exe = paddle.static.Executor(paddle.CPUPlace())
    f_scope, f_prog, f_feeds, f_fetch = _load(paddle, exe, args.fp32, args.fp32_program,
                                              args.fp32_params)
    q_scope, q_prog, q_feeds, q_fetch = _load(paddle, exe, args.int8, args.int8_program,
                                              args.int8_params)
    if f_feeds != q_feeds or len(f_fetch) != len(q_fetch):
        raise LabError(f"the models have different inputs or outputs: FP32 feeds {f_feeds}, "
                       f"INT8 feeds {q_feeds}", where=f"{args.fp32} vs {args.int8}",
                       hint="compare an INT8 model with the FP32 model it was quantized from")
    weights = {v.name for v in f_prog.list_vars() if v.persistable}
    fp32_ops = _ops(f_prog)
    ops = quantized_ops(fp32_ops, weights, _ops(q_prog))
    if not ops:
        raise LabError(f"no op of {args.int8} matches a quantizable op of {args.fp32}",
                       where=args.int8,
                       hint="compare an INT8 model with the FP32 model it was quantized from")
    names = [op.output for op in ops]
    output = f_fetch[0].name
    fetch = names + [output] if output not in names else names
    sums = {name: ErrorSums() for name in fetch}
    bad: dict[tuple, dict] = {}
    agree = done = 0
    with DatasetReader(args.data) as reader:
        for images, _ in reader.iter_batches(args.batch_size, limit=args.images):
            images = np.ascontiguousarray(images, dtype="float32")
            with paddle.static.scope_guard(f_scope):
                ref = exe.run(f_prog, feed={f_feeds[0]: images}, fetch_list=fetch)
            with paddle.static.scope_guard(q_scope):
                got = exe.run(q_prog, feed={q_feeds[0]: images}, fetch_list=fetch)
            for name, r, g in zip(fetch, ref, got):
                for model, values in (("fp32", r), ("int8", g)):
                    found = find_nonfinite(values, done)
                    if found and (model, name) not in bad:
                        bad[(model, name)] = {"tensor": name, "model": model,
                                              "count": found.nan + found.inf,
                                              "first_image": found.first_image}
                    elif found:
                        bad[(model, name)]["count"] += found.nan + found.inf
                sums[name].add(r, g)
            r, g = ref[fetch.index(output)], got[fetch.index(output)]
            agree += int((r.reshape(len(r), -1).argmax(1) == g.reshape(len(g), -1).argmax(1))
                         .sum())
            done += len(images)
    fed_by = feeding_compared(fp32_ops, set(names), weights)
    return {"ops": [dataclasses.asdict(op) for op in ops],
            "sums": {k: dataclasses.asdict(v) for k, v in sums.items()},
            "fed_by": {k: sorted(v) for k, v in fed_by.items()}, "output": output,
            "nonfinite": list(bad.values()), "images": done,
            "top1_agreement": agree / max(done, 1)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m toolchain.int8.compare_worker")
    for model in ("fp32", "int8"):
        ap.add_argument(f"--{model}", required=True)
        ap.add_argument(f"--{model}-program", default="model.pdmodel")
        ap.add_argument(f"--{model}-params", default="model.pdiparams")
    ap.add_argument("--data", required=True)
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args(argv)
    from ..models.worker import worker_main

    worker_main(lambda: _run(args))


if __name__ == "__main__":
    main(sys.argv[1:])
