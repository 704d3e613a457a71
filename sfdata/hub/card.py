"""Dataset card (README.md with YAML metadata) for a pushed SkillFactory dataset.

Metadata goes through `huggingface_hub.DatasetCardData`, so the YAML is what the Hub parses;
config names are read back from the parsed card, never from string matching.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)


@functools.cache
def hub_licenses() -> frozenset[str]:
    """The license ids the Hub accepts, vendored from its docs page (data/hub_licenses.txt names the source and date;
    the Hub cannot be reached from every machine and huggingface_hub ships no such list)."""
    text = resources.files("sfdata.hub").joinpath("data/hub_licenses.txt").read_text(encoding="utf-8")
    return frozenset(s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#"))


def size_category(n: int) -> str:
    for bound, label in SIZE_CATEGORIES:
        if n < bound:
            return label
    return "1B<n<10B"


def check_license(license: str) -> str:
    """`license` unchanged when the Hub accepts it; a one-line ValueError otherwise."""
    if license not in hub_licenses():
        raise ValueError(
            f"license {license!r} is not a Hub license id (lowercase, e.g. apache-2.0, cc-by-4.0, gpl-2.0; "
            "the list: https://huggingface.co/docs/hub/repositories-licenses)"
        )
    return license


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
        .with_columns(("`" + pl.col("format") + "`").alias("format"))  # `*C*IC` must not render as italics
    )


def _md_table(df: pl.DataFrame) -> str:
    if df.height == 0:
        return "_no rows_"
    head = "| " + " | ".join(df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join("" if v is None else str(v) for v in r) + " |" for r in df.iter_rows()]
    return "\n".join([head, sep, *rows])


def card_data(configs: dict[str, Any], counts: dict[str, int], tasks: list[str], license: str):
    from huggingface_hub import DatasetCardData

    return DatasetCardData(
        license=check_license(license),
        language=["en"],
        task_categories=["text-generation"],
        tags=["skillfactory", "reasoning", "self-distillation", "synthetic", *tasks],
        size_categories=[size_category(max(counts.values(), default=0))],
        configs=[
            {
                "config_name": name,
                "data_files": [
                    {"split": split, "path": path}
                    for split, path in (pattern.items() if isinstance(pattern, dict) else [("train", pattern)])
                ],
                **({"default": True} if i == 0 else {}),
            }
            for i, (name, pattern) in enumerate(configs.items())
        ],
    )


def source_models(manifest: dict[str, Any], rollouts: pl.DataFrame | None) -> str:
    """The model(s) that sampled the data: the rollouts' own `model` column first (right for
    imported runs), then the config."""
    if rollouts is not None and rollouts.height and "model" in rollouts.columns:
        names = sorted({m for m in rollouts["model"].to_list() if m})
        if names:
            return ", ".join(names)
    cfg = manifest.get("config") or {}
    return cfg.get("model") or (cfg.get("generate") or {}).get("model") or "embedded SmolLM2-135M-Instruct"


def render_card(
    repo_id: str,
    manifest: dict[str, Any],
    traces: pl.DataFrame,
    configs: dict[str, Any],
    counts: dict[str, int],
    license: str = "apache-2.0",
    rollouts: pl.DataFrame | None = None,
) -> str:
    from huggingface_hub import DatasetCard

    tasks = sorted(set(traces["task"].to_list())) if traces.height else []
    data = card_data(configs, counts, tasks, license)
    body = _body(repo_id, manifest, traces, configs, counts, tasks, source_models(manifest, rollouts))
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}"))


def _body(repo_id, manifest, traces, configs, counts, tasks, models) -> str:
    from sfdata.redact import redact  # credentials never reach a pushed card

    gen_cfg = json.dumps(redact(manifest.get("config", {})), indent=2, sort_keys=True, default=str)
    versions = ", ".join(f"{k} {v}" for k, v in sorted(manifest.get("versions", {}).items()))
    config_lines = "\n".join(f"- `{n}`: {counts.get(n, 0)} rows ({_files_text(p)})" for n, p in configs.items())
    first = next(iter(configs))
    return f"""
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
{_snippets(repo_id, configs)}
## Format mix and skill statistics

