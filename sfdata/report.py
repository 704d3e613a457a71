"""`sf report RUN`: a one-page summary of a run plus PNG plots in RUN/plots/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from sfdata.store import RunDir


def _safe(run: RunDir, name: str) -> pl.DataFrame:
    from sfdata.queries import run_query

    return run_query(run, name)


def summary(run: RunDir) -> dict[str, Any]:
    from sfdata.store.duck import connect

    con = connect(run)
    try:
        counts = {
            t: con.sql(f"select count(*) from {t}").fetchall()[0][0]
            for t in ("questions", "rollouts", "reflections", "traces", "labels", "skills", "eval")
        }
        acc = con.sql("select avg(is_correct::int) from graded where is_correct is not null").fetchall()[0][0]
        fmt_mix = dict(con.sql("select format, count(*) from traces group by 1 order by 1").fetchall())
    finally:
        con.close()
    return {"counts": counts, "rollout_accuracy": acc, "format_mix": fmt_mix}


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plots(run: RunDir) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = run.path / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    src = _safe(run, "skill_by_source")
    if src.height:
        cols = ["sample_tag_rate", "tagged_verdict_rate", "retry_rate", "keyword_cue_rate"]
        labels = ["/".join(x for x in (s, arm, st) if x) for s, arm, st in zip(src["source"], src["arm"], src["stage"])]
        fig, ax = plt.subplots(figsize=(8, 4))
        width = 0.8 / len(cols)
        for i, c in enumerate(cols):
            ys = src[c].fill_null(0.0).to_list()
            ax.bar([x + i * width for x in range(len(labels))], ys, width, label=c.removesuffix("_rate"))
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(labels))], labels)
        ax.set_ylabel("share of texts")
        ax.set_ylim(0, 1.05)
        ax.set_title("Skill use by source")
        ax.legend(fontsize=8)
        written.append(_save(plt, fig, out_dir / "skill_frequency.png"))
    att = _safe(run, "accuracy_by_attempts")
    if att.height:  # ungraded traces (a pulled SFT set whose questions cannot be re-read) have no accuracy
        att = att.filter(pl.col("accuracy").is_not_null())
    if att.height:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.bar(att["attempts"].to_list(), att["accuracy"].to_list(), color="#4c72b0")
        for x, y, n in zip(att["attempts"], att["accuracy"], att["traces"]):
            ax.text(x, y + 0.02, f"n={n}", ha="center", fontsize=8)
        ax.set_xlabel("samples (attempts) in trace")
        ax.set_ylabel("final answer accuracy")
        ax.set_ylim(0, 1.1)
        ax.set_title("Accuracy by attempts")
        written.append(_save(plt, fig, out_dir / "accuracy_by_attempts.png"))
    ev = _safe(run, "eval_accuracy")
    if ev.height:
        ev = ev.filter(pl.col("acc").is_not_null())
    if ev.height:
        fig, ax = plt.subplots(figsize=(7, 4))
        keys = ["arm", "model", "stage", "task", "budget_rounds"]
        for (arm, model, stage, task, rounds), g in ev.group_by(keys, maintain_order=True):
            g = g.sort("level")
            acc = g["acc"].to_numpy()  # error bars: the 95% Wilson interval of each accuracy
            err = [acc - g["ci_lo"].to_numpy(), g["ci_hi"].to_numpy() - acc]
            who = f"{arm}/{stage}" if arm else f"{stage} {model}"
            ax.errorbar(g["level"].to_list(), acc, yerr=err, marker="o", capsize=3, label=f"{who} {task} bf={rounds}")
        ax.set_xlabel("level (countdown: count of numbers)")
        ax.set_ylabel("accuracy (95% CI)")
        ax.set_title("Eval accuracy by level")
        ax.legend(fontsize=7)
        written.append(_save(plt, fig, out_dir / "eval_accuracy.png"))
    return written


def report_stage(run: RunDir) -> dict[str, Any]:
    """Reads every table (counts, accuracy, format mix, skills, eval); writes PNG plots to `RUN/plots/`."""
    s = summary(run)
    paths = plots(run)
    return {**s, "plots": [str(p) for p in paths]}


def print_report(run: RunDir, console, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Print the one-page summary; `info` is a finished report stage's (computed here when None)."""
    from rich.panel import Panel
    from rich.table import Table

    from sfdata.output import cell
    from sfdata.reflect import verdict_metrics

    info = info if info is not None and "counts" in info else report_stage(run)
    c = info["counts"]
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    for k, v in c.items():
        t.add_row(k, f"{v:,}")
    acc = info["rollout_accuracy"]
    t.add_row("rollout accuracy", "-" if acc is None else f"{acc:.1%}")
    # format names and variants are user data: Text cells, never rich markup (`[/]` is a valid format name)
    m = verdict_metrics(run)
    if m.get("parsed"):
        t.add_row(
            "verdict F1 (Correct / Incorrect)",
            f"{m['f1']:.3f} / {m['f1_incorrect']:.3f}  ({m['parsed']} parsed of {m['reflections']})",
        )
    if info["format_mix"]:
        t.add_row("format mix", cell(", ".join(f"{k} {v}" for k, v in info["format_mix"].items())))
    console.print(Panel(t, title=cell(f"run {run.path}")))
    from sfdata.output import emit

    for name in ("skill_by_source", "skill_frequency", "eval_accuracy"):
        df = _safe(run, name)
        if df.height:
            emit(df, "table", None, title=name)
    for p in info["plots"]:
        console.print(cell(f"plot: {p}"))
    return info
