"""Two strengths of file identity: inode-level for caches, content-stable for stage fingerprints."""

from __future__ import annotations

import shutil

from sfdata.store import identity


def test_content_identity_survives_a_copy_and_inode_identity_does_not(tmp_path):
    a = tmp_path / "run" / "t" / "part-1.parquet"
    a.parent.mkdir(parents=True)
    a.write_bytes(b"x" * 1000)
    shutil.copytree(tmp_path / "run", tmp_path / "copy", copy_function=shutil.copy)
    b = tmp_path / "copy" / "t" / "part-1.parquet"
    assert identity.content_identity(a, tmp_path / "run") == identity.content_identity(b, tmp_path / "copy")
    assert identity.file_identity(a)[1:] != identity.file_identity(b)[1:]
    assert identity.fingerprint([a], tmp_path / "run") == identity.fingerprint([b], tmp_path / "copy")
    b.write_bytes(b"x" * 999 + b"y")
    assert identity.fingerprint([a], tmp_path / "run") != identity.fingerprint([b], tmp_path / "copy")


def test_parquet_files_are_told_apart_by_their_footer(tmp_path):
    import polars as pl

    p, q = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pl.DataFrame({"x": list(range(100))}).write_parquet(p)
    pl.DataFrame({"x": list(range(99)) + [1000]}).write_parquet(q)
    assert identity.content_digest(p) != identity.content_digest(q)
    shutil.copy(p, tmp_path / "c.parquet")
    assert identity.content_digest(p) == identity.content_digest(tmp_path / "c.parquet")
    import os

    rows = [os.urandom(16).hex() for _ in range(8000)]  # incompressible: the last row lies past the first 64 KiB
    r, r2 = tmp_path / "r.parquet", tmp_path / "r2.parquet"
    pl.DataFrame({"x": [*rows, "zzzz"]}).write_parquet(r, statistics=True)
    pl.DataFrame({"x": [*rows, "zzzy"]}).write_parquet(r2, statistics=True)
    assert r.stat().st_size > 2 * 65536
    assert identity.content_digest(r) != identity.content_digest(r2)  # the footer's statistics differ


def test_large_other_files_are_hashed_by_their_edges(tmp_path, monkeypatch):
    monkeypatch.setattr(identity, "FULL_HASH_MAX", 10)
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"x" * 5000)
    b.write_bytes(b"x" * 4999 + b"y")
    assert identity.content_digest(a) != identity.content_digest(b)
