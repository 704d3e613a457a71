"""Canonical table schemas, kept in code so every writer and reader agrees.

Each table is a dict of column -> Polars dtype. Writers conform frames to it
(`sfdata.store.parquet.conform`), readers pass it to Polars/DuckDB so parts written
at different times always read back with one schema.
"""

from __future__ import annotations

import polars as pl

UTC_TS = pl.Datetime("us", time_zone="UTC")

QUESTIONS: dict[str, pl.DataType] = {
    "question_id": pl.String,  # stable hash of (task, data)
    "task": pl.String,  # registry name, e.g. "countdown"
    "level": pl.Int32,  # difficulty knob: countdown -> count of numbers, multiplication -> digits
    "question": pl.String,  # the task text shown to the model (without prompt-variant wrapping)
    "answer": pl.String,  # ground truth / target as text (countdown: the target)
    "data": pl.String,  # JSON with task-specific fields (countdown: numbers, target, witness)
    "seed": pl.Int64,
    "split": pl.String,  # "train" | "test" | free text
}

ROLLOUTS: dict[str, pl.DataType] = {
    "rollout_id": pl.String,  # stable hash of (question_id, variant, sample_idx, model, sampling, seed)
    "question_id": pl.String,
    "task": pl.String,
    "variant": pl.String,  # prompt variant: original | plan_and_execute | alternatively | rephrase | ...
    "sample_idx": pl.Int32,
    "prompt": pl.String,  # full user message sent (after variant wrapping)
    "response": pl.String,
    "model": pl.String,
    "engine": pl.String,
    "temperature": pl.Float64,
    "top_p": pl.Float64,
    "max_tokens": pl.Int32,
    "seed": pl.Int64,  # this row's own sampling seed: seed_from_id(rollout_id, config seed); vLLM/servers replay it
    "prompt_tokens": pl.Int32,
    "completion_tokens": pl.Int32,
    "finish_reason": pl.String,  # "stop" | "length" | ...
    "latency_s": pl.Float64,  # wall time of the batch this row came from, divided by its rows
    "created_at": UTC_TS,
}

GRADES: dict[str, pl.DataType] = {
    "rollout_id": pl.String,
    "question_id": pl.String,
    "extracted_answer": pl.String,  # null when no <answer> tag
    "is_correct": pl.Boolean,
    "reason": pl.String,  # GradeReason value: correct | wrong_value | reused_number | ...
    "grader": pl.String,  # task name + grader version
}

REFLECTIONS: dict[str, pl.DataType] = {
    "reflection_id": pl.String,  # stable hash of (rollout_id, reflection_idx, model, sampling, seed)
    "rollout_id": pl.String,
    "question_id": pl.String,
    "reflection_idx": pl.Int32,
    "prompt": pl.String,
    "text": pl.String,  # the reflection, normally ending in <verdict>..</verdict>
    "verdict": pl.String,  # "Correct" | "Incorrect" | null (unparsed)
    "rollout_is_correct": pl.Boolean,  # the real grade of the rollout it verifies
    "is_valid": pl.Boolean,  # verdict == real grade
    "model": pl.String,
    "temperature": pl.Float64,
    "seed": pl.Int64,  # this reflection's own sampling seed: seed_from_id(reflection_id, config seed)
    "completion_tokens": pl.Int32,
    "latency_s": pl.Float64,
    "created_at": UTC_TS,
}

TRACES: dict[str, pl.DataType] = {
    "trace_id": pl.String,  # stable hash of (format, ablation, rollout_ids, reflection_ids, phrases)
    "question_id": pl.String,
    "task": pl.String,
    "format": pl.String,  # 0C | *C | *C_full | *C*IC | *CC | random | no_reflection | star
    "ablation": pl.String,  # null | no_sample_order | no_reflections | no_prompt_diversity
    # what the trace is for (sfdata.factory.mix): main (the SFT mix) | random | no_reflection | star | <ablation>
    "purpose": pl.String,
    "n_samples": pl.Int32,
    "prompt": pl.String,  # user message (the question, original variant)
    "trace": pl.String,  # assistant message: <think>...</think> ending <answer>..</answer>
    "final_answer": pl.String,
    "is_correct": pl.Boolean,
    "rollout_ids": pl.List(pl.String),  # in order of appearance
    "reflection_ids": pl.List(pl.String),  # aligned with rollout_ids; "" where a sample has no reflection
    "variants": pl.List(pl.String),
    "n_correct": pl.Int32,  # correct samples in the trace
    "n_incorrect": pl.Int32,
    "n_retries": pl.Int32,  # incorrect sample followed by another sample
    "n_backtracks": pl.Int32,
    "n_confirms": pl.Int32,
    "seed": pl.Int64,
    "created_at": UTC_TS,
}

