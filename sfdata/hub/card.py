"""Dataset card (README.md with YAML metadata) for a pushed SkillFactory dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl


def _yaml_configs(configs: dict[str, str]) -> str:
    lines = ["configs:"]
    for i, (name, pattern) in enumerate(configs.items()):
        lines += (
            [f"- config_name: {name}"]
            + (["  default: true"] if i == 0 else [])
            + ["  data_files:", "  - split: train", f"    path: {pattern}"]
        )
    return "\n".join(lines)


def trace_stats(traces: pl.DataFrame) -> pl.DataFrame:
    """Format mix and skill statistics, one row per format."""
    if traces.height == 0:
        return pl.DataFrame()
    return (
        traces.group_by("format")
        .agg(
            pl.len().alias("traces"),
            pl.col("n_samples").mean().round(2).alias("samples/trace"),
            pl.col("n_retries").mean().round(2).alias("retries/trace"),
            pl.col("n_backtracks").mean().round(2).alias("backtracks/trace"),
            pl.col("n_confirms").mean().round(2).alias("confirms/trace"),
            pl.col("is_correct").mean().round(3).alias("final correct"),
            pl.col("trace").str.len_chars().mean().round(0).cast(pl.Int64).alias("chars"),
        )
        .sort("format")
    )


def _md_table(df: pl.DataFrame) -> str:
    if df.height == 0:
        return "_no rows_"
    head = "| " + " | ".join(df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join("" if v is None else str(v) for v in r) + " |" for r in df.iter_rows()]
    return "\n".join([head, sep, *rows])


def render_card(
    repo_id: str,
    manifest: dict[str, Any],
    traces: pl.DataFrame,
    configs: dict[str, str],
    counts: dict[str, int],
    license: str = "apache-2.0",
) -> str:
    tasks = sorted(set(traces["task"].to_list())) if traces.height else []
    models = (
        manifest.get("config", {}).get("model")
        or manifest.get("config", {}).get("generate", {}).get("model")
        or "embedded SmolLM2-135M-Instruct"
    )
    meta = "\n".join(
        [
            "---",
            f"license: {license}",
            "task_categories:\n- text-generation",
            "language:\n- en",
            "tags:\n- skillfactory\n- reasoning\n- self-distillation\n- synthetic" + "".join(f"\n- {t}" for t in tasks),
            f"size_categories:\n- {_size_category(counts.get('sft_train', 0))}",
            _yaml_configs(configs),
            "---",
        ]
    )
    gen_cfg = json.dumps(manifest.get("config", {}), indent=2, sort_keys=True, default=str)
    versions = ", ".join(f"{k} {v}" for k, v in sorted(manifest.get("versions", {}).items()))
    config_lines = "\n".join(
        f"- `{name}`: {counts.get(name, 0)} rows (`{pattern}`)" for name, pattern in configs.items()
    )
    first = next(iter(configs))
    return f"""{meta}

# {repo_id.split("/")[-1]}

Silver reasoning traces made with [SkillFactory](https://arxiv.org/abs/2512.04072)-style self-distillation:
the model's own sampled answers (several prompt variants) were graded, verified by the same model
(`<reflect>` ... `<verdict>`; only verdicts that match the real grade are kept) and rearranged into
traces that retry after a wrong answer, double-check a right one, backtrack and confirm.

Source model: `{models}`. Tasks: {", ".join(tasks) or "n/a"}.

## Configs

{config_lines}

```python
from datasets import load_dataset
ds = load_dataset("{repo_id}", "{first}", split="train")
```

`sft_train` uses the published SkillFactory SFT schema: `conversations` is a list of
`{{role, content}}` (user question, assistant trace); provenance columns (`format`, `trace_id`,
`question_id`, `n_samples`, `is_correct`) ride along.

## Format mix and skill statistics

{_md_table(trace_stats(traces))}

## Generation config

```json
{gen_cfg}
```

Built with: {versions or "n/a"}.
"""


def _size_category(n: int) -> str:
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < bound:
            return label
    return "n>1M"


def write_card(folder: Path, text: str) -> Path:
    from sfdata.store.run import write_text_atomic

    return write_text_atomic(text, folder / "README.md")
