"""A small real labelled image dataset in the imagenet_user layout, offline.

Source: the UCI "Optical Recognition of Handwritten Digits" set (1,797 real 8x8
handwritten digits, classes 0-9) that ships inside the scikit-learn wheel
(`sklearn.datasets.load_digits`), so nothing is downloaded at run time.

Each digit is turned into an ImageNet-sized photo-like file: upscaled
(bicubic) to ~72 % of the short side, tinted, drawn on a dark noisy gradient,
on canvases of mixed sizes and aspect ratios (short side 256-360 px), saved in
mixed modes and formats (RGB/grayscale/CMYK JPEG, palette/RGB/RGBA PNG) so that
preprocessing meets what ImageNet throws at it. The digit stays inside the
224 centre crop, so the classes stay learnable.

Split (deterministic): images are taken class by class round-robin; the k-th
image of class c goes to val when (k + c) % 4 == 3, else to train: 75/25 and
balanced over every 40 images, with val images even for small n.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LabError
from ..progress import NO_PROGRESS, ProgressSink
from ..results import JsonResult

SOURCE_PACKAGE = "scikit-learn"
SOURCE_DATASET = "sklearn.datasets.load_digits (UCI optical recognition of handwritten digits)"
DEFAULT_N = 400
CLASSES = 10
MARKER = "sample.json"
SEED = 20240607
SAMPLE_SUBDIR = ("data", "sample")


def sample_dir(work_dir: Path | str) -> Path:
    """The one sample-image folder: <work_dir>/data/sample (sample-data writes it,
    preprocess reads it by default, quickstart uses it)."""
    return Path(work_dir).joinpath(*SAMPLE_SUBDIR)

# (extension, PIL save mode) cycled over the images
_STYLES = [("jpg", "RGB"), ("jpg", "RGB"), ("jpg", "RGB"), ("jpg", "L"),
           ("png", "P"), ("png", "RGB"), ("jpg", "CMYK"), ("png", "RGBA")]
_SHORT_SIDES = [256, 272, 288, 320, 360]
_ASPECTS = [1.0, 4 / 3, 3 / 4, 1.25, 0.8]


@dataclass
class SampleDataResult(JsonResult):
    out_dir: Path
    count: int
    train_count: int
    val_count: int
    classes: int
    train_list: Path
    val_list: Path
    source_package: str
    source_version: str
    source_dataset: str
    modes: dict[str, int] = field(default_factory=dict)


def _load_digits():
    try:
        from sklearn.datasets import load_digits
        import sklearn
    except ImportError as err:
        raise LabError("the sample dataset needs scikit-learn (its wheel ships the digits)",
                       hint="pip install scikit-learn") from err
    digits = load_digits()
    return digits.images, digits.target, sklearn.__version__


def max_count() -> int:
    """Largest n with the same number of images per class."""
    import numpy as np

    _, target, _ = _load_digits()
    return int(np.bincount(target).min()) * CLASSES


def render_digit(pixels, index: int, rng):
    """One 8x8 digit (values 0..16) -> a PIL image of ImageNet-like size."""
    import numpy as np
    from PIL import Image

    short = _SHORT_SIDES[int(rng.integers(len(_SHORT_SIDES)))]
    aspect = _ASPECTS[int(rng.integers(len(_ASPECTS)))]
    if aspect >= 1:
        width, height = round(short * aspect), short
    else:
        width, height = short, round(short / aspect)
    size = round(0.72 * short)
    glyph = Image.fromarray((np.asarray(pixels, np.float32) / 16.0)).resize(
        (size, size), Image.BICUBIC)
    alpha = np.clip(np.asarray(glyph, np.float32), 0.0, 1.0)[..., None]

    jitter = int(0.03 * short)
    x0 = (width - size) // 2 + int(rng.integers(-jitter, jitter + 1))
    y0 = (height - size) // 2 + int(rng.integers(-jitter, jitter + 1))

    base = rng.uniform(0, 60, size=3)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    bg = base + ramp * rng.uniform(-25, 40, size=3)
    bg = np.broadcast_to(bg, (height, width, 3)) + rng.normal(0, 6, size=(height, width, 3))
    fg = rng.uniform(170, 255, size=3)
    fg[int(rng.integers(3))] = 255
    canvas = bg.astype(np.float32)
    region = canvas[y0:y0 + size, x0:x0 + size]
    canvas[y0:y0 + size, x0:x0 + size] = region * (1 - alpha) + fg * alpha
    return Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), "RGB")


def _save(img, path: Path, mode: str) -> None:
    from PIL import Image

    if mode == "P":
        img = img.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    elif mode == "RGBA":
        img = img.convert("RGBA")
    elif mode != "RGB":
        img = img.convert(mode)
    if path.suffix == ".jpg":
        img.save(path, quality=90)
    else:
        img.save(path)


def select(target, n: int) -> list[tuple[int, int, int]]:
    """(dataset index, class, k-th of its class) for n images, class round-robin."""
    import numpy as np

    per_class = [np.flatnonzero(target == c) for c in range(CLASSES)]
    picks = []
    for i in range(n):
        cls, k = i % CLASSES, i // CLASSES
        picks.append((int(per_class[cls][k]), cls, k))
    return picks


def is_val(cls: int, k: int) -> bool:
    """Held out: one image in four of every class, staggered so that even a
    small n has val images of several classes."""
    return (k + cls) % 4 == 3


def write_sample_dataset(out_dir: Path, n: int | None = None,
                         progress: ProgressSink = NO_PROGRESS) -> SampleDataResult:
    """Write n images (default DEFAULT_N) + train_list.txt/val_list.txt under out_dir.

    Written to a temporary sibling directory and renamed when complete. An
    existing out_dir is replaced only if it is an earlier sample dataset (it
    holds sample.json) or empty.
    """
    import numpy as np

    from ..fsio import swap_in_directory
    from .staging import remove_path, temp_sibling

    out_dir = Path(out_dir)
    n = DEFAULT_N if n is None else int(n)
    images, target, version = _load_digits()
    limit = int(np.bincount(target).min()) * CLASSES
    if not CLASSES <= n <= limit:
        raise LabError(f"-n {n} is outside {CLASSES}..{limit}",
                       hint=f"the digits set has {limit} images with equal classes; pick n <= {limit}")
    if out_dir.exists() and not (out_dir / MARKER).is_file():
        if not out_dir.is_dir() or any(out_dir.iterdir()):
            raise LabError(f"{out_dir} exists and is not a sample dataset", where=str(out_dir),
                           hint="choose another --out or remove it")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_sibling(out_dir)
        remove_path(tmp)
        (tmp / "train").mkdir(parents=True)
        (tmp / "val").mkdir()
    except OSError as err:
        raise LabError(f"cannot write the sample dataset: {err.strerror}",
                       where=str(out_dir), hint="choose a writable --out") from err

    modes: dict[str, int] = {}
    lines = {"train": [], "val": []}
    try:
        with progress.track("writing sample images", total=n, unit="images") as bar:
            for i, (src, cls, k) in enumerate(select(target, n)):
                rng = np.random.default_rng([SEED, i])
                ext, mode = _STYLES[i % len(_STYLES)]
                split = "val" if is_val(cls, k) else "train"
                rel = f"{split}/img_{i:05d}.{ext}"
                _save(render_digit(images[src], i, rng), tmp / rel, mode)
                lines[split].append(f"{rel} {cls}\n")
                modes[f"{mode} {ext.upper()}"] = modes.get(f"{mode} {ext.upper()}", 0) + 1
                bar.advance()
        for split in ("train", "val"):
            (tmp / f"{split}_list.txt").write_text("".join(lines[split]))
        meta = {
            "source_package": SOURCE_PACKAGE, "source_version": version,
            "source_dataset": SOURCE_DATASET, "count": n, "classes": CLASSES,
            "train_count": len(lines["train"]), "val_count": len(lines["val"]),
            "split": "k-th image of class c goes to val when (k + c) % 4 == 3",
            "seed": SEED, "modes": modes,
        }
        (tmp / MARKER).write_text(json.dumps(meta, indent=2) + "\n")
        swap_in_directory(tmp, out_dir)
    except BaseException:
        remove_path(tmp)
        raise
    return SampleDataResult(
        out_dir=out_dir, count=n, train_count=len(lines["train"]), val_count=len(lines["val"]),
        classes=CLASSES, train_list=out_dir / "train_list.txt", val_list=out_dir / "val_list.txt",
        source_package=SOURCE_PACKAGE, source_version=version, source_dataset=SOURCE_DATASET,
        modes=modes)

