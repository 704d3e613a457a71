"""Export a run's (curated) traces to the schemas other tools read.

- `sft`: the published SkillFactory SFT schema, `conversations` = [{role, content}] (config `sft_train`)
- `messages`: TRL's conversational `messages` column (SFTTrainer reads it directly)
- `sharegpt`: LLaMA-Factory JSON (`conversations` of {from, value}) plus a `dataset_info.json` entry
- `verl`: verl RL parquet (`data_source`, `prompt`, `ability`, `reward_model.ground_truth`, `extra_info`)
- `raw`: the published raw sampling schema (one row per question x variant)

Labels are respected: traces marked `drop` are left out and, once any trace is marked `keep`,
only kept ones go out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

EXPORT_FORMATS = ("sft", "messages", "sharegpt", "verl", "raw")


def curated_traces(run_dir: str | Path, kept_only: bool = True) -> pl.DataFrame:
    """A run's traces minus `drop` labels (and only `keep` ones when any are kept)."""
    from sfdata.store import RunDir

    run = RunDir(run_dir)
    traces = run.read("traces")
    labels = run.read("labels")
    if kept_only and labels.height:
        dropped = labels.filter(pl.col("label") == "drop")["trace_id"].to_list()
        kept = labels.filter(pl.col("label") == "keep")["trace_id"].to_list()
        traces = traces.filter(~pl.col("trace_id").is_in(dropped))
        if kept:
            traces = traces.filter(pl.col("trace_id").is_in(kept))
    return traces


def _chat(
    prompt_col: str = "prompt",
    trace_col: str = "trace",
    role_key: str = "role",
    content_key: str = "content",
    user: str = "user",
    assistant: str = "assistant",
) -> pl.Expr:
    return pl.concat_list(
        pl.struct(pl.lit(user).alias(role_key), pl.col(prompt_col).alias(content_key)),
        pl.struct(pl.lit(assistant).alias(role_key), pl.col(trace_col).alias(content_key)),
    )


def sft_frame(traces: pl.DataFrame) -> pl.DataFrame:
    """Published SFT schema, plus provenance columns that loaders ignore."""
    return traces.select(
        _chat().alias("conversations"),
        "trace_id",
        "question_id",
        "task",
        "format",
        "ablation",
        "n_samples",
        "is_correct",
        "final_answer",
    )


def messages_frame(traces: pl.DataFrame) -> pl.DataFrame:
    return traces.select(_chat().alias("messages"), "trace_id", "format")


def sharegpt_records(traces: pl.DataFrame) -> list[dict[str, Any]]:
    df = traces.select(
        _chat(role_key="from", content_key="value", user="human", assistant="gpt").alias("conversations"),
        "trace_id",
        "format",
    )
    return df.to_dicts()


def sharegpt_info(name: str, file_name: str) -> dict[str, Any]:
    """The `dataset_info.json` entry LLaMA-Factory needs for a sharegpt file."""
    return {
        name: {
            "file_name": file_name,
            "formatting": "sharegpt",
            "columns": {"messages": "conversations"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
        }
    }


def verl_frame(run_dir: str | Path, split: str | None = None) -> pl.DataFrame:
    """RL prompts for verl: one row per question, ground truth as JSON the reward function parses."""
    from sfdata.prompts import render
    from sfdata.store import RunDir
    from sfdata.tasks import get_task
    from sfdata.tasks.base import Question

    qs = RunDir(run_dir).read("questions")
    if split:
        qs = qs.filter(pl.col("split") == split)
    rows = []
    for i, row in enumerate(qs.iter_rows(named=True)):
        q = Question.from_row(row)
        task = get_task(q.task)
        truth = {"answer": q.answer, **{k: v for k, v in q.data.items() if k != "witness"}}
        rows.append(
            {
                "data_source": f"skillfactory/{q.task}",
                "prompt": [{"role": "user", "content": render("original", task, q)}],
                "ability": "math" if q.task in ("countdown", "multiplication") else "reasoning",
                "reward_model": {"style": "rule", "ground_truth": json.dumps(truth, sort_keys=True)},
                "extra_info": {"split": q.split, "index": i, "question_id": q.question_id, "level": q.level},
            }
        )
    return pl.DataFrame(rows)


def export(
    run_dir: str | Path, fmt: str, out: str | Path, kept_only: bool = True, name: str | None = None
) -> list[Path]:
    """Write one export format under folder `out`; returns the files written (atomically)."""
    from sfdata.hub.raw import export_raw
    from sfdata.store.parquet import write_parquet_atomic
    from sfdata.store.run import write_json_atomic

    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = name or Path(run_dir).name
    if fmt == "raw":
        return [write_parquet_atomic(export_raw(run_dir), out / "raw" / "train-00000.parquet")]
    if fmt == "verl":
        return [write_parquet_atomic(verl_frame(run_dir), out / "verl" / "train.parquet")]
    traces = curated_traces(run_dir, kept_only)
    if traces.height == 0:
        raise ValueError(f"{run_dir}: no traces to export (run `sf build` first, or check labels: all dropped?)")
    if fmt == "sft":
        return [write_parquet_atomic(sft_frame(traces), out / "sft_train" / "train-00000.parquet")]
    if fmt == "messages":
        return [write_parquet_atomic(messages_frame(traces), out / "messages" / "train-00000.parquet")]
    file_name = f"{name}_sharegpt.json"
    data = out / file_name
    write_json_atomic(sharegpt_records(traces), data)
    info_path = out / "dataset_info.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
    info.update(sharegpt_info(name, file_name))
    write_json_atomic(info, info_path)
    return [data, info_path]
