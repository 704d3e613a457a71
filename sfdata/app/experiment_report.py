"""The experiment's results in the paper's shape: one table (rows = arm x stage, columns = task:level
accuracy, then skill use) and skill use through RL, written to RUN/report/ as CSV, Markdown and PNG.

Everything comes from the named queries `experiment_table` and `rl_skill_use`, so what the files show
is exactly what `sf query` answers.
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


def experiment_table(run: RunDir) -> pl.DataFrame:
    from sfdata.queries import run_query

    return run_query(run, "experiment_table")


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


def accuracy_columns(table: pl.DataFrame) -> list[str]:
    """The pivoted task:level columns, in the order the query produced them."""
    return [c for c in table.columns if ":" in c]


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
    """Grouped bars: accuracy per task:level, one bar per arm/stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = accuracy_columns(table)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(cols) + 2), 4))
    width = 0.8 / max(1, table.height)
    for i, row in enumerate(table.iter_rows(named=True)):
        xs = [x + i * width for x in range(len(cols))]
        ax.bar(xs, [row[c] or 0.0 for c in cols], width, label=f"{row['arm'] or '-'} / {row['stage']}")
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(cols))], cols, rotation=30, ha="right")
    ax.set_ylabel("accuracy")
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
    table = in_arm_order(experiment_table(run), arms)
    written: list[Path] = []
    if table.height:
        written.append(_write_text(table.write_csv(), out / "experiment_table.csv"))
        written.append(_write_text(markdown(table), out / "experiment_table.md"))
        written.append(plot_table(table, out / "experiment_table.png"))
    log = rl_skill_use(run)
    if log.height:
        written.append(_write_text(log.write_csv(), out / "rl_skill_use.csv"))
        written.append(plot_rl(log, out / "rl_skill_use.png"))
    return {"rows": table.height, "rl_steps": log.height, "files": [str(p) for p in written], "table": table}
