"""Engines for real: transformers on a tiny model; the OpenAI client against `sfdata.serve`; vLLM on GPU only."""

from __future__ import annotations

import os

import pytest

from sfdata.engines import get_engine, vllm_available
from sfdata.engines.base import SamplingParams, cut_at_stop
from tests.helpers import tiny_model_dir


@pytest.fixture(scope="module")
def engine():
    from sfdata.engines.hf import TransformersEngine

    return TransformersEngine(str(tiny_model_dir()), batch_size=3)


def test_transformers_engine_batches_keep_order_and_count_tokens(engine):
    prompts = [
        [{"role": "user", "content": "hi"}],
        "a much longer raw text prompt " * 5,
        [{"role": "user", "content": "a b c d e f"}],
    ]
    outs = engine.generate(prompts, SamplingParams(n=2, max_tokens=8, temperature=0.9, seed=1))
    assert [len(o) for o in outs] == [2, 2, 2]
    expected = [len(engine.tokenizer(engine._texts([p])[0], add_special_tokens=False)["input_ids"]) for p in prompts]
    assert [o[0].prompt_tokens for o in outs] == expected  # results are back in the caller's order
    assert all(0 < c.completion_tokens <= 8 for o in outs for c in o)
    assert all(c.finish_reason in ("stop", "length") for o in outs for c in o)
    again = engine.generate(prompts, SamplingParams(n=2, max_tokens=8, temperature=0.9, seed=1))
    assert [[c.text for c in o] for o in again] == [[c.text for c in o] for o in outs]  # seeded


def test_cut_at_stop():
    assert (
        cut_at_stop("abc</answer>def", ["</answer>"]) == ("abc</answer>", True)
        or cut_at_stop("abc</answer>def", ["</answer>"])[1]
    )
    assert cut_at_stop("abc", None) == ("abc", False)


def test_openai_engine_against_a_local_server(engine):
    from sfdata.serve import serve_in_thread

    srv, url = serve_in_thread(engine)
    try:
        client = get_engine("openai", "tiny", base_url=url, retries=0)
        outs = client.generate(
            [[{"role": "user", "content": "hello"}], "raw prompt"], SamplingParams(n=2, max_tokens=6, seed=3)
        )
        assert [len(o) for o in outs] == [2, 2]
        assert all(c.completion_tokens > 0 for o in outs for c in o)
        direct = engine.generate([[{"role": "user", "content": "hello"}]], SamplingParams(n=2, max_tokens=6, seed=3))
        assert [c.text for c in outs[0]] == [c.text for c in direct[0]]  # same model, same seed
        import json
        import urllib.request

        models = json.loads(urllib.request.urlopen(f"{url}/models").read())
        assert models["data"][0]["object"] == "model"
    finally:
        srv.shutdown()
        srv.server_close()
    with pytest.raises(ConnectionError, match="cannot reach"):
        get_engine("openai", "tiny", base_url=url, retries=0).generate(["x"], SamplingParams(max_tokens=2))


def test_unknown_engine_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown engine"):
        get_engine("tpu")


@pytest.mark.gpu
@pytest.mark.skipif(not vllm_available(), reason="vLLM needs a CUDA GPU and the [gpu] extra")
def test_vllm_engine_generates():
    eng = get_engine("vllm", str(tiny_model_dir()))
    outs = eng.generate(["hello"], SamplingParams(n=2, max_tokens=4, seed=0))
    assert len(outs[0]) == 2


def test_transformers_samples_of_one_prompt_are_not_all_equal(engine):
    """Seeds are per batch on this engine; rows of a batch still draw their own tokens."""
    prompt = [{"role": "user", "content": "count to ten"}]
    sp = SamplingParams(max_tokens=8, temperature=1.0, seed=0)
    outs = engine.generate([prompt] * 6, sp, seeds=list(range(100, 106)))
    texts = [o[0].text for o in outs]
    assert len(set(texts)) > 1, texts
    assert len({c.text for c in engine.generate([prompt], SamplingParams(n=6, max_tokens=8, temperature=1.0))[0]}) > 1
    again = engine.generate([prompt] * 6, sp, seeds=list(range(100, 106)))
    assert [o[0].text for o in again] == texts  # same prompts, seeds and batch size: same text
    with pytest.raises(ValueError, match="one seed per prompt"):
        engine.generate([prompt] * 2, sp, seeds=[1])


