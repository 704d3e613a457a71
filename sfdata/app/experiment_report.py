"""The experiment's results in the paper's shape: one table (rows = arm x stage x task:level: accuracy with its
95% interval and n, budget-forcing accuracy per round, the paired difference vs the base arm and vs rl_only,
SFT examples and tokens the arm trained on, then skill use) and skill use through RL, written to RUN/report/
as CSV, Markdown and PNG.

Accuracies, intervals and skill use come from the named queries `experiment_table`, `budget_forcing` and
`rl_skill_use` (so the files show what `sf query` answers); paired differences are bootstrapped over the
questions both arms scored (`sfdata.compare`); SFT sizes come from each arm step's marker.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from sfdata.store import RunDir

# plotted per GRPO step; columns of both experiment_table and rl_skill_use (sfdata.skill_metrics definitions)
SKILL_COLUMNS = ("samples_per_answer", "tagged_verdict_rate", "keyword_cue_rate", "retry_rate", "backtrack_rate")
VERDICT_COLUMNS = ("verdict_f1_correct", "verdict_f1_incorrect")  # experiment_table's verdict quality per class
REFERENCE_ARMS = ("base", "rl_only")  # every arm is compared with these (paired, on the same questions)
ROW_KEYS = ("arm", "stage", "model", "prompt", "task_level")


def experiment_table(run: RunDir) -> pl.DataFrame:
    """The named query: rows = arm x stage x prompt x task:level, with n_questions, acc, ci_lo, ci_hi, skill use."""
    from sfdata.queries import run_query

    return run_query(run, "experiment_table")


def sft_sizes(run: RunDir) -> pl.DataFrame:
    """SFT examples and tokens (chat-templated) each arm trained on, summed over its SFT steps (0 for none).

    Read from the manifest: each arm step is a stage run `ARM/STEP` whose done entry holds the step's info."""
    rows: dict[str, list[int]] = {}
    for key, entry in sorted(run.manifest().get("stages", {}).items()):
        if "/" not in key or not isinstance(entry, dict) or entry.get("status") != "done":
            continue
        summary = entry.get("info") or {}
        got = rows.setdefault(key.split("/", 1)[0], [0, 0])
        if "examples" in summary:  # an SFT step (GRPO summaries have no examples)
            got[0] += int(summary["examples"])
            got[1] += int(summary.get("tokens") or 0)
    return pl.DataFrame(
        [{"arm": a, "sft_examples": e, "sft_tokens": t} for a, (e, t) in rows.items()],
        schema={"arm": pl.String, "sft_examples": pl.Int64, "sft_tokens": pl.Int64},
    )


def _task_level(df: pl.DataFrame) -> pl.DataFrame:
    level = pl.col("level").cast(pl.String)
    return df.with_columns(
        pl.when(level.is_null()).then(pl.col("task")).otherwise(pl.col("task") + ":" + level).alias("task_level"),
        pl.col("prompt_setup").alias("prompt"),
    )


def _diff_columns(diffs: pl.DataFrame, name: str) -> pl.DataFrame:
    from sfdata.stats import fmt_diff

    d = _task_level(diffs)
    return d.select(
        *ROW_KEYS,
        pl.struct("diff", "diff_lo", "diff_hi")
        .map_elements(lambda r: fmt_diff(r["diff"], r["diff_lo"], r["diff_hi"]), return_dtype=pl.String)
        .alias(name),
        pl.col("diff").round(4).alias(f"{name}_diff"),
        pl.col("diff_lo").round(4).alias(f"{name}_lo"),
        pl.col("diff_hi").round(4).alias(f"{name}_hi"),
    )


