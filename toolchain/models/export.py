"""Worker: write one FP32 inference model of the zoo in one format.

    FLAGS_enable_pir_api=0 python -m toolchain.models.export --name small_cnn \
        --format legacy --out DIR [--weights W | --train-data T [--val-data V]]

Started by toolchain.models.zoo.export_model (which sets the flag); usable by hand.
With --train-data the network is trained first and its weights are written to
DIR/train/weights.pdparams (a later export of the other format loads them).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _export(args) -> dict:
    from .worker import check_pir_flag, report_progress

    check_pir_flag(args.format == "pir")
    from .zoo import get_model

    spec = get_model(args.name).raw
    import paddle

    from .networks import build

    paddle.set_device("cpu")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    metrics = None
    if args.train_data:
        from .train import train

        def log(text: str) -> None:
            if text.startswith("epoch "):
                done, total = text.split()[1].split("/")
                report_progress(int(done), int(total), text)

        net, metrics = train(spec, Path(args.train_data),
                             Path(args.val_data) if args.val_data else None, log=log)
        (out / "train").mkdir(exist_ok=True)
        paddle.save(net.state_dict(), str(out / "train" / "weights.pdparams"))
    else:
        net = build(spec["builder"], int(spec["num_classes"]), int(spec["seed"]))
        if args.weights:
            net.set_state_dict(paddle.load(args.weights))
    net.eval()
    c, h, w = spec["input"]
    spec_in = [paddle.static.InputSpec([None, c, h, w], "float32", "image")]
    paddle.jit.save(net, str(out / "model"), input_spec=spec_in)
    (out / "model.pdiparams.info").unlink(missing_ok=True)
    from .layout import find_model_files, strip_debug_attrs

    files = find_model_files(out)
    if files.format != args.format:
        from ..errors import LabError
        raise LabError(f"paddle wrote a {files.format} model where {args.format} was asked",
                       hint="set FLAGS_enable_pir_api before paddle is imported")
    if files.format == "legacy":        # the PIR .json carries no call stacks
        strip_debug_attrs(files.program)
    return {"format": files.format, "program": str(files.program), "params": str(files.params),
            "sha256": files.sha256(), "train": metrics}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m toolchain.models.export")
    ap.add_argument("--name", required=True)
    ap.add_argument("--format", choices=("legacy", "pir"), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--weights")
    ap.add_argument("--train-data")
    ap.add_argument("--val-data")
    args = ap.parse_args(argv)
    os.environ.setdefault("GLOG_minloglevel", "2")
    from .worker import worker_main

    worker_main(lambda: _export(args))


if __name__ == "__main__":
    main(sys.argv[1:])
