"""Canonical table schemas, kept in code so every writer and reader agrees.

Each table is a dict of column -> type name (`str`, `i32`, `i64`, `f64`, `bool`, `ts` = UTC microseconds,
`list[str]`). Writers conform frames to the Polars form (`schema_of`, `sfdata.store.parquet.conform`); the DuckDB
views use the SQL form (`duck_schema`). Plain names keep this module free of Polars, so `sf query` and `sf sql`,
which only need DuckDB, start without importing it (~0.15 s). `QUESTIONS`, `TRACES`, ... still read as Polars
schemas (built on first use).
"""

from __future__ import annotations

from functools import cache
from typing import Any

_QUESTIONS: dict[str, str] = {
    "question_id": "str",  # stable hash of (task, data)
    "task": "str",  # registry name, e.g. "countdown"
    "level": "i32",  # difficulty knob: countdown -> count of numbers, multiplication -> digits
    "question": "str",  # the task text shown to the model (without prompt-variant wrapping)
    "answer": "str",  # ground truth / target as text (countdown: the target)
    "data": "str",  # JSON with task-specific fields (countdown: numbers, target, witness)
    "seed": "i64",
    "split": "str",  # "train" | "test" | free text
}

_ROLLOUTS: dict[str, str] = {
    "rollout_id": "str",  # stable hash of (question_id, variant, sample_idx, model, sampling, seed)
    "question_id": "str",
    "task": "str",
    "variant": "str",  # prompt variant: original | plan_and_execute | alternatively | rephrase | ...
    "sample_idx": "i32",
    "prompt": "str",  # full user message sent (after variant wrapping)
    "response": "str",
    "model": "str",
    "engine": "str",
    "temperature": "f64",
    "top_p": "f64",
    "max_tokens": "i32",
    "seed": "i64",  # this row's own sampling seed: seed_from_id(rollout_id, config seed); vLLM/servers replay it
    "prompt_tokens": "i32",
    "completion_tokens": "i32",
    "finish_reason": "str",  # "stop" | "length" | ...
    "latency_s": "f64",  # wall time of the batch this row came from, divided by its rows
    "created_at": "ts",
}

_GRADES: dict[str, str] = {
    "rollout_id": "str",
    "question_id": "str",
    "extracted_answer": "str",  # null when no <answer> tag
    "is_correct": "bool",
    "reason": "str",  # GradeReason value: correct | wrong_value | reused_number | ...
    "grader": "str",  # task name + grader version
}

_REFLECTIONS: dict[str, str] = {
    "reflection_id": "str",  # stable hash of (rollout_id, reflection_idx, model, sampling, seed)
    "rollout_id": "str",
    "question_id": "str",
    "reflection_idx": "i32",
    "prompt": "str",
    "text": "str",  # the reflection, normally ending in <verdict>..</verdict>
    "verdict": "str",  # "Correct" | "Incorrect" | null (unparsed)
    "rollout_is_correct": "bool",  # the real grade of the rollout it verifies
    "is_valid": "bool",  # verdict == real grade
    "model": "str",
    "temperature": "f64",
    "seed": "i64",  # this reflection's own sampling seed: seed_from_id(reflection_id, config seed)
    "completion_tokens": "i32",
    "latency_s": "f64",
    "created_at": "ts",
}

_TRACES: dict[str, str] = {
    "trace_id": "str",  # stable hash of (format, ablation, rollout_ids, reflection_ids, phrases)
    "question_id": "str",
    "task": "str",
    "format": "str",  # a code of sfdata.factory.registry.TRACE_FORMATS
    "ablation": "str",  # null | no_sample_order | no_reflections | no_prompt_diversity
    # what the trace is for (sfdata.factory.mix): main (the SFT mix) | random | no_reflection | star | <ablation>
    "purpose": "str",
    "n_samples": "i32",
    "prompt": "str",  # user message (the question, original variant)
    "trace": "str",  # assistant message: <think>...</think> ending <answer>..</answer>
    "final_answer": "str",
    "is_correct": "bool",
    "rollout_ids": "list[str]",  # in order of appearance
    "reflection_ids": "list[str]",  # aligned with rollout_ids; "" where a sample has no reflection
    "variants": "list[str]",
    "n_correct": "i32",  # correct samples in the trace
    "n_incorrect": "i32",
    "n_retries": "i32",  # incorrect sample followed by another sample
    "n_backtracks": "i32",
    "n_confirms": "i32",
    "seed": "i64",
    "created_at": "ts",
}