def _budget_columns(run: RunDir, scores: pl.DataFrame) -> list[pl.DataFrame]:
    """Per forced round r: `bf{r}` = accuracy [95% CI] (n), `bf{r} gain` = paired difference vs plain decoding."""
    from sfdata.compare import paired_vs
    from sfdata.queries import run_query
    from sfdata.stats import fmt_acc

    bf = run_query(run, "budget_forcing")
    out = []
    for r in sorted(set(bf["budget_rounds"].to_list())):
        cells = _task_level(bf.filter(pl.col("budget_rounds") == r))
        acc = [fmt_acc(*v) for v in cells.select("acc", "ci_lo", "ci_hi", "n_questions").iter_rows()]
        out.append(cells.select(*ROW_KEYS, pl.Series(f"bf{r}", acc), pl.col("acc").alias(f"bf{r}_acc")))
        gains = []
        for key, forced in scores.filter(pl.col("budget_rounds") == r).group_by("arm", "model", "stage"):
            plain = scores.filter(
                (pl.col("arm") == key[0])
                & (pl.col("model") == key[1])
                & (pl.col("stage") == key[2])
                & (pl.col("budget_rounds") == 0)
            )
            gains.append(paired_vs(scores, forced, plain))
        if gains:
            out.append(_diff_columns(pl.concat(gains), f"bf{r} gain"))
    return out


def arm_table(run: RunDir, arms: tuple[str, ...] | list[str] = ()) -> pl.DataFrame:
    """The experiment table as reported: `experiment_table` rows (config arm order) with `accuracy` =
    acc [95% CI] (n), budget-forcing columns per round, `vs base` / `vs rl_only` (paired bootstrap over the
    questions both scored, 10,000 resamples, seed 0) and the arm's SFT examples and tokens."""
    from sfdata.compare import last_stage, paired_vs, question_scores
    from sfdata.stats import fmt_acc

    table = in_arm_order(experiment_table(run), arms)
    if table.height == 0:
        return table
    acc = [fmt_acc(*v) for v in table.select("acc", "ci_lo", "ci_hi", "n_questions").iter_rows()]
    table = table.with_columns(pl.Series("accuracy", acc))
    scores = question_scores(run.read("eval"))
    plain = scores.filter(pl.col("budget_rounds") == 0)
    extra = _budget_columns(run, scores)
    for ref in REFERENCE_ARMS:
        right = last_stage(scores, ref)
        left = plain.filter((pl.col("arm") != ref) & ~pl.col("arm").is_in(REFERENCE_ARMS[: REFERENCE_ARMS.index(ref)]))
        if right.height and left.height:
            extra.append(_diff_columns(paired_vs(scores, left, right), f"vs {ref}"))
    for frame in extra:
        table = table.join(frame, on=list(ROW_KEYS), how="left", nulls_equal=True, maintain_order="left")
    sizes = sft_sizes(run)
    table = table.join(sizes, on="arm", how="left", maintain_order="left").with_columns(
        pl.col("sft_examples").fill_null(0), pl.col("sft_tokens").fill_null(0)
    )
    numbers = ["n_questions", "acc", "ci_lo", "ci_hi"]
    skill = [*SKILL_COLUMNS, *VERDICT_COLUMNS]
    shown = [c for c in table.columns if c not in (*numbers, *skill, "answers") and not _numeric_twin(c)]
    return table.select(*shown, "answers", *skill, *numbers, *[c for c in table.columns if _numeric_twin(c)])


def _numeric_twin(col: str) -> bool:
    """Columns that repeat a formatted cell as numbers (kept in the CSV, left out of the Markdown)."""
    return col.endswith(("_diff", "_lo", "_hi")) and not col.startswith("ci_") or col.endswith("_acc")


def display_columns(table: pl.DataFrame) -> list[str]:
    """What the Markdown and the terminal show: formatted cells, SFT sizes, skill use (not the numeric twins)."""
    hidden = {"model", "n_questions", "acc", "ci_lo", "ci_hi"}
    return [c for c in table.columns if c not in hidden and not _numeric_twin(c)]


