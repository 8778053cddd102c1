"""The networks of recipes/models.toml as paddle Layers (imports paddle: call in workers)."""

from __future__ import annotations

import importlib


def small_cnn(num_classes: int = 10):
    """A classifier that trains in about half a minute on 2 cores and that oneDNN
    INT8 runs faster than FP32 (measured: docs/run.md).

    3x224x224 -> stem: 4x4 stride-4 conv, 64 ch (a learned space-to-depth) -> 56 px
              -> 3x3 conv stride 2, 128 ch -> 28 px -> 3x3 conv stride 2, 128 ch -> 14 px
              -> 3x3 conv, 128 ch -> 2x2 average pool -> 7 px -> flatten -> fc.
    Every conv is followed by batch norm + relu, which oneDNN fuses into it, and
    the only other op with weights is the fc: all of them run in INT8. oneDNN INT8
    pays a fixed cost per op (quantize, scales), so the work sits in few, wide
    convs (about 125 M multiply-adds): the former 16-64 channel net at 56 px ran
    slower in INT8 than in FP32. Pools have fixed kernels (no adaptive pool: oneDNN
    INT8 has no kernel for it) and the 7x7 map is flattened, not averaged away:
    where a stroke sits is what tells the sample digits apart.
    """
    import paddle.nn as nn

    def conv_bn_relu(cin: int, cout: int, kernel: int, stride: int, padding: int):
        return [nn.Conv2D(cin, cout, kernel, stride=stride, padding=padding, bias_attr=False),
                nn.BatchNorm2D(cout), nn.ReLU()]

    return nn.Sequential(
        *conv_bn_relu(3, 64, 4, 4, 0),
        *conv_bn_relu(64, 128, 3, 2, 1),
        *conv_bn_relu(128, 128, 3, 2, 1),
        *conv_bn_relu(128, 128, 3, 1, 1),
        nn.AvgPool2D(kernel_size=2, stride=2),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(128 * 7 * 7, num_classes))


def build(builder: str, num_classes: int, seed: int):
    """A freshly initialised network; the same seed gives the same weights."""
    import paddle

    paddle.seed(seed)
    if builder == "small_cnn":
        net = small_cnn(num_classes)
    else:
        module, _, fn = builder.rpartition(".")
        net = getattr(importlib.import_module(module), fn)(pretrained=False,
                                                           num_classes=num_classes)
    net.eval()
    return net