_LABELS: dict[str, str] = {
    "trace_id": "str",
    "label": "str",  # "keep" | "drop"
    "note": "str",
    "updated_at": "ts",
}

_SKILLS: dict[str, str] = {
    "id": "str",  # trace_id, rollout_id or eval_id
    "source": "str",  # "trace" | "rollout" | "eval"
    "n_samples": "i32",
    "n_reflections": "i32",
    "n_verdicts": "i32",
    "n_verdict_correct": "i32",
    "n_verdict_incorrect": "i32",
    "n_verdict_right": "i32",  # verdicts that match the grade of the sample they follow (null if unknown)
    # each sample's first verdict against that sample's grade, Correct = positive (null when the question is unknown);
    # the metrics over them (precision / recall / F1 per class) are defined once in sfdata/skill_metrics.py
    "n_verdict_tp": "i32",  # Correct verdict, correct sample
    "n_verdict_fp": "i32",  # Correct verdict, wrong sample
    "n_verdict_tn": "i32",  # Incorrect verdict, wrong sample
    "n_verdict_fn": "i32",  # Incorrect verdict, correct sample
    "n_retries": "i32",
    "n_backtracks": "i32",
    "n_confirms": "i32",
    "final_matches_last": "bool",
    "cue_wait": "i32",  # untagged cues written by the model: the project's glue phrases are masked first
    "cue_verify": "i32",
    "cue_alternatively": "i32",
    "cue_check": "i32",
    "malformed": "bool",  # unbalanced or out-of-order tags
}

_EVAL: dict[str, str] = {
    "eval_id": "str",
    "arm": "str",  # experiment arm (base | rl_only | skillfactory | star | ...); "" outside an experiment
    "model": "str",
    "stage": "str",  # free label: base | sft | rl | ...
    "task": "str",
    "level": "i32",
    "question_id": "str",
    "sample_idx": "i32",
    "budget_rounds": "i32",  # budget-forcing continuations used (0 = none)
    "prompt_setup": "str",  # how the question was asked, e.g. "original, 1-shot" (same for every stage)
    "answer": "str",  # the question's ground truth / target as text (as in `questions`; eval questions are held out)
    "data": "str",  # the question's task-specific JSON (as in `questions`), so every output's verdicts can be checked
    "prompt": "str",
    "response": "str",
    "extracted_answer": "str",
    "is_correct": "bool",
    "reason": "str",
    "grader": "str",  # task name + grader version that graded the row ("" when written before this column)
    "completion_tokens": "i32",
    "created_at": "ts",
}

_RL_LOG: dict[str, str] = {
    "log_id": "str",  # stable hash of (arm, step): a resumed or rerun arm replaces nothing, it adds steps
    "arm": "str",
    "step": "i32",  # optimizer step at which TRL logged
    "completions": "i32",  # completions sampled since the previous logged step (seen by the reward function)
    "reward_mean": "f64",  # TRL's logged mean total reward (all reward functions, weighted)
    "reward_std": "f64",
    "accuracy": "f64",  # share of those completions the correctness reward scored > 0
    "completion_tokens": "f64",  # mean completion length in tokens
    # skill metrics of those completions, one column per sfdata.skill_metrics.STEP_METRICS (defined there once)
    "samples_per_answer": "f64",
    "sample_tag_rate": "f64",
    "tagged_verdict_rate": "f64",
    "keyword_cue_rate": "f64",
    "retry_rate": "f64",
    "backtrack_rate": "f64",
    "confirm_rate": "f64",
    "malformed_rate": "f64",
    "verdict_accuracy": "f64",
    "verdict_precision_correct": "f64",
    "verdict_recall_correct": "f64",
    "verdict_f1_correct": "f64",
    "verdict_precision_incorrect": "f64",
    "verdict_recall_incorrect": "f64",
    "verdict_f1_incorrect": "f64",
    "loss": "f64",
    "learning_rate": "f64",
    "created_at": "ts",
}

