"""fsio.staged_directory: built beside the target, swapped in on success, gone on failure."""

from __future__ import annotations

import pytest

from toolchain.fsio import staged_directory


def test_success_replaces_the_old_tree_and_leaves_no_sibling(tmp_path):
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with staged_directory(dest) as staged:
        assert staged.parent == tmp_path and staged.is_dir() and not any(staged.iterdir())
        (staged / "new.txt").write_text("new")
        assert (dest / "old.txt").exists()          # nothing changes before the block ends
    assert [p.name for p in dest.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_failure_keeps_the_old_tree_and_removes_the_stage(tmp_path):
    dest = tmp_path / "a" / "out"               # the parent is created
    with pytest.raises(RuntimeError):
        with staged_directory(dest) as staged:
            (staged / "half.txt").write_text("x")
            raise RuntimeError("worker died")
    assert not dest.exists() and list((tmp_path / "a").iterdir()) == []
    dest.mkdir()
    (dest / "keep").write_text("k")
    with pytest.raises(KeyboardInterrupt):
        with staged_directory(dest):
            raise KeyboardInterrupt
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["out"]
    assert (dest / "keep").read_text() == "k"
