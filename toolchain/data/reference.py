"""Paddle's full_ILSVRC2012_val_preprocess.py (local mode), transcribed as it is.

Single process, numpy and Pillow only, and on purpose no code shared with the
rest of toolchain.data: it is what the fast pipeline (toolchain/data/preprocess.py)
is checked against, byte for byte, by the tests and by
benchmarks/preprocess_throughput.py. Its constants are written out again here
for the same reason. A listed image that does not exist stays zero-filled, as in
the original.
"""

from __future__ import annotations

import os
from pathlib import Path


def reference_process_image(img):
    """One PIL image -> float32 CHW array, the reference's process_image."""
    import numpy as np
    from PIL import Image

    img_mean = np.array([0.485, 0.456, 0.406]).reshape((3, 1, 1))
    img_std = np.array([0.229, 0.224, 0.225]).reshape((3, 1, 1))
    percent = float(256) / min(img.size[0], img.size[1])
    resized_width = int(round(img.size[0] * percent))
    resized_height = int(round(img.size[1] * percent))
    img = img.resize((resized_width, resized_height), Image.LANCZOS)
    width, height = img.size
    w_start = (width - 224) // 2
    h_start = (height - 224) // 2
    img = img.crop((w_start, h_start, w_start + 224, h_start + 224))
    if img.mode != "RGB":
        img = img.convert("RGB")
    img = np.array(img).astype("float32").transpose((2, 0, 1)) / 255
    img -= img_mean
    img /= img_std
    return img


def reference_bin(data_dir: Path | str, label_list: Path | str, output: Path | str) -> None:
    """The reference script's --local conversion of `label_list` into the bin `output`."""
    import numpy as np
    from PIL import Image

    with open(label_list) as flist:
        lines = [line.strip() for line in flist]
    num_images = len(lines)
    with open(output, "w+b") as of:
        of.write(np.array(int(num_images)).astype("int64").tobytes())
        for idx, line in enumerate(lines):
            img_path, label = line.split()
            img_path = os.path.join(data_dir, img_path)
            if not os.path.exists(img_path):
                continue
            np_img = np.array(reference_process_image(Image.open(img_path)))
            of.seek(8 + 4 * 224 * 224 * 3 * idx)
            of.write(np_img.astype("float32").tobytes())
            of.seek(8 + 4 * 224 * 224 * 3 * num_images + idx * 8)
            of.write(np.array(int(label)).astype("int64").tobytes())