{_md_table(trace_stats(traces))}

## Generation config

```json
{gen_cfg}
```

Built with: {versions or "n/a"}.
"""


def _snippets(repo_id: str, configs: dict[str, str]) -> str:
    out = []
    if "sft_train" in configs:
        entry = {
            "skillfactory": {
                "hf_hub_url": repo_id,
                "subset": "sft_train",
                "split": "train",
                "formatting": "sharegpt",
                "columns": {"messages": "conversations"},
                "tags": {
                    "role_tag": "role",
                    "content_tag": "content",
                    "user_tag": "user",
                    "assistant_tag": "assistant",
                },
            }
        }
        out.append(
            "\n## LLaMA-Factory\n\nAdd this entry to `data/dataset_info.json`, then train with `dataset: skillfactory`:\n\n"
            f"```json\n{json.dumps(entry, indent=2)}\n```\n"
        )
    if "verl" in configs:
        from sfdata.hub.export import VERL_VERSIONS, verl_command

        out.append(
            "\n## verl (GRPO)\n\n`verl/` holds `train.parquet`, `val.parquet` and `reward.py` (it grades with the "
            f"`skillfactory` package, so install it next to verl). For {VERL_VERSIONS}:\n\n```bash\n"
            f"hf download {repo_id} --repo-type dataset --include 'verl/*' --local-dir sf_data\n"
            + verl_command("sf_data/verl")
            + "```\n"
        )
    return "".join(out)


def _files_text(pattern: str | dict[str, str]) -> str:
    """`pattern`, or `train: pattern`, `validation: pattern` for a config with several splits."""
    if isinstance(pattern, str):
        return f"`{pattern}`"
    return ", ".join(f"{split}: `{path}`" for split, path in pattern.items())


def card_configs(folder: str | Path, split: str | None = None) -> dict[str, list[str]]:
    """{config name: data file patterns} from a folder's README card, parsed as the Hub parses it.

    With `split`, only that split's files (entries without a split belong to every split). A card is
    untrusted input: bad YAML or a `configs` entry of the wrong shape is one ValueError naming the card."""
    readme = Path(folder) / "README.md"
    if not readme.is_file():
        return {}
    from huggingface_hub import DatasetCard

    try:
        configs = DatasetCard.load(readme).data.to_dict().get("configs") or []
    except Exception as e:  # YAML errors, non-UTF-8 bytes, metadata that is not a mapping
        first = (str(e).splitlines() or [""])[0][:160]
        raise ValueError(f"{readme}: not a readable dataset card ({type(e).__name__}: {first})") from None
    if not isinstance(configs, list):
        raise ValueError(f"{readme}: `configs` must be a list, found {type(configs).__name__}")
    out: dict[str, list[str]] = {}
    for i, c in enumerate(configs):
        if not isinstance(c, dict) or not isinstance(c.get("config_name"), str):
            raise ValueError(f"{readme}: configs[{i}] needs a config_name (a string)")
        files = c.get("data_files") or []
        entries = [files] if isinstance(files, (str, dict)) else files
        if not isinstance(entries, list):
            raise ValueError(f"{readme}: data_files of config {c['config_name']!r} must be a pattern or a list")
        if split is not None:
            entries = [f for f in entries if not isinstance(f, dict) or f.get("split", split) == split]
        out[c["config_name"]] = [p for f in entries for p in _paths(f, readme)]
    return out


def _paths(entry: Any, readme: Path | None = None) -> list[str]:
    """A data_files entry is a pattern, or {split, path} where path is a pattern or a list of them."""
    if isinstance(entry, str):
        return [entry]
    path = entry.get("path", []) if isinstance(entry, dict) else None
    paths = [path] if isinstance(path, str) else path
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ValueError(
            f"{readme or 'card'}: data_files entry {str(entry)[:80]!r} is not a pattern or {{split, path}}"
        )
    return paths


def write_card(folder: Path, text: str) -> Path:
    from sfdata.store.run import write_text_atomic

    return write_text_atomic(text, folder / "README.md")
