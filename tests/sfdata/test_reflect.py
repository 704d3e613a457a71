"""Reflect stage: the verifier sees the whole response; only one closed, unambiguous verdict counts,
and a forced verdict counts only when the model closes the tag itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from sfdata.engines.base import Completion, SamplingParams
from sfdata.reflect import ReflectConfig, _force_verdicts, reflect_stage, verify_messages
from sfdata.synth import make_run


@dataclass
class FakeEngine:
    """Answers every reflection prompt with `reply`; continuations (raw str prompts) from `forced`."""

    reply: str
    forced: list[str] = field(default_factory=list)
    name: str = "fake"
    model: str = "fake"
    raw_prompts: list[str] = field(default_factory=list)

    def chat_text(self, messages):
        return "USER:" + messages[-1]["content"] + "\nASSISTANT:"

    def generate(self, prompts, sampling: SamplingParams, seeds=None):
        out = []
        for p in prompts:
            if isinstance(p, str):
                self.raw_prompts.append(p)
                out.append([Completion(self.forced.pop(0), 5, sampling.max_tokens, "length")])
            else:
                out.append([Completion(self.reply, 5, 9, "stop")])
        return out

    def close(self):
        pass


def test_verifier_sees_the_whole_response():
    response = "step " * 3000 + "\n<answer>(3 + 4) * 5</answer>"  # 15k characters, answer at the very end
    content = verify_messages("Use [3, 4, 5] to make 35.", response)[0]["content"]
    assert response in content and "[...]" not in content


def _force(texts, forced):
    eng = FakeEngine("", forced=list(forced))
    part = [{"messages": [{"role": "user", "content": "check it"}], "seed": i} for i in range(len(texts))]
    return _force_verdicts(eng, part, texts, ReflectConfig(seed=0)), eng


def test_forced_verdict_counts_only_if_the_model_closes_the_tag():
    out, eng = _force(
        ["Looks right.", "Wrong sum.", "Bad. <verdict>Incorr"],
        [" Correct</verdict> trailing words", "Incorrect because", "Incorrect</verdict>"],
    )
    assert out[0] == "Looks right.\n<verdict> Correct</verdict>"  # the model's own text, cut after </verdict>
    assert out[1] == "Wrong sum."  # no </verdict> within the token budget: still no verdict
    assert out[2] == "Bad.\n<verdict>Incorrect</verdict>"  # the unclosed tag is cut before continuing
    assert all(p.endswith("\n<verdict>") for p in eng.raw_prompts)


def test_ambiguous_reflections_are_not_forced():
    texts = ["<verdict>Correct</verdict> or <verdict>Incorrect</verdict>", "<verdict>Correct</verdict>"]
    out, eng = _force(texts, [])
    assert out == texts and eng.raw_prompts == []


def test_echoed_instruction_line_is_never_a_valid_reflection(tmp_path):
    run = make_run(tmp_path / "run", n_questions=2, n=1, k=1)
    echo = (
        "I will end with exactly one line: <verdict>Correct</verdict> if the final answer is right, "
        "or <verdict>Incorrect</verdict> if it is not."
    )
    info = reflect_stage(run, ReflectConfig(model="fake", k=1, chunk=64), engine=FakeEngine(echo))
    refl = run.read("reflections")
    new = refl.filter(refl["text"] == echo)
    assert new.height > 0
    assert new["verdict"].null_count() == new.height and not new["is_valid"].any()
    assert info["metrics"]["no_verdict_reasons"]["contradictory_verdicts"] >= new.height
