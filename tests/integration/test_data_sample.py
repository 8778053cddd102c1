"""The sample dataset: real labelled images, mixed files, a held-out split that is learnable."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from toolchain.data.binfmt import DatasetReader
from toolchain.data.preprocess import preprocess_dataset
from toolchain.data.sample import write_sample_dataset
from toolchain.errors import LabError
from toolchain.progress import RecordingProgress


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "digits"
    return write_sample_dataset(out, 200)


def _entries(path):
    return [(p, int(lab)) for p, lab in (line.split() for line in path.read_text().splitlines())]


def test_layout_split_and_files(sample):
    train, val = _entries(sample.train_list), _entries(sample.val_list)
    assert (len(train), len(val)) == (150, 50) == (sample.train_count, sample.val_count)
    assert not {p for p, _ in train} & {p for p, _ in val}
    assert Counter(lab for _, lab in val) == {c: 5 for c in range(10)}
    assert Counter(lab for _, lab in train) == {c: 15 for c in range(10)}
    modes, sizes = Counter(), set()
    for rel, _ in train + val:
        with Image.open(sample.out_dir / rel) as img:
            modes[(img.format, img.mode)] += 1
            assert min(img.size) >= 256
            sizes.add(img.size)
    assert {("JPEG", "RGB"), ("JPEG", "L"), ("JPEG", "CMYK"), ("PNG", "P"),
            ("PNG", "RGBA")} <= set(modes)
    assert len(sizes) > 5 and any(w != h for w, h in sizes)
    meta = json.loads((sample.out_dir / "sample.json").read_text())
    assert meta["source_package"] == "scikit-learn" and meta["count"] == 200


def test_deterministic(sample, tmp_path):
    rec = RecordingProgress()
    again = write_sample_dataset(tmp_path / "again", 200, progress=rec)
    assert rec.events[0] == ("start", "writing sample images", 200, "images")
    assert sum(e[2] for e in rec.events if e[0] == "advance") == 200
    for rel, _ in _entries(sample.val_list)[:10]:
        assert (again.out_dir / rel).read_bytes() == (sample.out_dir / rel).read_bytes()
    assert again.val_list.read_text() == sample.val_list.read_text()


def test_refuses_foreign_directory_and_bad_n(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me")
    with pytest.raises(LabError, match="not a sample dataset"):
        write_sample_dataset(tmp_path / "mine", 20)
    assert (tmp_path / "mine" / "thesis.tex").exists()
    with pytest.raises(LabError, match="outside"):
        write_sample_dataset(tmp_path / "x", 5)


@pytest.mark.slow
def test_classes_are_learnable_on_held_out_images(sample, tmp_path):
    """A linear classifier on preprocessed, downsampled pixels beats chance by far."""
    def features(path):
        preprocess_dataset(sample.out_dir, path, tmp_path / path.stem)
        with DatasetReader(tmp_path / path.stem) as r:
            x = r.images(0, r.count).reshape(r.count, 3, 28, 8, 28, 8).mean(axis=(1, 3, 5))
            return x.reshape(r.count, -1), r.labels

    xtr, ytr = features(sample.train_list)
    xva, yva = features(sample.val_list)
    mean, std = xtr.mean(0), xtr.std(0) + 1e-6
    a = np.hstack([(xtr - mean) / std, np.ones((len(xtr), 1))])
    onehot = np.eye(10)[ytr]
    w = np.linalg.solve(a.T @ a + 10.0 * np.eye(a.shape[1]), a.T @ onehot)
    pred = (np.hstack([(xva - mean) / std, np.ones((len(xva), 1))]) @ w).argmax(1)
    accuracy = float((pred == yva).mean())
    print(f"held-out accuracy {accuracy:.2f}")
    assert accuracy >= 0.6, accuracy
