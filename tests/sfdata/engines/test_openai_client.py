"""The OpenAI-compatible engine on the `openai` library: bounded concurrency, per-request seeds,
the library's retries, one clear error per failure kind (against a local stand-in server)."""

from __future__ import annotations

import pytest

from sfdata.engines import get_engine
from sfdata.engines.base import SamplingParams
from sfdata.engines.standin import StandIn


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


@pytest.mark.parametrize(
    ("model", "prompt", "needle"),
    [
        ("empty-choices", [{"role": "user", "content": "x"}], "returned 0 choices for n=2"),
        ("empty-choices", "raw", "returned 0 choices for n=2"),
        ("null-message", [{"role": "user", "content": "x"}], "choice 0 with a null message"),
        ("null-message", "raw", "choice 0 with a null text"),
    ],
)
def test_a_reply_without_its_choices_or_with_a_null_message_is_one_error_line(model, prompt, needle):
    with StandIn(delay=0.0) as srv:
        eng = get_engine("openai", model, base_url=srv.url, retries=0)
        with pytest.raises(ValueError, match=needle) as e:
            eng.generate([prompt], SamplingParams(n=2))
    assert f"server {srv.url}" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("model", "needle"),
    [("huge", r"sent a \d+-byte reply \(the cap is 50000 bytes"), ("huge-chunked", "sent a reply over 50000 bytes")],
)
def test_a_reply_over_the_size_cap_is_refused_without_retrying(model, needle):
    """By Content-Length before reading, or counted while a chunked reply streams."""
    with StandIn(delay=0.0) as srv:
        eng = get_engine("openai", model, base_url=srv.url, retries=3, max_reply_bytes=50_000)
        with pytest.raises(ValueError, match=needle):
            eng.generate(["x"], SamplingParams())
        assert len(srv.requests) == 1  # not retried: the same reply would come back
        # under a cap it fits, the same reply is read whole
        outs = get_engine("openai", model, base_url=srv.url, max_reply_bytes=1_000_000).generate(
            ["x"], SamplingParams()
        )
    assert len(outs[0][0].text) > 200_000


def test_the_client_asks_for_uncompressed_replies_and_refuses_compressed_ones():
    """A compressed reply could expand past the cap after it was counted: the client asks for identity
    and refuses any other encoding."""
    with StandIn(delay=0.0) as srv:
        get_engine("openai", "m", base_url=srv.url).generate(["x"], SamplingParams())
        with pytest.raises(ValueError, match="sent a gzip-encoded reply"):
            get_engine("openai", "gzip", base_url=srv.url, retries=0).generate(["x"], SamplingParams())
    assert srv.accept_encodings[0] == "identity"
