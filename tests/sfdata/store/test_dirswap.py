"""The one directory swap: the target is the old folder or the new one, never half of either."""

from __future__ import annotations

import pytest

from sfdata.store.dirswap import staged_dir, swap_in


def test_staged_dir_replaces_target_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with staged_dir(target) as staging:
        (staging / "new.txt").write_text("new")
        assert (target / "old.txt").exists()  # readers still see the old folder while staging
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_failure_while_staging_keeps_the_old_folder(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with staged_dir(target) as staging:
            (staging / "half.txt").write_text("x")
            raise RuntimeError("crash")
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_swap_into_missing_target(tmp_path):
    staging = tmp_path / "s"
    staging.mkdir()
    (staging / "a").write_text("a")
    swap_in(staging, tmp_path / "t")
    assert (tmp_path / "t" / "a").read_text() == "a" and not staging.exists()
