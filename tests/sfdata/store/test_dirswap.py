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


def _folder(path, name):
    path.mkdir()
    (path / name).write_text(name)
    return path


def test_a_swap_is_one_exchange_so_a_death_after_it_leaves_the_new_folder(tmp_path, monkeypatch):
    from sfdata.store import dirswap

    target = _folder(tmp_path / "t", "old")
    staging = _folder(tmp_path / "s", "new")
    seen = []
    real = dirswap.exchange

    def watched(a, b):
        seen.append(sorted(p.name for p in target.iterdir()))  # what a reader sees before the one step
        ok = real(a, b)
        seen.append(sorted(p.name for p in target.iterdir()))  # ... and right after it
        return ok

    def killed(*a, **k):
        raise SystemExit("killed between the exchange and the clean-up")

    monkeypatch.setattr(dirswap, "exchange", watched)
    monkeypatch.setattr(dirswap.shutil, "rmtree", killed)
    with pytest.raises(SystemExit):
        swap_in(staging, target)
    assert seen == [["old"], ["new"]]
    assert [p.name for p in target.iterdir()] == ["new"]


def test_the_target_always_names_a_complete_folder_during_swaps(tmp_path):
    """At every instant the path resolves to a finished generation (what a kill at any point leaves)."""
    import os
    import threading

    from sfdata.store.dirswap import exchange

    target = _folder(tmp_path / "t", "gen0")
    if not exchange(_folder(tmp_path / "p1", "x"), _folder(tmp_path / "p2", "y")):
        pytest.skip("no RENAME_EXCHANGE on this file system (the pointer fallback is tested below)")
    finished = {os.stat(target).st_ino}
    bad, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                ino = os.stat(target).st_ino
            except FileNotFoundError:
                bad.append("missing")
                continue
            if ino not in finished:
                bad.append(ino)

    t = threading.Thread(target=reader)
    t.start()
    for i in range(1, 200):
        with staged_dir(target) as staging:
            (staging / f"gen{i}").write_text("x")
            finished.add(os.stat(staging).st_ino)  # complete before it is swapped in
    stop.set()
    t.join()
    assert bad == [] and [p.name for p in target.iterdir()] == ["gen199"]


def test_pointer_fallback_keeps_the_old_generation_when_the_second_step_fails(tmp_path, monkeypatch):
    from sfdata.store import dirswap

    monkeypatch.setattr(dirswap, "FORCE_FALLBACK", True)
    target = _folder(tmp_path / "t", "old")
    swap_in(_folder(tmp_path / "s1", "gen1"), target)  # a real folder becomes a pointer once
    assert target.is_symlink() and [p.name for p in target.iterdir()] == ["gen1"]
    swap_in(_folder(tmp_path / "s2", "gen2"), target)
    assert [p.name for p in target.iterdir()] == ["gen2"]
    assert sorted(p.name for p in tmp_path.iterdir() if "gen-" in p.name).__len__() == 1  # old generation gone

    def fail(*a, **k):
        raise OSError("killed before the pointer moved")

    monkeypatch.setattr(dirswap, "_point", fail)
    with pytest.raises(OSError):
        swap_in(_folder(tmp_path / "s3", "gen3"), target)
    assert [p.name for p in target.iterdir()] == ["gen2"]  # readers still see the old generation, never empty
