"""Helpers for the data tests: real test images of every mode, a read-only directory.

The reference the pipeline is checked against is toolchain/data/reference.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image


def photo(width: int, height: int, seed: int) -> Image.Image:
    """A photo-like RGB image: smooth gradients, a few shapes, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([
        128 + 100 * np.sin(x / (17 + seed % 7) + rng.uniform(0, 6)),
        128 + 100 * np.cos(y / (23 + seed % 5) + rng.uniform(0, 6)),
        128 + 90 * np.sin((x + y) / 31.0 + rng.uniform(0, 6)),
    ], axis=-1)
    for _ in range(4):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(20, 90)
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        base[mask] = rng.uniform(0, 255, size=3)
    base += rng.normal(0, 8, size=base.shape)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")


# (file name, size, how to save) covering the modes ImageNet-like sets contain
IMAGE_KINDS = [
    ("rgb.jpg", (500, 375), "RGB"),
    ("portrait.jpg", (333, 500), "RGB"),
    ("gray.jpg", (400, 300), "L"),
    ("cmyk.jpg", (375, 500), "CMYK"),
    ("palette.png", (320, 256), "P"),
    ("rgb.png", (256, 256), "RGB"),
    ("rgba.png", (300, 420), "RGBA"),
    ("la.png", (280, 300), "LA"),
    ("bilevel.png", (300, 300), "1"),
    ("gray16.png", (350, 260), "I;16"),
    ("small.jpg", (120, 90), "RGB"),          # upscaled, like tiny ImageNet images
    ("wide.jpg", (1000, 230), "RGB"),
    ("odd.jpg", (257, 511), "RGB"),
]


def save_as(img: Image.Image, path: Path, mode: str) -> None:
    if mode == "P":
        img = img.quantize(colors=100)
    elif mode == "I;16":
        arr = np.asarray(img.convert("L"), dtype=np.uint16) * 257
        img = Image.fromarray(arr)  # uint16 -> mode I;16
    elif mode != "RGB":
        img = img.convert(mode)
    img.save(path, quality=92) if path.suffix == ".jpg" else img.save(path)


def make_image_set(root: Path, repeat: int = 1, labels_from: int = 0) -> Path:
    """Images of every kind under root/val and root/val_list.txt; returns the list path."""
    (root / "val").mkdir(parents=True, exist_ok=True)
    lines = []
    for r in range(repeat):
        for k, (name, size, mode) in enumerate(IMAGE_KINDS):
            rel = f"val/{r:03d}_{name}"
            save_as(photo(*size, seed=1000 * r + k), root / rel, mode)
            lines.append(f"{rel} {(labels_from + 7 * k + r) % 1000}\n")
    (root / "val_list.txt").write_text("".join(lines))
    return root / "val_list.txt"


@contextlib.contextmanager
def read_only_dir(path: Path):
    """A directory nobody may create files in, root included.

    chmod is enough for other users; root ignores permissions, so for root the
    directory is made immutable (chattr +i, ext4 and most other file systems),
    or, where chattr does not work, sysfs (which refuses new files to root) is used.
    """
    path.mkdir(parents=True, exist_ok=True)
    undo = None
    if os.geteuid() != 0:
        path.chmod(0o555)
        undo = lambda: path.chmod(0o755)  # noqa: E731
    elif shutil.which("chattr") and subprocess.run(["chattr", "+i", str(path)],
                                                   capture_output=True).returncode == 0:
        undo = lambda: subprocess.run(["chattr", "-i", str(path)], check=True)  # noqa: E731
    else:
        path = Path("/sys/kernel")
    try:
        probe = path / "probe-paddle-trt-lab"
        try:
            probe.touch()
        except OSError:
            pass
        else:
            probe.unlink()
            raise RuntimeError(f"could not make {path} read-only here")
        yield path
    finally:
        if undo:
            undo()