# Columns added after a table's first release -> the value parts written before read back with
# (None = null), so old runs stay readable and resumable after the schema grows.
LATER_COLUMNS: dict[str, dict[str, object]] = {
    "traces": {"purpose": None},
    "eval": {
        "arm": "",
        "prompt_setup": "original, 0-shot",
        "grader": "",
        "answer": None,  # rows written before eval kept the question data: verdicts stay unchecked
        "data": None,
    },  # before shared prompts, eval asked zero-shot
    "skills": {"n_verdict_tp": None, "n_verdict_fp": None, "n_verdict_tn": None, "n_verdict_fn": None},
    # rl_log rows written before the per-class verdict metrics (their verification_rate / cue_rate are dropped)
    "rl_log": {
        "sample_tag_rate": None,
        "tagged_verdict_rate": None,
        "keyword_cue_rate": None,
        "verdict_accuracy": None,
        "verdict_precision_correct": None,
        "verdict_recall_correct": None,
        "verdict_f1_correct": None,
        "verdict_precision_incorrect": None,
        "verdict_recall_incorrect": None,
        "verdict_f1_incorrect": None,
    },
}

# table name -> (schema, id column, layout). "parts" tables grow by appending part files
# (resumable stages); "single" tables are rewritten whole, atomically.
SPECS: dict[str, tuple[dict[str, str], str, str]] = {
    "questions": (_QUESTIONS, "question_id", "single"),
    "rollouts": (_ROLLOUTS, "rollout_id", "parts"),
    "grades": (_GRADES, "rollout_id", "single"),
    "reflections": (_REFLECTIONS, "reflection_id", "parts"),
    "traces": (_TRACES, "trace_id", "parts"),
    "labels": (_LABELS, "trace_id", "single"),
    "skills": (_SKILLS, "id", "single"),
    "eval": (_EVAL, "eval_id", "parts"),
    "rl_log": (_RL_LOG, "log_id", "parts"),
}


# kept under its old name: layout and id column lookups (`TABLES[t][1]`, `TABLES[t][2]`) need no Polars
TABLES = SPECS

_DUCK = {"str": "VARCHAR", "i32": "INTEGER", "i64": "BIGINT", "f64": "DOUBLE", "bool": "BOOLEAN", "ts": "TIMESTAMPTZ"}


def types_of(table: str) -> dict[str, str]:
    """Column -> type name of a table (no Polars import)."""
    try:
        return SPECS[table][0]
    except KeyError:
        raise KeyError(f"unknown table {table!r}; known: {', '.join(SPECS)}") from None


def _duck_type(name: str) -> str:
    return _duck_type(name[5:-1]) + "[]" if name.startswith("list[") else _DUCK[name]


def duck_schema(table: str) -> dict[str, str]:
    """Column -> DuckDB type of a table."""
    return {c: _duck_type(t) for c, t in types_of(table).items()}


def _polars_type(name: str) -> Any:
    import polars as pl

    if name.startswith("list["):
        return pl.List(_polars_type(name[5:-1]))
    return {
        "str": pl.String,
        "i32": pl.Int32,
        "i64": pl.Int64,
        "f64": pl.Float64,
        "bool": pl.Boolean,
        "ts": pl.Datetime("us", time_zone="UTC"),
    }[name]


@cache
def _polars_schema(table: str) -> dict[str, Any]:
    return {c: _polars_type(t) for c, t in types_of(table).items()}


def schema_of(table: str) -> dict[str, Any]:
    """Column -> Polars dtype of a table (imports Polars). A fresh dict: callers may edit their copy."""
    return dict(_polars_schema(table))


def __getattr__(name: str) -> dict[str, Any]:
    """`schemas.TRACES` etc.: the Polars schema, built on first use (PEP 562)."""
    if name.isupper() and name.lower() in SPECS:
        return schema_of(name.lower())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
