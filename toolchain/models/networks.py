"""The networks of recipes/models.toml as paddle Layers (imports paddle: call in workers)."""

from __future__ import annotations

import importlib


def small_cnn(num_classes: int = 10):
    """A classifier small enough to train in seconds on 2 cores.

    The 3x224x224 input is averaged 4x4 first (-> 3x56x56): the sample digits
    need no more resolution, and everything after the stem costs 16x less.
    `body` is separate so that training can feed pre-pooled images. No adaptive
    pooling: oneDNN INT8 has no kernel for it (the 4x4 map is flattened instead).
    """
    import paddle.nn as nn

    def block(cin: int, cout: int, stride: int):
        return [nn.Conv2D(cin, cout, 3, stride=stride, padding=1, bias_attr=False),
                nn.BatchNorm2D(cout), nn.ReLU()]

    class SmallCNN(nn.Layer):
        def __init__(self):
            super().__init__()
            self.stem = nn.AvgPool2D(kernel_size=4, stride=4)
            self.body = nn.Sequential(
                *block(3, 16, 1), *block(16, 32, 2), *block(32, 64, 2), *block(64, 64, 2),
                *block(64, 64, 2), nn.Flatten(), nn.Dropout(0.2), nn.Linear(64 * 4 * 4, num_classes))

        def forward(self, x):
            return self.body(self.stem(x))

    return SmallCNN()


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