LABELS: dict[str, pl.DataType] = {
    "trace_id": pl.String,
    "label": pl.String,  # "keep" | "drop"
    "note": pl.String,
    "updated_at": UTC_TS,
}

SKILLS: dict[str, pl.DataType] = {
    "id": pl.String,  # trace_id, rollout_id or eval_id
    "source": pl.String,  # "trace" | "rollout" | "eval"
    "n_samples": pl.Int32,
    "n_reflections": pl.Int32,
    "n_verdicts": pl.Int32,
    "n_verdict_correct": pl.Int32,
    "n_verdict_incorrect": pl.Int32,
    "n_verdict_right": pl.Int32,  # verdicts that match the grade of the sample they follow (null if unknown)
    "n_retries": pl.Int32,
    "n_backtracks": pl.Int32,
    "n_confirms": pl.Int32,
    "final_matches_last": pl.Boolean,
    "cue_wait": pl.Int32,
    "cue_verify": pl.Int32,
    "cue_alternatively": pl.Int32,
    "cue_check": pl.Int32,
    "malformed": pl.Boolean,  # unbalanced or out-of-order tags
}

EVAL: dict[str, pl.DataType] = {
    "eval_id": pl.String,
    "arm": pl.String,  # experiment arm (base | rl_only | skillfactory | star | ...); "" outside an experiment
    "model": pl.String,
    "stage": pl.String,  # free label: base | sft | rl | ...
    "task": pl.String,
    "level": pl.Int32,
    "question_id": pl.String,
    "sample_idx": pl.Int32,
    "budget_rounds": pl.Int32,  # budget-forcing continuations used (0 = none)
    "prompt_setup": pl.String,  # how the question was asked, e.g. "original, 1-shot" (same for every stage)
    "prompt": pl.String,
    "response": pl.String,
    "extracted_answer": pl.String,
    "is_correct": pl.Boolean,
    "reason": pl.String,
    "completion_tokens": pl.Int32,
    "created_at": UTC_TS,
}

RL_LOG: dict[str, pl.DataType] = {
    "log_id": pl.String,  # stable hash of (arm, step): a resumed or rerun arm replaces nothing, it adds steps
    "arm": pl.String,
    "step": pl.Int32,  # optimizer step at which TRL logged
    "completions": pl.Int32,  # completions sampled since the previous logged step (seen by the reward function)
    "reward_mean": pl.Float64,  # TRL's logged mean total reward (all reward functions, weighted)
    "reward_std": pl.Float64,
    "accuracy": pl.Float64,  # share of those completions the correctness reward scored > 0
    "completion_tokens": pl.Float64,  # mean completion length in tokens
    "samples_per_answer": pl.Float64,  # mean <sample> blocks per completion
    "verification_rate": pl.Float64,  # share with a verdict or a verification cue
    "retry_rate": pl.Float64,  # share with a new sample after an Incorrect verdict
    "backtrack_rate": pl.Float64,  # share going back to an earlier verified answer
    "confirm_rate": pl.Float64,  # share re-confirming a verified answer
    "cue_rate": pl.Float64,  # share with any untagged cue (wait / verify / alternatively / check)
    "malformed_rate": pl.Float64,  # share with unbalanced or out-of-order tags
    "loss": pl.Float64,
    "learning_rate": pl.Float64,
    "created_at": UTC_TS,
}

# Columns added after a table's first release -> the value parts written before read back with
# (None = null), so old runs stay readable and resumable after the schema grows.
LATER_COLUMNS: dict[str, dict[str, object]] = {
    "traces": {"purpose": None},
    "eval": {"arm": "", "prompt_setup": "original, 0-shot"},  # before shared prompts, eval asked zero-shot
}

# table name -> (schema, id column, layout). "parts" tables grow by appending part files
# (resumable stages); "single" tables are rewritten whole, atomically.
TABLES: dict[str, tuple[dict[str, pl.DataType], str, str]] = {
    "questions": (QUESTIONS, "question_id", "single"),
    "rollouts": (ROLLOUTS, "rollout_id", "parts"),
    "grades": (GRADES, "rollout_id", "single"),
    "reflections": (REFLECTIONS, "reflection_id", "parts"),
    "traces": (TRACES, "trace_id", "parts"),
    "labels": (LABELS, "trace_id", "single"),
    "skills": (SKILLS, "id", "single"),
    "eval": (EVAL, "eval_id", "parts"),
    "rl_log": (RL_LOG, "log_id", "parts"),
}


def schema_of(table: str) -> dict[str, pl.DataType]:
    try:
        return TABLES[table][0]
    except KeyError:
        raise KeyError(f"unknown table {table!r}; known: {', '.join(TABLES)}") from None
