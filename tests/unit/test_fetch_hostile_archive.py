"""Crafted hostile archives: every escape shape is refused before anything is written.

The archives are built here with tarfile (real .tgz files); extraction is the real
safe_extract / install_archive, not a stand-in.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from support.fetch import build_library_archive
from toolchain.errors import LabError
from toolchain.fetch.extract import (PATH_MAX, ExtractLimits, install_archive, plan_tar,
                                     safe_extract)
from toolchain.library.manifest import find_recipe

ROW = "2.5.2-linux-gpu-cuda10.2-cudnn8.1.1-trt7.2.3.4-gcc8.2-mkl-avx"


def _dir(name):
    i = tarfile.TarInfo(name)
    i.type, i.mode = tarfile.DIRTYPE, 0o755
    return i


def _sym(name, target):
    i = tarfile.TarInfo(name)
    i.type, i.linkname = tarfile.SYMTYPE, target
    return i


def _hard(name, target):
    i = tarfile.TarInfo(name)
    i.type, i.linkname = tarfile.LNKTYPE, target
    return i


def _file(name, data=b"x"):
    i = tarfile.TarInfo(name)
    i.size = len(data)
    return (i, data)


def _tgz(path: Path, members, fmt=tarfile.PAX_FORMAT) -> Path:
    with tarfile.open(path, "w:gz", format=fmt) as tar:
        for m in members:
            if isinstance(m, tuple):
                tar.addfile(m[0], io.BytesIO(m[1]))
            else:
                tar.addfile(m)
    return path


def cve_2025_4517_members(top: str = "paddle_inference") -> list:
    """The realpath-overflow chain: 16 levels of dir + symlink-to-dir with 247-char
    names, a link at the bottom climbing back up, then a link through it that
    climbs 3 levels above the extraction dir, and a file written through that."""
    comp = "d" * 247
    steps = "abcdefghijklmnop"
    out, path = [_dir(top)], top
    for s in steps:
        out += [_dir(f"{path}/{comp}"), _sym(f"{path}/{s}", comp)]
        path = f"{path}/{s}"
    climb = f"{top}/" + "/".join(steps) + "/" + "l" * 254
    out.append(_sym(climb, "../" * len(steps)))
    out.append(_sym(f"{top}/escape", climb[len(top) + 1:] + "/../../../.."))
    out.append(_file(f"{top}/escape/pwned.txt", b"owned\n"))
    return out


def _outside_files(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.parent.rglob("pwned.txt")]


SHAPES = {
    "realpath_overflow_chain": cve_2025_4517_members,
    "symlink_chain_up": lambda top="paddle_inference": [
        _dir(top), _sym(f"{top}/x", ".."), _sym(f"{top}/y", "x/.."),
        _file(f"{top}/y/pwned.txt")],
    "symlink_to_dir_outside_then_write": lambda top="paddle_inference": [
        _dir(top), _sym(f"{top}/a", "b"), _sym(f"{top}/b", "../../.."),
        _file(f"{top}/a/pwned.txt")],
    "hardlink_to_dangling_link": lambda top="paddle_inference": [
        _dir(top), _sym(f"{top}/s", "later"), _hard(f"{top}/h", f"{top}/s")],
    "hardlink_through_dir_link": lambda top="paddle_inference": [
        _dir(top), _sym(f"{top}/up", ".."), _hard(f"{top}/h", f"{top}/up/../etc/passwd")],
    "replace_link_with_file": lambda top="paddle_inference": [
        _dir(top), _sym(f"{top}/lib.so", "x.so"), _file(f"{top}/lib.so")],
    "name_over_path_max": lambda top="paddle_inference": [
        _file(f"{top}/" + "/".join(["n" * 200] * ((PATH_MAX // 201) + 1)))],
    "component_over_name_max": lambda top="paddle_inference": [_file(f"{top}/" + "c" * 300)],
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_escape_shape_is_refused_before_writing(tmp_path, shape):
    archive = _tgz(tmp_path / "a.tgz", SHAPES[shape]())
    dest = tmp_path / "deep" / "er" / "out"
    dest.mkdir(parents=True)
    with pytest.raises(LabError) as err:
        safe_extract(archive, dest)
    assert "unsafe archive" in err.value.message and err.value.where == str(archive)
    assert list(dest.iterdir()) == []
    assert _outside_files(tmp_path) == []


def test_realpath_overflow_says_why(tmp_path):
    _, problems = plan_tar([m[0] if isinstance(m, tuple) else m
                            for m in cve_2025_4517_members()], root_len=40)
    assert any("longer than the OS limit" in p or "leaves" in p or "points outside" in p
               for p in problems), problems


def test_realpath_overflow_through_install_leaves_nothing(tmp_path):
    row = find_recipe(ROW)
    archive = build_library_archive(tmp_path / "a.tgz", row, extra=[
        m for m in cve_2025_4517_members()[1:]])
    lib = tmp_path / "w" / "x" / "lib"
    with pytest.raises(LabError, match="unsafe archive"):
        install_archive(archive, lib, row.id, lambda found: None, {})
    assert list(lib.iterdir()) == [] and _outside_files(tmp_path) == []


def test_nul_byte_in_name_is_a_clean_error(tmp_path):
    info = tarfile.TarInfo("paddle_inference/ok.txt")
    info.size = 1
    info.pax_headers = {"path": "paddle_inference/a\x00b"}
    archive = _tgz(tmp_path / "a.tgz", [(info, b"x")])
    with tarfile.open(archive) as tar:
        assert "\x00" in tar.getmembers()[0].name     # the crafted name survived
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(LabError, match="NUL byte"):
        safe_extract(archive, dest)
    assert list(dest.iterdir()) == []


def test_inside_links_still_work(tmp_path):
    top = "paddle_inference"
    archive = _tgz(tmp_path / "a.tgz", [
        _dir(top), _file(f"{top}/lib/libx.so.1", b"elf"), _sym(f"{top}/lib/libx.so", "libx.so.1"),
        _sym(f"{top}/here", "lib"), _file(f"{top}/here/via-link.txt", b"v"),
        _hard(f"{top}/lib/hard.so", f"{top}/lib/libx.so")])
    dest = tmp_path / "out"
    dest.mkdir()
    safe_extract(archive, dest)
    lib = dest / top / "lib"
    assert os.readlink(lib / "libx.so") == "libx.so.1"
    assert (lib / "via-link.txt").read_bytes() == b"v"          # written where the link led
    assert (lib / "hard.so").read_bytes() == b"elf" and not (lib / "hard.so").is_symlink()


def test_setuid_bits_are_dropped(tmp_path):
    info, data = _file("paddle_inference/tool", b"#!/bin/sh\n")
    info.mode = 0o4777
    archive = _tgz(tmp_path / "a.tgz", [(info, data)])
    dest = tmp_path / "out"
    dest.mkdir()
    safe_extract(archive, dest)
    assert (dest / "paddle_inference" / "tool").stat().st_mode & 0o7777 == 0o755


def test_decompression_bomb_is_refused_from_the_headers(tmp_path):
    big = tarfile.TarInfo("paddle_inference/zeros.bin")
    big.size = 40 << 20
    path = tmp_path / "bomb.tgz"
    with tarfile.open(path, "w:gz") as tar:
        tar.addfile(big, io.BytesIO(bytes(big.size)))
    assert path.stat().st_size < 200_000
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(LabError, match="decompression bomb"):
        safe_extract(path, dest, limits=ExtractLimits(max_ratio=20, min_allowance=1 << 20))
    assert list(dest.iterdir()) == []


def test_member_count_limit(tmp_path):
    archive = _tgz(tmp_path / "a.tgz", [_file(f"paddle_inference/f{i}") for i in range(30)])
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(LabError, match="more than 20 members"):
        safe_extract(archive, dest, limits=ExtractLimits(max_members=20))
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("content, cause", [
    (b"<!DOCTYPE html><html>login</html>", "an HTML/XML page"),
    (gzip.compress(b"x" * 100), "a gzip stream that is truncated or holds no tar"),
    (b"PK-not-quite", "are not gzip, bzip2, xz, zip or tar"),
    (b"", "the file is empty"),
])
def test_not_an_archive_gets_one_plain_cause(tmp_path, content, cause):
    """Not tarfile's list of every method it tried: one cause a user can act on."""
    bad = tmp_path / "paddle_inference.tgz"
    bad.write_bytes(content)
    with pytest.raises(LabError) as err:
        safe_extract(bad, tmp_path / "out")
    assert cause in err.value.message and "ReadError" not in err.value.message
    assert "\n" not in err.value.message and err.value.where == str(bad)
