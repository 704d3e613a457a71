"""Export a run's (curated) traces to the schemas other tools read.

- `sft`: the published SkillFactory SFT schema, `conversations` = list<struct<role, content>> with
  plain (not large) Arrow types, so it concatenates with the published sets (config `sft_train`)
- `messages`: TRL's conversational `messages` column (SFTTrainer reads it directly)
- `prompt_completion`: TRL's conversational prompt/completion columns: loss on the completion only
  with any chat template (TRL's `assistant_only_loss` needs generation markers most templates lack)
- `sharegpt`: LLaMA-Factory JSON (`conversations` of {from, value}) plus a `dataset_info.json` entry
- `verl`: verl RL parquet (`data_source`, `prompt`, `ability`, `reward_model.ground_truth`, `extra_info`),
  train and val files, plus `reward.py` (verl's custom reward function, our graders)
- `raw`: the published raw sampling schema, official layout (one row per response, every reflection)

Labels are respected: traces marked `drop` are left out and, once any trace is marked `keep`,
only kept ones go out.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import polars as pl

EXPORT_FORMATS = ("sft", "messages", "prompt_completion", "sharegpt", "verl", "raw")
EXPORT_FOLDERS = {"sft": "sft_train", "messages": "messages", "prompt_completion": "prompt_completion"}
VERL_DATA_SOURCE = "skillfactory/{task}"
# verl 0.7+ reads the custom reward function from `reward.custom_reward_function` (0.7.x and 0.8.0 still moved the
# old top-level `custom_reward_function.*` there; 0.9.x does not, so the old keys load no reward function and the
# first batch raises NotImplementedError for our data_source). verl <= 0.6 reads only the top-level keys.
VERL_VERSIONS = "verl 0.7.1 to 0.9.1 (tested: 0.9.1)"


def verl_command(folder: str, model: str = "Qwen/Qwen2.5-1.5B-Instruct") -> str:
    """The GRPO command for a verl export in `folder` (README and the dataset card show this one text)."""
    return (
        "python -m verl.trainer.main_ppo algorithm.adv_estimator=grpo \\\n"
        f"  data.train_files={folder}/train.parquet data.val_files={folder}/val.parquet \\\n"
        f"  reward.custom_reward_function.path={folder}/reward.py reward.custom_reward_function.name=compute_score \\\n"
        f"  actor_rollout_ref.model.path={model} actor_rollout_ref.rollout.n=16\n"
    )


def curated_traces(run_dir: str | Path, kept_only: bool = True) -> pl.DataFrame:
    """A run's traces minus `drop` labels (and only `keep` ones when any are kept)."""
    from sfdata.store import RunDir

    run = RunDir(run_dir)
    traces = without_null_ids(run.read("traces"), "trace_id", run.path / "traces")
    labels = run.read("labels")
    if kept_only and labels.height:
        dropped = labels.filter(pl.col("label") == "drop")["trace_id"].to_list()
        kept = labels.filter(pl.col("label") == "keep")["trace_id"].to_list()
        traces = traces.filter(~pl.col("trace_id").is_in(dropped))
        if kept:
            traces = traces.filter(pl.col("trace_id").is_in(kept))
    return traces


def without_null_ids(df: pl.DataFrame, id_col: str, where: Path) -> pl.DataFrame:
    """Rows whose id is null are left out of an export, with a warning naming the count: an exported row
    must be traceable back to its run (a hand-copied or foreign part file can hold null ids)."""
    nulls = df[id_col].null_count() if id_col in df.columns else 0
    if nulls:
        import warnings

        warnings.warn(f"{where}: {nulls} row(s) without a {id_col} left out of the export", stacklevel=2)
        return df.filter(pl.col(id_col).is_not_null())
    return df


def check_name(name: str) -> str:
    """A dataset/file name must be a plain file name (no folders, no `..`), so writes stay under --out."""
    if not name or name in (".", "..") or Path(name).name != name or "/" in name or "\\" in name:
        raise ValueError(f"--name {name!r} must be a plain file name (no '/', '\\\\' or '..')")
    return name


def _msg(role: str, col: str, role_key: str = "role", content_key: str = "content") -> pl.Expr:
    return pl.struct(pl.lit(role).alias(role_key), pl.col(col).alias(content_key))


def _chat(role_key: str = "role", content_key: str = "content", user: str = "user", assistant: str = "assistant"):
    return pl.concat_list(_msg(user, "prompt", role_key, content_key), _msg(assistant, "trace", role_key, content_key))


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


def prompt_completion_frame(traces: pl.DataFrame) -> pl.DataFrame:
    """TRL conversational prompt/completion: completion_only_loss trains on the trace alone."""
    return traces.select(
        pl.concat_list(_msg("user", "prompt")).alias("prompt"),
        pl.concat_list(_msg("assistant", "trace")).alias("completion"),
        "trace_id",
        "format",
    )


def sharegpt_frame(traces: pl.DataFrame) -> pl.DataFrame:
    return traces.select(_chat("from", "value", "human", "gpt").alias("conversations"), "trace_id", "format")


def sharegpt_records(traces: pl.DataFrame) -> list[dict[str, Any]]:
    return sharegpt_frame(traces).to_dicts()


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


