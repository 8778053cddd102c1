"""preprocess_dataset against an independent transcription of the reference script."""

from __future__ import annotations

import hashlib
import json
import struct

import numpy as np
import PIL
import pytest

from support.data import IMAGE_KINDS, make_image_set
from toolchain.data import preprocess as pp
from toolchain.data.binfmt import DatasetReader, IMAGE_BYTES, bin_size
from toolchain.data.preprocess import normalize_lut, preprocess_dataset
from toolchain.data.reference import reference_bin, reference_process_image
from toolchain.data.sidecar import verify_sidecar
from toolchain.errors import LabError


@pytest.fixture(scope="module")
def image_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("imagenet_user")
    make_image_set(root, repeat=2)
    return root


def test_lut_equals_reference_arithmetic():
    from array import array

    lut = normalize_lut()
    assert [len(band) for band in lut] == [256, 256, 256]
    pixels = np.broadcast_to(np.arange(256, dtype=np.uint8), (256, 256))
    img = np.stack([pixels] * 3, axis=-1)          # HWC, every value in every channel
    ref = img.astype("float32").transpose((2, 0, 1)) / 255
    ref -= np.array([0.485, 0.456, 0.406]).reshape((3, 1, 1))
    ref /= np.array([0.229, 0.224, 0.225]).reshape((3, 1, 1))
    assert ref.dtype == np.float32
    assert array("f", lut[0] + lut[1] + lut[2]).tobytes() == \
        np.ascontiguousarray(ref[:, 0, :]).tobytes()


@pytest.mark.parametrize("name", [k[0] for k in IMAGE_KINDS])
def test_each_mode_matches_reference(image_set, name):
    from PIL import Image

    path = image_set / "val" / f"000_{name}"
    ours = pp.process_image(str(path))
    ref = reference_process_image(Image.open(path)).astype("<f4")
    assert ours == ref.tobytes()


def test_whole_file_byte_identical(image_set, tmp_path):
    ref = tmp_path / "reference.bin"
    reference_bin(image_set, image_set / "val_list.txt", ref)
    result = preprocess_dataset(image_set, None, tmp_path / "ours.bin", jobs=2)
    assert result.count == 2 * len(IMAGE_KINDS)
    assert (tmp_path / "ours.bin").read_bytes() == ref.read_bytes()


def test_parallel_equals_single_process(image_set, tmp_path):
    for fmt in ("bin", "slim-dir"):
        one = preprocess_dataset(image_set, None, tmp_path / f"one-{fmt}", fmt=fmt, jobs=1)
        two = preprocess_dataset(image_set, None, tmp_path / f"two-{fmt}", fmt=fmt, jobs=2)
        three = preprocess_dataset(image_set, None, tmp_path / f"three-{fmt}", fmt=fmt, jobs=3)
        assert one.sha256 == two.sha256 == three.sha256
    assert (tmp_path / "one-bin").read_bytes() == (tmp_path / "two-bin").read_bytes()


def test_slim_dir_records_match_bin(image_set, tmp_path):
    preprocess_dataset(image_set, None, tmp_path / "d.bin")
    preprocess_dataset(image_set, None, tmp_path / "slim", fmt="slim-dir")
    raw = (tmp_path / "d.bin").read_bytes()
    n = struct.unpack("<q", raw[:8])[0]
    labels = np.frombuffer(raw[8 + n * IMAGE_BYTES:], dtype="<i8")
    for i in range(n):
        rec = (tmp_path / "slim" / f"{i}.data").read_bytes()
        assert len(rec) == 602116
        assert rec[:IMAGE_BYTES] == raw[8 + i * IMAGE_BYTES: 8 + (i + 1) * IMAGE_BYTES]
        assert struct.unpack("<i", rec[IMAGE_BYTES:])[0] == labels[i]


