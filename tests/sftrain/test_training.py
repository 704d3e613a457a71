"""Real TRL steps on a tiny model built from a config: SFT (assistant-only loss), GRPO, rewards, budget forcing, eval."""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl
import pytest
import torch

from sfdata.engines.base import Completion, SamplingParams
from sfdata.factory.build import BuildConfig, build_stage
from sfdata.synth import make_run
from tests.helpers import tiny_model_dir


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    r = make_run(tmp_path_factory.mktemp("train") / "run", n_questions=6, n=2, k=1, p_correct=0.5, seed=4)
    build_stage(r, BuildConfig(formats=("*C", "*C*IC"), n=3))
    return r


def _params(path) -> dict[str, torch.Tensor]:
    from transformers import AutoModelForCausalLM

    return {k: v.detach().clone() for k, v in AutoModelForCausalLM.from_pretrained(path).state_dict().items()}


def test_sft_masks_the_prompt_and_changes_parameters(run, tmp_path):
    from sftrain.sft import SFTRunConfig, build_sft_trainer, run_sft

    cfg = SFTRunConfig(
        data=str(run.path),
        model=str(tiny_model_dir()),
        output_dir=str(tmp_path / "sft"),
        overrides={"max_steps": 3, "max_length": 512, "per_device_train_batch_size": 2, "learning_rate": 1e-3},
    )
    trainer, tok, facts = build_sft_trainer(cfg)
    assert facts["examples"] == run.read("traces").height
    ex = trainer.train_dataset[0]
    labels = ex["labels"]
    prompt_tokens = len(tok(ex["prompt"][0]["content"], add_special_tokens=False)["input_ids"])
    n_masked = sum(1 for x in labels if x == -100)
    assert labels[0] == -100 and labels[-1] != -100  # prompt tokens masked, trace tokens trained
    assert prompt_tokens <= n_masked < len(labels) - prompt_tokens // 4
    trained = [t for t, lab in zip(ex["input_ids"], labels) if lab != -100]
    assert "<sample>" in tok.decode(trained) and ex["prompt"][0]["content"][:40] not in tok.decode(trained)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    assert (batch["labels"][0][:n_masked] == -100).all() and (batch["labels"][0] != -100).sum() == len(
        labels
    ) - n_masked

    before = _params(tiny_model_dir())
    logs: list[str] = []
    summary = run_sft(cfg, log=logs.append)
    assert summary["steps"] == 3 and math.isfinite(summary["train_loss"])
    after = _params(tmp_path / "sft")
    changed = sum(not torch.equal(before[k], after[k]) for k in before)
    assert changed > len(before) // 2


def test_the_sft_stage_trains_on_its_run_and_eval_scores_that_model(tmp_path):
    """`sf run`'s path (the demo's): the registry's `sft` stage on the run's own traces, then `eval` finds the
    stage's model. The stage once handed its RunDir object where a path string goes, and `make demo` stopped."""
    import json

    from sfdata.app.stages import run_stage
    from sftrain.eval import EvalConfig
    from sftrain.sft import SFTStageConfig

    r = make_run(tmp_path / "run", n_questions=4, n=2, k=1, p_correct=0.5, seed=5)
    build_stage(r, BuildConfig(formats=("*C",), n=2))
    sft_cfg = SFTStageConfig(model=str(tiny_model_dir()), overrides={"max_steps": 1, "max_length": 256})
    out = run_stage(r, "sft", sft_cfg)
    summary = json.loads((r.path / "models" / "sft" / "sf_summary.json").read_text())
    assert out["steps"] == 1 and summary["examples"] == r.read("traces").filter(pl.col("format") == "*C").height
    assert r.manifest()["stages"]["sft"]["status"] == "done"
    ev_cfg = EvalConfig(model=str(tiny_model_dir()), tasks=("countdown:3",), n_questions=1, max_tokens=4)
    run_stage(r, "eval", ev_cfg)
    assert set(r.read("eval")["stage"]) == {"base", "sft"}


def test_sft_labels_and_the_saved_model_end_turns_with_im_end(run, tmp_path):
    """The trained assistant turn ends with the tokenizer's end token, <|im_end|>, and the saved model's
    config and generation config name it too (they used to say <|im_start|>, so SFT models never stopped)."""
    import json

    from sftrain.sft import SFTRunConfig, build_sft_trainer, run_sft

    cfg = SFTRunConfig(
        data=str(run.path),
        model=str(tiny_model_dir()),
        output_dir=str(tmp_path / "sft"),
        overrides={"max_steps": 1, "max_length": 2048, "per_device_train_batch_size": 2},
    )
    trainer, tok, _ = build_sft_trainer(cfg)
    end = tok.convert_tokens_to_ids("<|im_end|>")
    assert tok.eos_token_id == end
    ex = trainer.train_dataset[0]
    trained = [t for t, lab in zip(ex["input_ids"], ex["labels"]) if lab != -100]
    while tok.decode(trained[-1:]).isspace():  # the template's newline after the end token
        trained.pop()
    assert trained[-1] == end and tok.convert_tokens_to_ids("<|im_start|>") not in trained

    run_sft(cfg, log=lambda *_: None)
    out = tmp_path / "sft"
    config = json.loads((out / "config.json").read_text())
    gen = json.loads((out / "generation_config.json").read_text())
    assert config["eos_token_id"] == end and config["pad_token_id"] == end
    assert gen["eos_token_id"] in (end, [end]) and gen["pad_token_id"] == end
    assert json.loads((out / "tokenizer_config.json").read_text())["eos_token"] == "<|im_end|>"


