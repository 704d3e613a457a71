"""`vllm serve` (CPU build) on a free loopback port, and `sf generate --engine openai` against it."""

from __future__ import annotations

import pytest

from sfdata.store import RunDir

from .conftest import sf

pytestmark = pytest.mark.engines


def _generate(vllm_server, run, *extra):
    sf("questions", str(run), "--n", "2", "--level", "3")
    sf(
        "generate", str(run), "--engine", "openai", "--base-url", vllm_server, "--model", "smollm2",
        "--variants", "original", "--n", "4", "--temperature", "1.0", "--max-tokens", "24", *extra,
    )  # fmt: skip
    return RunDir(run).read("rollouts").sort("rollout_id")


def test_sf_generate_through_vllm_serve_seeds_each_request(vllm_server, tmp_path):
    first = _generate(vllm_server, tmp_path / "a")
    assert first.height == 8 and set(first["engine"]) == {"openai"}
    assert first["seed"].n_unique() == 8
    for _, g in first.group_by("question_id"):
        assert g["response"].n_unique() == 4, g["response"].to_list()
    # the same rows (ids, so seeds) again: one request at a time, so each request is its own batch
    again = _generate(vllm_server, tmp_path / "b", "--engine-options", "concurrency=1")
    assert again["rollout_id"].to_list() == first["rollout_id"].to_list()
    assert again["seed"].to_list() == first["seed"].to_list()
    alone = _generate(vllm_server, tmp_path / "c", "--engine-options", "concurrency=1")
    assert alone["response"].to_list() == again["response"].to_list()
