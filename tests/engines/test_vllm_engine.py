"""sf's vLLM engine on vLLM's CPU build: per-sample seeds (N samples differ, a seed reproduces its text)."""

from __future__ import annotations

import pytest

from sfdata.engines.base import SamplingParams

pytestmark = pytest.mark.engines

PROMPT = [{"role": "user", "content": "Write one sentence about the sea."}]
SEEDS = [101, 102, 103, 104, 105, 106]


@pytest.fixture(scope="module")
def engine(vllm_mod):
    from sfdata.engines import get_engine

    eng = get_engine("vllm", None, max_model_len=1024, enforce_eager=True)  # memory: the CPU default (explicit size)
    yield eng
    eng.close()


def test_runs_on_vllms_cpu_backend(engine):
    from vllm.platforms import current_platform

    from sfdata.engines.vllm_engine import default_cpu_kv_cache_bytes, on_gpu

    assert current_platform.is_cpu() and not on_gpu()
    # an explicit KV-cache size: a RAM share would subtract this (forked, large) test process's resident size
    assert engine.llm.llm_engine.vllm_config.cache_config.kv_cache_memory_bytes == default_cpu_kv_cache_bytes()


def test_samples_of_one_prompt_differ_and_a_seed_reproduces_its_text_in_the_same_batch(engine):
    sp = SamplingParams(temperature=1.0, max_tokens=16)
    first = [o[0].text for o in engine.generate([PROMPT] * len(SEEDS), sp, seeds=SEEDS)]
    assert len(set(first)) == len(SEEDS), first  # one seed per request: N samples of a prompt are not copies
    again = [o[0].text for o in engine.generate([PROMPT] * len(SEEDS), sp, seeds=SEEDS)]
    assert again == first  # same prompts, seeds and batch: same texts
    other = [o[0].text for o in engine.generate([PROMPT] * len(SEEDS), sp, seeds=[s + 1000 for s in SEEDS])]
    assert other != first


def test_n_samples_in_one_request_differ(engine):
    outs = engine.generate([PROMPT], SamplingParams(n=4, temperature=1.0, max_tokens=16, seed=7))[0]
    assert len(outs) == 4 and len({c.text for c in outs}) == 4
    assert all(0 < c.completion_tokens <= 16 and c.prompt_tokens > 0 for c in outs)


def test_greedy_is_the_same_whatever_the_seed(engine):
    sp = SamplingParams(temperature=0.0, max_tokens=12)
    texts = [o[0].text for o in engine.generate([PROMPT] * 3, sp, seeds=[1, 2, 3])]
    assert len(set(texts)) == 1
