"""The bin and slim-dir formats, conversion between them, and the sidecar check."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from toolchain.data.binfmt import (DatasetReader, IMAGE_BYTES, bin_size, write_bin,
                                   write_dataset, write_slim_dir)
from toolchain.data.convert import convert_dataset
from toolchain.data.sidecar import (build_sidecar, dataset_digest, verify_sidecar,
                                    write_sidecar)
from toolchain.data.formats import FORMATS, format_named, format_of
from toolchain.errors import LabError
from toolchain.progress import RecordingProgress


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3, 224, 224)).astype(np.float32)


def _with_sidecar(path, labels):
    fmt = "bin" if path.is_file() else "slim-dir"
    digest, size = dataset_digest(path)
    write_sidecar(path, build_sidecar(path, fmt, len(labels), labels, digest, size))


def test_bin_layout_is_paddles(tmp_path):
    imgs, labels = _images(3), [7, 0, 999]
    write_bin(tmp_path / "d.bin", iter(imgs), labels)
    raw = (tmp_path / "d.bin").read_bytes()
    assert len(raw) == bin_size(3) == 8 + 3 * 602112 + 3 * 8
    assert struct.unpack("<q", raw[:8]) == (3,)
    assert raw[8:8 + IMAGE_BYTES] == imgs[0].astype("<f4").tobytes()
    assert struct.unpack("<3q", raw[8 + 3 * IMAGE_BYTES:]) == (7, 0, 999)


def test_reader_batches_and_slices(tmp_path):
    imgs, labels = _images(5), [1, 2, 3, 4, 5]
    write_bin(tmp_path / "d.bin", (im for im in imgs), labels)
    with DatasetReader(tmp_path / "d.bin") as r:
        assert r.count == 5 and r.format == "bin"
        assert r.labels.dtype == np.int64 and list(r.labels) == labels
        assert np.array_equal(r.images(1, 2), imgs[1:3])
        assert r.images(4, 10).shape == (1, 3, 224, 224)
        batches = list(r.iter_batches(2))
        assert [b[0].shape[0] for b in batches] == [2, 2, 1]
        assert np.array_equal(np.concatenate([b[0] for b in batches]), imgs)
        assert [list(b[1]) for b in r.iter_batches(2, limit=3)] == [[1, 2], [3]]


def test_slim_dir_layout_and_reader(tmp_path):
    imgs, labels = _images(3, seed=1), [5, 6, 2 ** 31 - 1]
    write_slim_dir(tmp_path / "slim", iter(imgs), labels)
    rec = (tmp_path / "slim" / "1.data").read_bytes()
    assert len(rec) == 602116
    assert rec[:IMAGE_BYTES] == imgs[1].tobytes() and struct.unpack("<i", rec[-4:]) == (6,)
    with DatasetReader(tmp_path / "slim") as r:
        assert r.format == "slim-dir" and r.count == 3
        assert list(r.labels) == labels
        assert np.array_equal(r.images(0, 3), imgs)


@pytest.mark.parametrize("first", ["bin", "slim-dir"])
def test_conversion_round_trip(tmp_path, first):
    imgs, labels = _images(4, seed=2), [3, 1, 4, 1]
    src = tmp_path / "src"
    (write_bin if first == "bin" else write_slim_dir)(src, iter(imgs), labels)
    _with_sidecar(src, labels)
    other = "slim-dir" if first == "bin" else "bin"
    rec = RecordingProgress()
    mid = convert_dataset(src, tmp_path / "mid", other, progress=rec)
    assert rec.events[0] == ("start", "converting", 4, "images")
    assert sum(e[2] for e in rec.events if e[0] == "advance") == 4
    back = convert_dataset(tmp_path / "mid", tmp_path / "back", first)
    assert mid.source_sidecar_verified and back.source_sidecar_verified
    # the digest is of the images and labels, whichever format holds them
    assert back.sha256 == mid.sha256 == dataset_digest(src)[0]
    with DatasetReader(tmp_path / "back") as r:
        assert np.array_equal(r.images(0, 4), imgs) and list(r.labels) == labels
    verify_sidecar(tmp_path / "mid")
    verify_sidecar(tmp_path / "back")
    with pytest.raises(LabError, match="already in the"):
        convert_dataset(src, tmp_path / "same", first)


def test_reader_rejects_broken_files(tmp_path):
    write_bin(tmp_path / "d.bin", iter(_images(2)), [0, 1])
    data = (tmp_path / "d.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[:-9])
    with pytest.raises(LabError, match="header says 2 images"):
        DatasetReader(tmp_path / "cut.bin")
    (tmp_path / "tiny.bin").write_bytes(b"\x01")
    with pytest.raises(LabError, match="only 1 bytes"):
        DatasetReader(tmp_path / "tiny.bin")
    write_slim_dir(tmp_path / "slim", iter(_images(3)), [0, 1, 2])
    (tmp_path / "slim" / "1.data").unlink()
    with pytest.raises(LabError, match="1.data is missing"):
        DatasetReader(tmp_path / "slim")
    with pytest.raises(LabError, match="not found"):
        DatasetReader(tmp_path / "nothing")


def test_sidecar_mismatches_are_detected(tmp_path):
    path = tmp_path / "d.bin"
    write_bin(path, iter(_images(3)), [0, 1, 2])
    with pytest.raises(LabError, match="has no sidecar"):
        verify_sidecar(path)
    _with_sidecar(path, [0, 1, 2])
    assert verify_sidecar(path)["count"] == 3

    raw = bytearray(path.read_bytes())
    raw[1000] ^= 0x40                                   # one flipped bit in an image
    path.write_bytes(bytes(raw))
    with pytest.raises(LabError, match="does not match its sidecar"):
        verify_sidecar(path)
    assert verify_sidecar(path, check_hash=False)["count"] == 3

    write_bin(path, iter(_images(2)), [0, 1])           # another dataset, old sidecar
    with pytest.raises(LabError, match="sidecar says 3 images"):
        verify_sidecar(path)

    side = json.loads((tmp_path / "d.bin.json").read_text())
    side["count"], side["size_bytes"] = 2, 123
    (tmp_path / "d.bin.json").write_text(json.dumps(side))
    with pytest.raises(LabError, match="sidecar says 123 bytes"):
        verify_sidecar(path)
    side["format"] = "slim-dir"
    (tmp_path / "d.bin.json").write_text(json.dumps(side))
    with pytest.raises(LabError, match="format 'slim-dir'"):
        verify_sidecar(path)
    (tmp_path / "d.bin.json").write_text("{not json")
    with pytest.raises(LabError, match="unreadable"):
        verify_sidecar(path)


def test_version_1_sidecars_are_checked_against_the_whole_file_sha256(tmp_path):
    import hashlib

    path = tmp_path / "d.bin"
    write_bin(path, iter(_images(2)), [4, 2])
    side = build_sidecar(path, "bin", 2, [4, 2], hashlib.sha256(path.read_bytes()).hexdigest(),
                         path.stat().st_size)
    side["sidecar_version"] = 1
    del side["digest"]
    write_sidecar(path, side)
    assert verify_sidecar(path)["sidecar_version"] == 1
    side["sidecar_version"] = 2                 # the same sha256 read as a v2 digest
    write_sidecar(path, side)
    with pytest.raises(LabError, match="does not match its sidecar"):
        verify_sidecar(path)
    side["sidecar_version"] = 9
    write_sidecar(path, side)
    with pytest.raises(LabError, match="version 9; this tool reads versions 1 and 2"):
        verify_sidecar(path)


def test_a_changed_slim_dir_label_is_detected(tmp_path):
    path = tmp_path / "slim"
    write_slim_dir(path, iter(_images(3)), [0, 1, 2])
    _with_sidecar(path, [0, 1, 2])
    verify_sidecar(path)
    rec = bytearray((path / "2.data").read_bytes())
    rec[-4:] = struct.pack("<i", 7)
    (path / "2.data").write_bytes(bytes(rec))
    with pytest.raises(LabError, match="does not match its sidecar"):
        verify_sidecar(path)


def test_writer_counts_must_match(tmp_path):
    with pytest.raises(ValueError):
        write_bin(tmp_path / "d.bin", iter(_images(2)), [0, 1, 2])
    with pytest.raises(ValueError):
        write_bin(tmp_path / "d.bin", iter(_images(1)[0:1].reshape(1, 3, 224, 224)), [])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_format_writes_what_it_reads(tmp_path, name):
    fmt = format_named(name)
    imgs, labels = _images(3, seed=4), [9, 0, 2 ** 31 - 1]
    path = write_dataset(tmp_path / "d", fmt, iter(imgs), labels)
    assert format_of(path) is fmt
    files = fmt.data_files(path, 3)
    assert sum(f.stat().st_size for f in files) == fmt.size(3)
    with DatasetReader(path) as r:
        assert (r.format, r.count, list(r.labels)) == (name, 3, labels)
        assert r.images(0, 3).tobytes() == imgs.tobytes()
        assert [lab for _, lab in r.iter_records()] == labels
    stored = fmt.header(3) + b"".join(fmt.stored_slot(path, i) for i in range(3)) \
        + fmt.trailer(labels)
    assert stored == b"".join(f.read_bytes() for f in files)
    with pytest.raises(LabError, match="unknown --to 'zip'"):
        format_named("zip", "--to")