def small_types(t):
    """Arrow type with large_string/large_list replaced by string/list (the published sets' types)."""
    import pyarrow as pa

    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_list(t) or pa.types.is_list(t):
        return pa.list_(pa.field(t.value_field.name, small_types(t.value_type)))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, small_types(f.type), f.nullable) for f in t])
    return t


def write_published_parquet(df: pl.DataFrame, path: Path) -> Path:
    """Parquet with plain Arrow string/list types (Polars writes large_* ones), atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = df.to_arrow()
    table = table.cast(pa.schema([pa.field(f.name, small_types(f.type), f.nullable) for f in table.schema]))
    from sfdata.store.tempfiles import new_temp_file

    tmp = new_temp_file(path)  # follows the umask (mkstemp made Hub files 0600)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def verl_frame(run_dir: str | Path) -> pl.DataFrame:
    """RL prompts for verl: one row per question, ground truth as JSON that reward.py parses."""
    from sfdata.prompts import render
    from sfdata.store import RunDir
    from sfdata.tasks import get_task
    from sfdata.tasks.base import Question

    rows = []
    for i, row in enumerate(RunDir(run_dir).read("questions").iter_rows(named=True)):
        q = Question.from_row(row)
        truth = {"answer": q.answer, **{k: v for k, v in q.data.items() if k != "witness"}}
        rows.append(
            {
                "data_source": VERL_DATA_SOURCE.format(task=q.task),
                "prompt": [{"role": "user", "content": render("original", get_task(q.task), q)}],
                "ability": "math" if q.task in ("countdown", "multiplication") else "reasoning",
                "reward_model": {"style": "rule", "ground_truth": json.dumps(truth, sort_keys=True)},
                "extra_info": {"split": q.split, "index": i, "question_id": q.question_id, "level": q.level},
            }
        )
    return pl.DataFrame(rows)


def split_verl(df: pl.DataFrame, val_fraction: float = 0.05) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train, val): the run's non-train questions are val; with none, a stable ~5% slice by question id."""
    split = df["extra_info"].struct.field("split")
    if (split != "train").any() and (split == "train").any():
        return df.filter(split == "train"), df.filter(split != "train")
    qid = df["extra_info"].struct.field("question_id")
    n_val = max(1, round(df.height * val_fraction)) if df.height > 1 else 0
    val_ids = set(sorted(qid.to_list())[:n_val])
    is_val = qid.is_in(list(val_ids))
    return df.filter(~is_val), df.filter(is_val)


def write_verl(run_dir: str | Path, folder: Path) -> list[Path]:
    from sfdata.store.parquet import write_parquet_atomic

    train, val = split_verl(verl_frame(run_dir))
    from sfdata.store.tempfiles import new_temp_file

    reward = folder / "reward.py"
    tmp = new_temp_file(reward)  # a per-writer name: two exports into one folder never share a temp
    try:
        shutil.copyfile(Path(__file__).with_name("verl_reward.py"), tmp)
        os.replace(tmp, reward)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return [
        write_parquet_atomic(train, folder / "train.parquet"),
        write_parquet_atomic(val, folder / "val.parquet"),
        reward,
    ]


def export(
    run_dir: str | Path, fmt: str, out: str | Path, kept_only: bool = True, name: str | None = None
) -> list[Path]:
    """Write one export format under folder `out`; returns the files written (atomically)."""
    from sfdata.hub.raw import export_raw
    from sfdata.store.run import write_json_atomic

    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
    name = check_name(name or Path(run_dir).resolve().name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "raw":
        return [write_published_parquet(export_raw(run_dir), out / "raw" / "train-00000.parquet")]
    if fmt == "verl":
        return write_verl(run_dir, out / "verl")
    traces = curated_traces(run_dir, kept_only)
    if traces.height == 0:
        raise ValueError(f"{run_dir}: no traces to export (run `sf build` first, or check labels: all dropped?)")
    frames = {"sft": sft_frame, "messages": messages_frame, "prompt_completion": prompt_completion_frame}
    if fmt in frames:
        return [write_published_parquet(frames[fmt](traces), out / EXPORT_FOLDERS[fmt] / "train-00000.parquet")]
    file_name = f"{name}_sharegpt.json"
    data = write_json_atomic(sharegpt_records(traces), out / file_name)
    return [data, add_dataset_info(out / "dataset_info.json", sharegpt_info(name, file_name))]


def add_dataset_info(info_path: Path, entry: dict[str, Any]) -> Path:
    """Add `entry` to LLaMA-Factory's `dataset_info.json`: read-modify-write under the file's lock, so
    concurrent exports into one folder keep each other's entries (an unreadable file is an error, never
    overwritten)."""
    from sfdata.store.lock import file_lock
    from sfdata.store.run import write_json_atomic

    with file_lock(info_path):
        info: Any = {}
        if info_path.is_file():
            try:
                info = json.loads(info_path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise ValueError(f"{info_path}: not readable JSON ({type(e).__name__}); fix or remove it") from None
        if not isinstance(info, dict):
            raise ValueError(f"{info_path}: must hold a JSON object, found {type(info).__name__}")
        info.update(entry)
        write_json_atomic(info, info_path)
    return info_path
