"""Budget forcing spends ONE shrinking total budget across rounds (s1), not a fresh max_tokens per round."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from sfdata.engines.base import Completion, SamplingParams
from sftrain.budget import budget_force


@dataclass
class BudgetEngine:
    """Each call returns a closed thought of `tokens` tokens (capped by max_tokens) and records max_tokens."""

    tokens: int
    asked: list[int] = field(default_factory=list)
    seeds: list = field(default_factory=list)
    name: str = "scripted"
    model: str = "scripted"

    def chat_text(self, messages):
        return "USER:" + messages[-1]["content"] + "\nASSISTANT:"

    def generate(self, prompts, sampling: SamplingParams, seeds=None):
        self.asked.append(sampling.max_tokens)
        self.seeds.append(seeds)
        k = min(self.tokens, sampling.max_tokens)
        return [[Completion("more</sample>\n</think>\n<answer>1</answer>", 3, k)] for _ in prompts]

    def close(self):
        pass


def _force(engine, first_tokens, max_tokens=160, rounds=5, cue="<sample>"):
    prompts = [[{"role": "user", "content": f"q{i}"}] for i in range(len(first_tokens))]
    first = ["<think>\n<sample>a</sample>\n</think>\n<answer>0</answer>"] * len(first_tokens)
    return budget_force(
        engine, prompts, first, SamplingParams(max_tokens=max_tokens), rounds, first_tokens=first_tokens, cue=cue
    )


def test_rounds_share_one_shrinking_budget():
    eng = BudgetEngine(tokens=40)
    out = _force(eng, [60])
    assert eng.asked == [100, 60, 20]  # 160 - 60, then - 40 per round; never a fresh 160
    assert out[0].rounds == 3 and out[0].completion_tokens == 160
    assert out[0].text.count("<sample>") == 4


def test_a_spent_budget_is_not_forced_and_totals_never_exceed_it():
    eng = BudgetEngine(tokens=1000)
    out = _force(eng, [160, 20])
    assert out[0].rounds == 0 and out[0].completion_tokens == 160  # nothing left: no continuation
    assert out[1].rounds == 1 and out[1].completion_tokens == 160
    assert all(t <= 140 for t in eng.asked)
    for f in out:
        assert f.completion_tokens <= 160


def test_per_item_seeds_are_passed_per_round():
    eng = BudgetEngine(tokens=10)
    prompts = [[{"role": "user", "content": "q"}]]
    first = ["<think>x</think><answer>0</answer>"]
    budget_force(eng, prompts, first, SamplingParams(max_tokens=100), 2, first_tokens=[10], seeds=[41])
    assert len(eng.seeds) == 2 and eng.seeds[0] != eng.seeds[1] and all(len(s) == 1 for s in eng.seeds)


def test_an_output_without_a_closed_thought_gets_the_cue_at_its_end():
    """Every arm is forced: a base/RL-only answer with no </think> is continued from its end, not skipped."""
    eng = BudgetEngine(tokens=10)
    prompts = [[{"role": "user", "content": "q"}]]
    first = ["The answer is <answer>0</answer>"]
    out = budget_force(eng, prompts, first, SamplingParams(max_tokens=100), 1, first_tokens=[10])
    assert out[0].rounds == 1
    assert out[0].text.startswith("The answer is <answer>0</answer>\nWait")  # s1's cue by default
    assert out[0].text.endswith("<answer>1</answer>")


def test_the_cue_is_configurable_and_replaces_the_close():
    eng = BudgetEngine(tokens=10)
    prompts = [[{"role": "user", "content": "q"}]] * 2
    first = ["<think>x</think><answer>0</answer>", "no thought"]
    out = budget_force(eng, prompts, first, SamplingParams(max_tokens=100), 1, first_tokens=[10, 10], cue="<sample>")
    assert out[0].text.startswith("<think>x\n<sample>\nmore")  # cut at </think>, then the cue
    assert out[1].text.startswith("no thought\n<sample>\nmore")


def test_an_empty_cue_is_refused():
    import pytest

    with pytest.raises(ValueError, match="cue is empty"):
        budget_force(BudgetEngine(tokens=1), [[]], ["x"], SamplingParams(max_tokens=10), 1, cue=" ")


def test_eval_config_passes_its_cue(monkeypatch):
    from sftrain import eval as ev

    seen = {}

    class Stop(Exception):
        pass

    def fake_force(*a, **k):
        seen.update(k)
        raise Stop

    monkeypatch.setattr("sftrain.budget.budget_force", fake_force)
    cfg = ev.EvalConfig(budget_forcing=1, budget_cue="<sample>")
    part = [{"messages": [{"role": "user", "content": "q"}], "forced_seed": 2, "item": None}]
    with pytest.raises(Stop):
        ev._answer_rows(BudgetEngine(tokens=1), cfg, part, [Completion("t", 1, 1)], None, set(), {})
    assert seen["cue"] == "<sample>" and ev.EvalConfig().budget_cue == "Wait"
