"""The library manifest: generated from the shared matrix, complete, ids unique."""

from __future__ import annotations

import subprocess
import sys

import pytest

from support import ROOT
from toolchain.library.manifest import MANIFEST_PATH, load_manifest, parse_manifest
from toolchain.library.manifest_build import MATRIX_PATH, build_manifest, build_rows, load_matrix, row_id



@pytest.fixture(scope="module")
def matrix():
    return load_matrix(MATRIX_PATH)


def test_ids_unique_and_readable():
    rows = load_manifest()
    ids = [r.id for r in rows]
    assert len(ids) == len(set(ids))
    assert "3.0.0-linux-gpu-cuda11.8-cudnn8.9.7-trt8.6.1.6-gcc11.2-mkl-avx" in ids
    assert "2.5.2-linux-gpu-cuda10.2-cudnn7.6.5-trt7.0.0.11-gcc8.2-mkl-avx" in ids
    assert all(" " not in i and "/" not in i for i in ids)


def test_every_release_row_is_in_the_manifest(matrix):
    rows = load_manifest()
    release = [r for r in matrix if r["channel"] == "release"]
    assert len(rows) == len(release)
    assert {r.url for r in rows} == {r["url_normalized"] for r in release}
    by_dev = {d: sum(r.device == d for r in rows) for d in ("cpu", "gpu", "jetson")}
    assert by_dev == {d: sum(r["device"] == d for r in release) for d in by_dev}
    assert {r.lib_family for r in rows} == {"fluid_inference", "paddle_inference"}


def test_removed_and_contradicted_rows_are_marked(matrix):
    rows = {r.url: r for r in load_manifest()}
    for src in matrix:
        if src["channel"] != "release":
            continue
        row = rows[src["url_normalized"]]
        if src["in_final_doc_table_for_version"] is False:
            assert row.status == "removed" and not row.selectable and row.note
        elif src.get("doc_inconsistencies"):
            assert row.status == "contradicted" and src["doc_inconsistencies"][0] in row.note
        else:
            assert row.status == "ok"
    # the 3.0.0 gcc8.2 CUDA 11.8 build was in a draft only
    r = next(r for r in rows.values()
             if r.id == "3.0.0-linux-gpu-cuda11.8-cudnn8.6.0-trt8.5.1.7-gcc8.2-mkl-avx")
    assert r.status == "removed"


def test_row_fields_from_the_matrix():
    rows = {r.id: r for r in load_manifest()}
    r = rows["2.5.2-linux-gpu-cuda10.2-cudnn8.1.1-trt7.2.3.4-gcc8.2-mkl-avx"]
    assert (r.cuda, r.cudnn, r.tensorrt, r.gcc, r.math_lib, r.avx, r.arch) == (
        "10.2", "8.1.1", "7.2.3.4", "8.2", "mkl", True, "x86_64")
    assert r.url.startswith("https://paddle-inference-lib.bj.bcebos.com/2.5.2/cxx_c/Linux/GPU/")
    assert r.sha256 is None and r.md5 is None
    jet = [x for x in rows.values() if x.device == "jetson"]
    assert jet and all(x.arch == "aarch64" for x in jet)
    # "cuda10" in 1.x URLs is normalised to 10.0
    assert any(x.cuda == "10.0" and x.paddle_version.startswith("1.") for x in rows.values())


def test_row_id_shape():
    assert row_id({"paddle_version": "3.0.0", "device": "gpu", "cuda": "11.8", "cudnn": "8.9.7",
                   "tensorrt": "8.6.1.6", "gcc": "11.2", "math_lib": "mkl", "avx": True}) == \
        "3.0.0-linux-gpu-cuda11.8-cudnn8.9.7-trt8.6.1.6-gcc11.2-mkl-avx"
    assert row_id({"paddle_version": "2.4.2", "device": "cpu", "gcc": "8.2",
                   "math_lib": "openblas", "avx": False}) == "2.4.2-linux-cpu-gcc8.2-openblas-noavx"


def test_committed_toml_is_what_the_script_generates(tmp_path):
    out = tmp_path / "m.toml"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_manifest.py"),
                           "--matrix", str(MATRIX_PATH), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "wrote 766 rows" in proc.stdout or "wrote" in proc.stdout
    assert out.read_text() == MANIFEST_PATH.read_text()


def test_regeneration_keeps_hand_added_checksums(tmp_path, matrix):
    out = tmp_path / "m.toml"
    build_manifest(MATRIX_PATH, out)
    rid = "2.5.2-linux-gpu-cuda10.2-cudnn8.1.1-trt7.2.3.4-gcc8.2-mkl-avx"
    text = out.read_text().replace(f'id = "{rid}"\n', f'id = "{rid}"\nsha256 = "{"ab" * 32}"\n')
    out.write_text(text)
    build_manifest(MATRIX_PATH, out)
    row = next(r for r in parse_manifest(out.read_text()) if r.id == rid)
    assert row.sha256 == "ab" * 32


def test_duplicate_ids_are_rejected():
    base = {"paddle_version": "9.9.9", "channel": "release", "device": "cpu", "arch": "x86_64",
            "gcc": "8.2", "math_lib": "mkl", "avx": True, "lib_family": "paddle_inference",
            "lib_file": "paddle_inference.tgz", "url": "https://h/a/paddle_inference.tgz"}
    same = dict(base, url="https://h/b/paddle_inference.tgz")
    with pytest.raises(ValueError, match="not unique"):
        build_rows([base, same])
    # a .zip and a .tgz of one configuration get distinct ids
    z = dict(base, url="https://h/a/x.zip", lib_file="paddle_inference_install_dir.zip")
    ids = [r["id"] for r in build_rows([base, z])]
    assert len(set(ids)) == 2 and any(i.endswith("-zip") for i in ids)


def test_bad_manifest_is_a_clear_error():
    from toolchain.errors import LabError

    with pytest.raises(LabError, match="not valid TOML"):
        parse_manifest("library = [", where="x.toml")
    with pytest.raises(LabError, match="missing fields"):
        parse_manifest('[[library]]\nid = "a"\n', where="x.toml")