class _FakeVLLM:
    """Stands in for the `vllm` package: records the SamplingParams each request gets."""

    def __init__(self):
        import types

        self.requests: list = []
        self.llm_kwargs: dict = {}
        fake = self

        class SamplingParams:
            def __init__(self, **kw):
                self.kw = kw

        class LLM:
            def __init__(self, model, **kw):
                self.model = model
                fake.llm_kwargs = kw

            def get_tokenizer(self):
                return types.SimpleNamespace(apply_chat_template=lambda m, **kw: "chat:" + m[-1]["content"])

            def generate(self, prompts, params, use_tqdm=True):
                assert isinstance(params, list) and len(params) == len(prompts)  # one per request
                fake.requests += list(zip(prompts, params))
                out = types.SimpleNamespace
                return [
                    out(
                        prompt_token_ids=[1, 2],
                        outputs=[out(text=f"s{p.kw['seed']}", token_ids=[3], finish_reason="stop")],
                    )
                    for p in params
                ]

        self.module = types.ModuleType("vllm")
        self.module.LLM = LLM
        self.module.SamplingParams = SamplingParams


def test_vllm_engine_seeds_each_request(monkeypatch):
    import sys

    fake = _FakeVLLM()
    monkeypatch.setitem(sys.modules, "vllm", fake.module)
    from sfdata.engines.vllm_engine import VLLMEngine

    eng = VLLMEngine("some/model")
    chat = [{"role": "user", "content": "q"}]
    outs = eng.generate([chat, chat, "raw"], SamplingParams(temperature=0.8, max_tokens=5, seed=9), seeds=[11, 12, 13])
    assert [p for p, _ in fake.requests] == ["chat:q", "chat:q", "raw"]
    assert [sp.kw["seed"] for _, sp in fake.requests] == [11, 12, 13]
    assert all(sp.kw["temperature"] == 0.8 and sp.kw["max_tokens"] == 5 for _, sp in fake.requests)
    assert [o[0].text for o in outs] == ["s11", "s12", "s13"]
    fake.requests.clear()
    eng.generate(["a", "b"], SamplingParams(seed=4))  # no seeds: every request gets sampling.seed
    assert [sp.kw["seed"] for _, sp in fake.requests] == [4, 4]
    with pytest.raises(ValueError, match="one seed per prompt"):
        eng.generate(["a", "b"], SamplingParams(), seeds=[1, 2, 3])


def test_vllm_on_cpu_gets_an_explicit_kv_cache_size_not_a_ram_share(monkeypatch):
    """A RAM share makes vLLM subtract its engine process's resident size, and a fork of a big process (a test run,
    `sf run` after training) leaves nothing: without a GPU the engine asks for an explicit KV-cache size."""
    import sys

    from sfdata.engines import vllm_engine

    fake = _FakeVLLM()
    monkeypatch.setitem(sys.modules, "vllm", fake.module)
    monkeypatch.setattr(vllm_engine, "on_gpu", lambda: False)
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    vllm_engine.VLLMEngine("some/model")
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert fake.llm_kwargs["kv_cache_memory_bytes"] == int(vllm_engine.CPU_KV_CACHE_SHARE * ram)
    assert "gpu_memory_utilization" not in fake.llm_kwargs
    vllm_engine.VLLMEngine("some/model", gpu_memory_utilization=0.2)  # the user's choice, as given
    assert fake.llm_kwargs["gpu_memory_utilization"] == 0.2 and "kv_cache_memory_bytes" not in fake.llm_kwargs
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "3")  # vLLM's own setting decides
    vllm_engine.VLLMEngine("some/model")
    assert fake.llm_kwargs.get("kv_cache_memory_bytes") is None and "gpu_memory_utilization" not in fake.llm_kwargs
    monkeypatch.setattr(vllm_engine, "on_gpu", lambda: True)
    vllm_engine.VLLMEngine("some/model")
    assert fake.llm_kwargs["gpu_memory_utilization"] == vllm_engine.GPU_MEMORY_UTILIZATION