def test_sidecar_describes_output(image_set, tmp_path):
    out = tmp_path / "val.bin"
    result = preprocess_dataset(image_set, None, out, jobs=2, limit=5)
    side = json.loads((tmp_path / "val.bin.json").read_text())
    assert side["count"] == 5 == result.count
    assert side["shape"] == [3, 224, 224]
    raw = out.read_bytes()          # v2 digest, from the bytes: count | image sha256s | labels
    images = raw[8:8 + 5 * IMAGE_BYTES]
    assert side["sidecar_version"] == 2 and side["sha256"] == hashlib.sha256(
        raw[:8] + b"".join(hashlib.sha256(images[i * IMAGE_BYTES:(i + 1) * IMAGE_BYTES]).digest()
                           for i in range(5)) + raw[8 + 5 * IMAGE_BYTES:]).hexdigest()
    assert result.sha256 == side["sha256"]
    assert side["size_bytes"] == bin_size(5) == out.stat().st_size
    assert side["label_list"]["sha256"] == hashlib.sha256(
        (image_set / "val_list.txt").read_bytes()).hexdigest()
    labels = [int(line.split()[1]) for line in (image_set / "val_list.txt").read_text().split(
        "\n")[:5]]
    assert (side["label_min"], side["label_max"]) == (min(labels), max(labels))
    assert side["pillow"] == PIL.__version__
    assert side["options"]["limit"] == 5 and side["options"]["jobs"] == 2
    assert verify_sidecar(out)["count"] == 5
    # nothing else left beside the output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["val.bin", "val.bin.json"]


def _subset_list(root, keep_lines, name):
    lines = (root / "val_list.txt").read_text().splitlines()
    (root / name).write_text("".join(lines[i] + "\n" for i in keep_lines))
    return root / name


@pytest.mark.parametrize("fmt", ["bin", "slim-dir"])
def test_skip_bad_leaves_out_and_compacts(image_set, tmp_path, fmt):
    root = tmp_path / "data"
    root.mkdir()
    (root / "val").symlink_to(image_set / "val")
    lines = (image_set / "val_list.txt").read_text().splitlines()
    (root / "bad").mkdir()
    (root / "bad" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "bad" / "truncated.jpg").write_bytes((image_set / lines[0].split()[0]).read_bytes()[:900])
    mixed = lines[:3] + ["bad/corrupt.jpg 5"] + lines[3:6] + ["bad/truncated.jpg 6"] + lines[6:8]
    (root / "val_list.txt").write_text("\n".join(mixed) + "\n")
    with pytest.raises(LabError) as err:
        preprocess_dataset(root, None, tmp_path / "x", fmt=fmt)
    assert "line 4" in err.value.message and "corrupt.jpg" in err.value.where
    assert not any(p.name.startswith(".x") or p.name == "x" for p in tmp_path.iterdir())

    result = preprocess_dataset(root, None, tmp_path / "out", fmt=fmt, jobs=2, skip_bad=True)
    assert result.count == 8
    assert [b["line"] for b in result.skipped_bad] == [4, 8]
    good = _subset_list(image_set, list(range(8)), "good_list.txt")
    reference_bin(image_set, good, tmp_path / "ref.bin")
    with DatasetReader(tmp_path / "out") as ours, DatasetReader(tmp_path / "ref.bin") as ref:
        assert ours.count == ref.count == 8
        assert np.array_equal(ours.labels, ref.labels)
        assert ours.images(0, 8).tobytes() == ref.images(0, 8).tobytes()
    verify_sidecar(tmp_path / "out")


def test_skip_missing_shrinks_never_zero_fills(image_set, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "val").symlink_to(image_set / "val")
    lines = (image_set / "val_list.txt").read_text().splitlines()
    (root / "val_list.txt").write_text("\n".join(lines[:2] + ["val/gone.jpg 3"] + lines[2:4])
                                       + "\n")
    result = preprocess_dataset(root, None, tmp_path / "o.bin", skip_missing=True)
    assert result.count == 4 and result.skipped_missing == [{"line": 3, "path": "val/gone.jpg"}]
    with DatasetReader(tmp_path / "o.bin") as r:
        imgs = r.images(0, 4)
    assert all(np.abs(imgs[i]).sum() > 0 for i in range(4))


