"""Models made for the INT8 tests from the trained small classifier, with the real engine.

    plant_outlier(fp32, out, "conv2d_2")  the same FP32 function, but the activation that
        feeds conv2d_2 gets one channel 1000x larger (batch norm before it scaled up, the
        conv's weights for that channel scaled down): per-tensor INT8 scales of that input
        then round every other channel to zero, so quantizing this one conv ruins the model.
    poison_with_nan(fp32, out)  a NaN in the classifier's bias: every logit row has one
        (a NaN batch norm variance is refused by the engine's conv+bn fuse pass).

Each runs this file in a worker with FLAGS_enable_pir_api=0 (legacy programs in and out).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _worker(*args: str) -> str:
    env = dict(os.environ, FLAGS_enable_pir_api="0", GLOG_minloglevel="2")
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def plant_outlier(fp32: Path, out: Path, conv: str, scale: float = 1000.0) -> str:
    """Writes the planted model to `out`; returns the planted conv's weight name."""
    return _worker("plant", str(fp32), str(out), conv, str(scale))


def poison_with_nan(fp32: Path, out: Path) -> None:
    _worker("nan", str(fp32), str(out))


def _main(kind: str, src: str, dst: str, *rest: str) -> None:
    import numpy as np
    import paddle

    paddle.enable_static()
    place = paddle.CPUPlace()
    exe = paddle.static.Executor(place)
    scope = paddle.static.global_scope()
    prog, feeds, fetches = paddle.static.load_inference_model(
        src, exe, model_filename="model.pdmodel", params_filename="model.pdiparams")
    ops = prog.global_block().ops

    def tensor(name):
        return scope.find_var(name).get_tensor()

    def batch_norm_before(var):
        producer = {o: op for op in ops for o in op.output_arg_names}
        op = producer[var]
        while op.type != "batch_norm":
            op = producer[op.input_arg_names[0]]
        return op

    if kind == "plant":
        conv, scale = rest[0], float(rest[1])
        target = next(op for op in ops if op.type == "conv2d"
                      and op.output("Output")[0].startswith(conv + "."))
        bn = batch_norm_before(target.input("Input")[0])
        gamma, beta = (np.array(tensor(bn.input(k)[0])) for k in ("Scale", "Bias"))
        channel = int(np.argmax(beta))           # the channel most often above zero
        gamma[channel] *= scale
        beta[channel] *= scale
        tensor(bn.input("Scale")[0]).set(gamma, place)
        tensor(bn.input("Bias")[0]).set(beta, place)
        weight = target.input("Filter")[0]
        w = np.array(tensor(weight))
        w[:, channel] /= scale
        tensor(weight).set(w, place)
        result = weight
    else:
        bias = next(name for op in ops if op.type == "elementwise_add"
                    for name in op.input_arg_names if name.endswith(".b_0"))
        values = np.array(tensor(bias))
        values[len(values) // 2] = np.nan
        tensor(bias).set(values, place)
        result = bias
    Path(dst).mkdir(parents=True, exist_ok=True)
    paddle.static.save_inference_model(str(Path(dst) / "model"),
                                       [prog.global_block().var(feeds[0])], fetches, exe,
                                       program=prog)
    print(result)


if __name__ == "__main__":
    _main(*sys.argv[1:])