def test_sft_warns_with_counts_when_truncating(run, tmp_path):
    from sftrain.sft import SFTRunConfig, build_sft_trainer

    logs: list[str] = []
    build_sft_trainer(
        SFTRunConfig(
            data=str(run.path),
            model=str(tiny_model_dir()),
            output_dir=str(tmp_path / "o"),
            overrides={"max_length": 64},
        ),
        log=logs.append,
    )
    n = run.read("traces").height
    assert any(f"of {n} examples exceed max_length=64" in m for m in logs)


def test_sft_respects_drop_labels(run, tmp_path):
    from sfdata.store.run import now_utc
    from sftrain.data import load_sft_rows

    t = run.read("traces")
    run.write(
        "labels",
        pl.DataFrame({"trace_id": [t["trace_id"][0]], "label": ["drop"], "note": [""], "updated_at": [now_utc()]}),
    )
    try:
        assert len(load_sft_rows(run.path)) == t.height - 1
        assert len(load_sft_rows(run.path, kept_only=False)) == t.height
    finally:
        (run.path / "labels.parquet").unlink()


def length_reward(completions, **_):
    return [float(len(c[0]["content"] if isinstance(c, list) else c)) / 50 for c in completions]


def test_grpo_steps_run_and_change_parameters(tmp_path):
    from sftrain.rl import RLRunConfig, run_rl

    # a random tiny model never answers correctly (all-zero rewards give zero advantage), so a
    # length reward gives GRPO a signal to move on; the grader reward still runs alongside
    cfg = RLRunConfig(
        model=str(tiny_model_dir()),
        output_dir=str(tmp_path / "rl"),
        n_questions=4,
        extra_rewards=("tests.sftrain.test_training:length_reward",),
        overrides={
            "max_steps": 2,
            "max_completion_length": 12,
            "learning_rate": 1e-2,
            "num_generations": 2,
            "per_device_train_batch_size": 2,
            "beta": 0.04,
        },
    )
    before = _params(tiny_model_dir())
    s = run_rl(cfg)
    assert s["steps"] == 2 and len(s["rewards"]) == 2 and all(r is not None for r in s["rewards"])
    after = _params(tmp_path / "rl")
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_rewards_use_the_safe_graders():
    import json

    from sftrain.rewards import correctness_reward, format_reward

    data = json.dumps({"numbers": [3, 5, 7], "target": 22})
    comps = [
        "... <answer>3 * 5 + 7</answer>",
        [{"role": "assistant", "content": "<answer>7 + 3 * 5</answer>"}],
        "<answer>__import__('os').system('x')</answer>",
        "<answer>9**9**9</answer>",
        "no tag",
        "<answer>3+5+7</answer>",
    ]
    r = correctness_reward(comps, task=["countdown"] * 6, data=[data] * 6, answer=["22"] * 6)
    assert r == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    assert format_reward(comps) == [0.1, 0.1, 0.1, 0.1, 0.0, 0.1]
    assert format_reward(["<answer>1</answer><answer>2</answer>"]) == [0.1]  # ends in one well-formed final answer


@dataclass
class ScriptedEngine:
    """A deterministic engine for budget-forcing logic: returns queued texts in order."""

    replies: list[str]
    name: str = "scripted"
    model: str = "scripted"

    def chat_text(self, messages):
        return "USER:" + messages[-1]["content"] + "\nASSISTANT:"

    def generate(self, prompts, sampling: SamplingParams):
        self.seen = list(prompts)
        return [[Completion(self.replies.pop(0), 3, 4)] for _ in prompts]

    def close(self):
        pass


def test_budget_forcing_continues_every_output():
    from sftrain.budget import budget_force

    eng = ScriptedEngine(
        [
            "more work</sample>\n</think>\n<answer>9</answer>",
            " then <answer>3</answer>",
            "x</sample></think><answer>8</answer>",
            " <answer>4</answer>",
        ]
    )
    prompts = [[{"role": "user", "content": "q1"}], [{"role": "user", "content": "q2"}]]
    first = ["<think>\n<sample>a</sample>\n</think>\n<answer>1</answer>", "no think at all <answer>2</answer>"]
    out = budget_force(
        eng, prompts, first, SamplingParams(max_tokens=64), rounds=2, first_tokens=[5, 6], cue="<sample>"
    )
    assert out[1].rounds == 2 and out[1].text.startswith(first[1] + "\n<sample>\n then")  # no </think>: cue at end
    assert out[1].text.endswith("<answer>4</answer>")
    assert out[0].rounds == 2 and out[0].text.count("<sample>") == 3 and out[0].text.endswith("<answer>8</answer>")
    assert out[0].completion_tokens == 5 + 4 + 4
    assert eng.seen[0].startswith("USER:q1\nASSISTANT:<think>\n<sample>a</sample>\n<sample>")


def test_eval_writes_accuracy_and_skill_use_with_budget_forcing(tmp_path):
    from sfdata.store import RunDir
    from sftrain.eval import EvalConfig, eval_stage, summary_frame

    run = RunDir(tmp_path / "ev").init({})
    cfg = EvalConfig(
        model=str(tiny_model_dir()),
        tasks=("countdown:3,4", "multiplication:1"),
        n_questions=2,
        max_tokens=12,
        budget_forcing=1,
        engine="transformers",
    )
    info = eval_stage(run, cfg)
    ev = run.read("eval")
    assert ev.height == 3 * 2 * 2  # 3 task-levels x 2 questions x (plain, forced)
    assert set(ev["budget_rounds"]) == {0, 1} and set(ev["level"]) == {1, 3, 4}
    s = summary_frame(run)
    assert {"accuracy", "sample_tags", "tagged_verdict_rate", "keyword_cue_rate", "retry_rate"} <= set(s.columns) and s[
        "n"
    ].sum() == 12
    assert info["summary"]
    again = eval_stage(run, cfg)  # resumable: nothing new
    assert again["models"][0]["written"] == 0