def test_too_small_after_resize_is_guarded(image_set, tmp_path, monkeypatch):
    monkeypatch.setattr(pp, "RESIZE_SHORT", 200)
    with pytest.raises(LabError) as err:
        preprocess_dataset(image_set, None, tmp_path / "o.bin", jobs=1)
    assert "line 1" in err.value.message and "smaller than the 224 crop" in err.value.message
    assert "000_rgb.jpg" in err.value.where
    assert list(tmp_path.iterdir()) == []


def test_many_sizes_and_modes_match_reference(tmp_path):
    """Odd, tiny, huge-aspect and exactly-256 sizes, every mode the fast path takes."""
    from PIL import Image

    from support.data import photo, save_as

    rng = np.random.default_rng(5)
    sizes = [(256, 256), (256, 300), (300, 256), (224, 224), (255, 257), (97, 61),
             (600, 256), (256, 999), (257, 256)]
    sizes += [(int(rng.integers(60, 700)), int(rng.integers(60, 700))) for _ in range(24)]
    modes = ["RGB", "L", "CMYK", "P", "RGBA", "I;16"]
    for i, (w, h) in enumerate(sizes):
        mode = modes[i % len(modes)]
        path = tmp_path / f"{i}.{'jpg' if mode in ('RGB', 'L', 'CMYK') and i % 2 else 'png'}"
        if mode == "CMYK" and path.suffix == ".png":
            path = path.with_suffix(".tif")
        save_as(photo(w, h, seed=i), path, mode)
        ours = pp.process_image(str(path))
        ref = reference_process_image(Image.open(path)).astype("<f4")
        assert ours == ref.tobytes(), (w, h, mode, path.suffix)


def test_plan_decides_everything_and_writes_nothing(image_set, tmp_path):
    import dataclasses

    from toolchain.data.preprocess import execute
    from toolchain.data.preprocess_plan import plan_preprocess

    out = tmp_path / "new" / "v.bin"
    plan = plan_preprocess(image_set, None, out, jobs=2, limit=9)
    assert list(tmp_path.iterdir()) == []                   # not even the output folder
    assert (plan.format, plan.listed, len(plan.entries), plan.missing) == (
        "bin", 2 * len(IMAGE_KINDS), 9, ())
    assert plan.need_bytes == bin_size(9) and plan.free_bytes > plan.need_bytes
    assert plan.chunk_size == 1 and plan.chunks == 9 and plan.jobs == 2
    assert plan.label_list_sha256 == hashlib.sha256(
        (image_set / "val_list.txt").read_bytes()).hexdigest()
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.jobs = 3
    assert json.loads(plan.to_json())["entries"][0]["line_no"] == 1
    result = execute(plan)
    assert result.count == 9 and result.jobs == 2
    ref = preprocess_dataset(image_set, None, tmp_path / "ref.bin", jobs=1, limit=9)
    assert out.read_bytes() == (tmp_path / "ref.bin").read_bytes()
    assert result.sha256 == ref.sha256
    slim = plan_preprocess(image_set, None, tmp_path / "slim", fmt="slim-dir", jobs=1)
    assert slim.need_bytes == 2 * len(IMAGE_KINDS) * 602116 and slim.chunk_size == 6
    with pytest.raises(LabError, match="unknown --format 'tar'"):
        plan_preprocess(image_set, None, tmp_path / "x", fmt="tar")


@pytest.mark.parametrize("jobs", [1, 2])
def test_progress_goes_to_the_sink_with_the_rate(image_set, tmp_path, jobs):
    from toolchain.progress import RecordingProgress

    rec = RecordingProgress()
    result = preprocess_dataset(image_set, None, tmp_path / "v.bin", jobs=jobs, progress=rec)
    assert rec.events[0] == ("start", "preprocessing", result.count, "images")
    assert rec.events[-1] == ("done", "preprocessing")
    assert sum(e[2] for e in rec.events if e[0] == "advance") == result.count
    notes = [e[4] for e in rec.events if e[0] == "update"]
    assert notes and all(n.endswith(" images/s") and n.split()[0].isdigit() for n in notes)
