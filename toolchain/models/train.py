"""Train the small classifier on a bin dataset (seeded, CPU, well under a minute).

Run in a worker process (`python -m toolchain.models.export --train ...`), so that
the invoke process never imports paddle and every run starts from the same state.
"""

from __future__ import annotations

import time
from pathlib import Path


def _load(path: Path, limit: int | None = None):
    """All images and labels of a dataset, in memory (300 sample images: 180 MB)."""
    import numpy as np

    from ..data.binfmt import DatasetReader

    xs, ys = [], []
    with DatasetReader(path) as reader:
        for images, labels in reader.iter_batches(64, limit=limit):
            xs.append(images)
            ys.append(labels)
    return (np.concatenate(xs).astype("float32", copy=False),
            np.concatenate(ys).astype("int64", copy=False))


def accuracy(net, x, y, batch: int = 100) -> float:
    import paddle

    net.eval()
    correct = 0
    with paddle.no_grad():
        for i in range(0, len(x), batch):
            logits = net(paddle.to_tensor(x[i:i + batch])).numpy()
            correct += int((logits.argmax(1) == y[i:i + batch]).sum())
    return correct / max(len(x), 1)


def train(spec: dict, train_data: Path, val_data: Path | None = None, log=print) -> tuple:
    """Train `spec`'s network; returns (net, metrics dict)."""
    import numpy as np
    import paddle

    from .networks import build

    t0 = time.perf_counter()
    paddle.set_device("cpu")
    x, y = _load(train_data)
    classes = int(spec["num_classes"])
    if y.min() < 0 or y.max() >= classes:
        from ..errors import LabError
        raise LabError(f"labels of {train_data} span {y.min()}..{y.max()}, the model has "
                       f"{classes} classes", where=str(train_data),
                       hint="train on the preprocessed `invoke sample-data` images")
    net = build(spec["builder"], classes, int(spec["seed"]))
    epochs, bs = int(spec["epochs"]), int(spec["train_batch_size"])
    steps = epochs * ((len(x) + bs - 1) // bs)
    sched = paddle.optimizer.lr.CosineAnnealingDecay(float(spec["learning_rate"]), T_max=steps)
    opt = paddle.optimizer.Adam(learning_rate=sched, parameters=net.parameters())
    rng = np.random.default_rng(int(spec["seed"]))
    loss_fn = paddle.nn.CrossEntropyLoss()
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(len(x))
        total = 0.0
        for i in range(0, len(x), bs):
            idx = order[i:i + bs]
            loss = loss_fn(net(paddle.to_tensor(x[idx])), paddle.to_tensor(y[idx]))
            loss.backward()
            opt.step()
            opt.clear_grad()
            sched.step()
            total += float(loss) * len(idx)
        log(f"epoch {epoch + 1}/{epochs} loss {total / len(x):.4f}")
    net.eval()
    metrics = {"train_images": int(len(x)), "epochs": epochs,
               "train_top1": accuracy(net, x, y)}
    if val_data is not None:
        vx, vy = _load(val_data)
        metrics.update(val_images=int(len(vx)), val_top1=accuracy(net, vx, vy))
    metrics["seconds"] = round(time.perf_counter() - t0, 2)
    return net, metrics
