"""Eval rows carry their (held-out) question, so the skill detector checks every verdict of every output."""

from __future__ import annotations

from dataclasses import dataclass

from sfdata.engines.base import Completion, SamplingParams

VERIFIED_WRONG = (
    "<think>\n<sample>\n<answer>0</answer>\n</sample>\n<reflect>\nlooks fine\n<verdict>Correct</verdict>\n</reflect>\n"
    "</think>\n<answer>0</answer>"
)


@dataclass
class TaggedEngine:
    """Answers with one sample verified Correct whose answer (0) is wrong for every multiplication question."""

    name: str = "tagged"
    model: str = "tagged"

    def generate(self, prompts, sampling: SamplingParams, seeds=None):
        return [[Completion(VERIFIED_WRONG, 5, 30)] for _ in prompts]

    def close(self):
        pass


def test_verdicts_on_held_out_eval_questions_are_checked(tmp_path, monkeypatch):
    from sfdata.skills import skills_stage
    from sfdata.store import RunDir
    from sfdata.tasks import make_questions
    from sftrain.eval import EvalConfig, eval_stage, summary_frame

    run = RunDir(tmp_path / "run").init({})
    run.write("questions", make_questions("multiplication", 4, 0, level=2))
    monkeypatch.setattr("sfdata.engines.get_engine", lambda kind, model, **_: TaggedEngine())
    eval_stage(run, EvalConfig(model="m", tasks=("multiplication:2",), n_questions=3, max_tokens=32))
    ev = run.read("eval")
    assert ev.height == 3 and ev["data"].null_count() == 0 and ev["answer"].null_count() == 0
    assert not set(ev["question_id"]) & set(run.read("questions")["question_id"])  # held out: not in the table
    skills_stage(run)
    sk = run.read("skills").filter(source="eval")
    assert sk.height == 3
    assert sk["n_verdict_fp"].to_list() == [1, 1, 1] and sk["n_verdict_tp"].to_list() == [0, 0, 0]
    assert sk["n_verdict_right"].to_list() == [0, 0, 0]
    s = summary_frame(run).row(0, named=True)
    assert s["tagged_verdict_rate"] == 1.0 and s["verdict_f1_correct"] == 0.0 and s["keyword_cue_rate"] == 0.0