def in_arm_order(table: pl.DataFrame, arms: tuple[str, ...] | list[str] = ()) -> pl.DataFrame:
    """Rows in the config's arm order (the query orders arms by when they were first evaluated)."""
    if not arms or table.height == 0:
        return table
    rank = {a: i for i, a in enumerate(arms)}
    keys = [rank.get(a, len(rank)) for a in table["arm"].to_list()]
    return table.with_columns(pl.Series("_k", keys)).with_row_index("_i").sort("_k", "_i").drop("_k", "_i")


def rl_skill_use(run: RunDir) -> pl.DataFrame:
    from sfdata.queries import run_query

    return run_query(run, "rl_skill_use", {"arm": None})


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def markdown(df: pl.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (values as printed, '-' for missing)."""
    head = "| " + " | ".join(df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join([head, rule, *body]) + "\n"


def _write_text(text: str, path: Path) -> Path:
    from sfdata.store.run import write_text_atomic

    return write_text_atomic(text, path)


def _save_png(fig, path: Path) -> Path:
    """Save a figure atomically (temp file + os.replace), then close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def plot_table(table: pl.DataFrame, path: Path) -> Path:
    """Grouped bars: accuracy per task:level, one bar per arm/stage, error bars = the 95% Wilson interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = table["task_level"].unique(maintain_order=True).to_list()
    groups = table.select("arm", "stage", "prompt").unique(maintain_order=True).rows()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(cols) + 2), 4))
    width = 0.8 / max(1, len(groups))
    for i, (arm, stage, prompt) in enumerate(groups):
        g = table.filter((pl.col("arm") == arm) & (pl.col("stage") == stage) & (pl.col("prompt") == prompt))
        at = {r["task_level"]: r for r in g.iter_rows(named=True)}
        xs = [x + i * width for x, c in enumerate(cols) if c in at]
        acc = [at[c]["acc"] for c in cols if c in at]
        err = [
            [a - at[c]["ci_lo"] for a, c in zip(acc, [c for c in cols if c in at])],
            [at[c]["ci_hi"] - a for a, c in zip(acc, [c for c in cols if c in at])],
        ]
        ax.bar(xs, acc, width, yerr=err, capsize=2, label=f"{arm or '-'} / {stage}")
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(cols))], cols, rotation=30, ha="right")
    ax.set_ylabel("accuracy (95% CI)")
    ax.set_ylim(0, 1.05)
    ax.set_title("Experiment: accuracy per arm and stage")
    ax.legend(fontsize=7)
    return _save_png(fig, path)


def plot_rl(log: pl.DataFrame, path: Path) -> Path:
    """Accuracy and skill use per GRPO step, one line per arm (the paper's 'which skills RL keeps')."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ("accuracy", *SKILL_COLUMNS)
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.2))
    for ax, m in zip(axes, metrics):
        for (arm,), g in log.group_by(["arm"], maintain_order=True):
            g = g.sort("step")
            ax.plot(g["step"].to_list(), g[m].to_list(), marker=".", label=arm or "-")
        ax.set_title(m.replace("_", " "), fontsize=9)
        ax.set_xlabel("GRPO step")
    axes[0].legend(fontsize=7)
    return _save_png(fig, path)


def write_experiment_report(run: RunDir, arms: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """RUN/report/experiment_table.{csv,md,png} and, when GRPO ran, rl_skill_use.{csv,png}."""
    out = run.path / "report"
    out.mkdir(parents=True, exist_ok=True)
    table = arm_table(run, arms)
    written: list[Path] = []
    if table.height:
        written.append(_write_text(table.write_csv(), out / "experiment_table.csv"))
        written.append(_write_text(markdown(table.select(display_columns(table))), out / "experiment_table.md"))
        written.append(plot_table(table, out / "experiment_table.png"))
    log = rl_skill_use(run)
    if log.height:
        written.append(_write_text(log.write_csv(), out / "rl_skill_use.csv"))
        written.append(plot_rl(log, out / "rl_skill_use.png"))
    return {"rows": table.height, "rl_steps": log.height, "files": [str(p) for p in written], "table": table}
