"""The OpenAI-compatible engine on the `openai` library: bounded concurrency, per-request seeds,
the library's retries, one clear error per failure kind (against a local stand-in server)."""

from __future__ import annotations

import pytest

from sfdata.engines import get_engine
from sfdata.engines.base import SamplingParams
from tests.standin_openai import StandIn


def test_requests_run_concurrently_up_to_the_bound_and_keep_order():
    with StandIn(delay=0.2) as srv:
        eng = get_engine("openai", "m", base_url=srv.url, concurrency=4)
        prompts = [[{"role": "user", "content": f"q{i}"}] for i in range(12)]
        outs = eng.generate(prompts, SamplingParams(n=2, max_tokens=4), seeds=list(range(100, 112)))
    assert srv.max_in_flight == 4  # never more than the user's bound, and really that many at once
    assert [o[0].text for o in outs] == [f"seed={100 + i} choice=0" for i in range(12)]  # prompt order
    assert [len(o) for o in outs] == [2] * 12 and outs[0][1].completion_tokens == 3


def test_per_request_seeds_and_raw_text_prompts():
    with StandIn(delay=0.0) as srv:
        eng = get_engine("openai", "m", base_url=srv.url)
        outs = eng.generate(["raw one", "raw two"], SamplingParams(seed=9, stop=["</answer>"]))
        assert [o[0].text for o in outs] == ["seed=9 choice=0", "seed=9 choice=0"]  # default: sampling.seed
        eng.generate(["a", "b"], SamplingParams(), seeds=[1, 2])
        # requests run concurrently, so they may reach the server in either order: pair each with its prompt
        assert {r["prompt"]: r["seed"] for r in srv.requests[-2:]} == {"a": 1, "b": 2}
        assert srv.requests[0]["stop"] == ["</answer>"]
        with pytest.raises(ValueError, match="one seed per prompt"):
            eng.generate(["a", "b"], SamplingParams(), seeds=[1])


def test_the_library_retries_server_errors():
    with StandIn(delay=0.0, fail_first=2) as srv:
        outs = get_engine("openai", "m", base_url=srv.url, retries=3).generate(["x"], SamplingParams())
    assert outs[0][0].text == "seed=0 choice=0" and len(srv.requests) == 3


def test_refused_and_unreachable_are_clear_errors():
    with StandIn(delay=0.0) as srv:
        with pytest.raises(ValueError, match=r"refused the request \(400\)"):
            get_engine("openai", "refuse-me", base_url=srv.url, retries=0).generate(["x"], SamplingParams())
        url = srv.url
    with pytest.raises(ConnectionError, match="cannot reach"):
        get_engine("openai", "m", base_url=url, retries=0, timeout=2).generate(["x"], SamplingParams())
    with pytest.raises(ValueError, match="concurrency"):
        get_engine("openai", "m", base_url=url, concurrency=0)


async def test_generate_works_inside_a_running_event_loop():
    with StandIn(delay=0.0) as srv:
        outs = get_engine("openai", "m", base_url=srv.url).generate(["x"], SamplingParams())
    assert outs[0][0].text == "seed=0 choice=0"
