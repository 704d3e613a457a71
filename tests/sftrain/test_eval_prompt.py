"""A fair baseline: base and SFT are asked with the same prompt (with the run's demonstration), and the
eval table says which prompt."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from sfdata.engines.base import Completion, SamplingParams


@dataclass
class RecordingEngine:
    """Answers `<answer>0</answer>` and records the prompts, sampling and per-prompt seeds it was given."""

    name: str = "recording"
    model: str = "recording"
    calls: list = field(default_factory=list)

    def chat_text(self, messages):
        return "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"

    def generate(self, prompts, sampling: SamplingParams, seeds=None):
        self.calls.append((list(prompts), sampling, seeds))
        return [[Completion("<think>\nwork\n</think>\n<answer>0</answer>", 5, 7)] for _ in prompts]

    def close(self):
        pass


def _run_with_fewshot_data(tmp_path, fewshot):
    from sfdata.store import RunDir
    from sfdata.tasks import make_questions

    run = RunDir(tmp_path / "run").init({"generate": {"fewshot": fewshot}})
    run.write("questions", make_questions("multiplication", 4, 0, level=2))
    sft = run.path / "models" / "sft"
    sft.mkdir(parents=True)
    (sft / "config.json").write_text("{}")
    return run


def test_every_stage_gets_the_same_prompt_with_the_runs_demonstration(tmp_path, monkeypatch):
    from sftrain.eval import EvalConfig, before_after, eval_stage

    run = _run_with_fewshot_data(tmp_path, fewshot=1)
    engines: list[RecordingEngine] = []
    opened: list = []

    def fake_get_engine(kind, model, **_):
        opened.append(model)
        engines.append(RecordingEngine())
        return engines[-1]

    monkeypatch.setattr("sfdata.engines.get_engine", fake_get_engine)
    cfg = EvalConfig(model="base-model", tasks=("multiplication:2",), n_questions=3, max_tokens=32, budget_forcing=1)
    info = eval_stage(run, cfg)
    assert opened == ["base-model", str(run.path / "models" / "sft")]
    base_prompts, sft_prompts = engines[0].calls[0][0], engines[1].calls[0][0]
    assert base_prompts == sft_prompts  # same questions, same messages
    for msgs in base_prompts:  # the demonstration the data was sampled with comes first
        assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
        assert "<answer>" in msgs[1]["content"]
    assert info["prompt"] == "original, 1-shot"
    ev = run.read("eval")
    assert set(ev["prompt_setup"]) == {"original, 1-shot"} and set(ev["stage"]) == {"base", "sft"}
    table = before_after(run)
    assert table["prompt"].to_list() == ["original, 1-shot"] and {"acc base", "acc sft"} <= set(table.columns)


def test_explicit_zero_shot_is_recorded_as_such(tmp_path, monkeypatch):
    from sftrain.eval import EvalConfig, evaluate_model

    run = _run_with_fewshot_data(tmp_path, fewshot=1)
    eng = RecordingEngine()
    monkeypatch.setattr("sfdata.engines.get_engine", lambda *a, **k: eng)
    info = evaluate_model(run, "m", "base", EvalConfig(tasks=("multiplication:2",), n_questions=2, fewshot=0))
    assert info["prompt"] == "original, 0-shot"
    assert all(len(msgs) == 1 for msgs in eng.calls[0][0])
    assert set(run.read("eval")["prompt_setup"]) == {"original, 0-shot"}


def test_each_item_gets_its_own_seed_when_the_engine_takes_seeds(tmp_path, monkeypatch):
    from sfdata.store.ids import seed_from_id
    from sftrain.eval import EvalConfig, evaluate_model

    run = _run_with_fewshot_data(tmp_path, fewshot=0)
    eng = RecordingEngine()
    monkeypatch.setattr("sfdata.engines.get_engine", lambda *a, **k: eng)
    evaluate_model(run, "m", "base", EvalConfig(tasks=("multiplication:2",), n_questions=3, temperature=0.8))
    prompts, _, seeds = eng.calls[0]
    ev = run.read("eval")
    assert seeds == [seed_from_id(i, 777) for i in ev["eval_id"].to_list()] and len(set(seeds)) == 3


def test_engines_without_a_seeds_argument_still_work():
    from sftrain.sampling import generate_with_seeds

    class Old:
        def generate(self, prompts, sampling):
            return [[Completion("x", 1, 1)] for _ in prompts]

    out = generate_with_seeds(Old(), ["a", "b"], SamplingParams(), [1, 2])
    assert len(out) == 2 and "seeds" not in inspect.signature(Old.generate).parameters


def test_sf_eval_passes_engine_options_to_the_engine(tmp_path, monkeypatch):
    """`sf eval --engine-options ... --base-url ...` reach the engine as generate's do."""
    import argparse

    from sfdata.stagecfg import add_config_args, config_from
    from sftrain.eval import EvalConfig, evaluate_model

    p = argparse.ArgumentParser()
    add_config_args(p, EvalConfig)
    args = p.parse_args(
        ["--engine", "vllm", "--engine-options", "gpu_memory_utilization=0.1", "max_model_len=1024"]
        + ["--base-url", "http://127.0.0.1:1/v1", "--batch-size", "4"]
    )
    cfg = config_from(EvalConfig, {}, args)
    cfg.tasks, cfg.n_questions, cfg.fewshot = ("multiplication:2",), 2, 0
    seen = {}

    def fake_get_engine(kind, model, **options):
        seen.update(kind=kind, **options)
        return RecordingEngine()

    monkeypatch.setattr("sfdata.engines.get_engine", fake_get_engine)
    evaluate_model(_run_with_fewshot_data(tmp_path, fewshot=0), "m", "base", cfg)
    assert seen == {
        "kind": "vllm",
        "batch_size": 4,
        "gpu_memory_utilization": 0.1,
        "max_model_len": 1024,
        "base_url": "http://127.0.0.1:1/v1",
    }
