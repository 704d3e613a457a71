"""The inspector's data side: DuckDB over a run's Parquet, filters -> SQL, pages, labels.

Nothing here imports Textual, so it is tested and benchmarked on its own. Pages are fetched
with LIMIT/OFFSET over a view, so opening a 1M-trace run costs one COUNT and one page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

PAGE_SIZE = 200
#: skill name -> SQL predicate over the traces view (columns of the canonical traces table)
SKILLS: dict[str, str] = {
    "reflect": "len(list_filter(reflection_ids, x -> x <> '')) > 0",
    "retry": "n_retries > 0",
    "backtrack": "n_backtracks > 0",
    "confirm": "n_confirms > 0",
    "multi": "n_samples > 1",
    "wait": "regexp_matches(trace, '(?i)\\bwait\\b')",
    "verify": "regexp_matches(trace, '(?i)let me (verify|check|double-check)')",
    "alternatively": "regexp_matches(trace, '(?i)\\balternatively\\b')",
}
#: sortable columns shown in the table -> SQL expression
COLUMNS: dict[str, str] = {
    "id": "trace_id",
    "format": "format",
    "N": "n_samples",
    "correct": "is_correct",
    "retries": "n_retries",
    "length": "length(trace)",
    "label": "label",
}
_STATEMENT_BREAK = re.compile(r";")  # one expression inside one SELECT: no second statement


class FilterError(ValueError):
    """A filter the user typed is not valid (bad SQL, unknown skill)."""


@dataclass(frozen=True)
class Filters:
    format: str | None = None
    correct: bool | None = None
    label: str | None = None  # keep | drop | none
    skills: tuple[str, ...] = ()  # "backtrack" present, "!retry" absent
    search: str = ""
    where: str = ""  # raw SQL boolean expression over the traces columns

    def with_(self, **kw: Any) -> Filters:
        return replace(self, **kw)

    def sql(self) -> tuple[str, list[Any]]:
        """WHERE clause (or "") and its parameters. User text goes in parameters, never in SQL."""
        parts: list[str] = []
        params: list[Any] = []
        if self.format:
            parts.append("format = ?")
            params.append(self.format)
        if self.correct is not None:
            parts.append("is_correct = ?")
            params.append(self.correct)
        if self.label == "none":
            parts.append("label IS NULL")
        elif self.label:
            parts.append("label = ?")
            params.append(self.label)
        for s in self.skills:
            neg = s.startswith("!")
            name = s.lstrip("!").strip().lower()
            if name not in SKILLS:
                raise FilterError(f"unknown skill {name!r}; known: {', '.join(SKILLS)} (prefix ! for absent)")
            parts.append(("NOT " if neg else "") + f"({SKILLS[name]})")
        if self.search:
            parts.append("contains(lower(trace), lower(?))")
            params.append(self.search)
        if self.where.strip():
            if _STATEMENT_BREAK.search(self.where):
                raise FilterError("the WHERE box takes one boolean expression (no ; or statements)")
            parts.append(f"({self.where})")
        return (" WHERE " + " AND ".join(parts)) if parts else "", params


def parse_skills(text: str) -> tuple[str, ...]:
    return tuple(t for t in re.split(r"[,\s]+", text.strip()) if t)


@dataclass
class Page:
    rows: list[dict[str, Any]]
    offset: int
    total: int


@dataclass
class TraceStore:
    """DuckDB view `t` = traces LEFT JOIN labels; pages, counts, details, labels."""

    run_path: Path
    con: Any = field(init=False, repr=False)
    labels: dict[str, tuple[str, str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        from sfdata.store import RunDir
        from sfdata.store.duck import connect

        self.run = RunDir(self.run_path)
        if not self.run.exists():
            raise FileNotFoundError(f"{self.run_path} is not a run directory")
        self.con = connect(self.run, on_corrupt="skip")
        self.con.execute(
            "CREATE OR REPLACE VIEW t AS SELECT tr.*, l.label, l.note FROM traces tr LEFT JOIN labels l USING (trace_id)"
        )
        lab = self.run.read("labels", on_corrupt="skip")
        self.labels = {r[0]: (r[1], r[2] or "") for r in lab.select("trace_id", "label", "note").iter_rows()}

    # ---- listing --------------------------------------------------------------------------
    def formats(self) -> list[str]:
        return [r[0] for r in self.con.sql("SELECT DISTINCT format FROM traces ORDER BY 1").fetchall()]

    def count(self, f: Filters = Filters()) -> int:
        where, params = f.sql()
        try:
            return self.con.sql(f"SELECT count(*) FROM t{where}", params=params or None).fetchall()[0][0]
        except FilterError:
            raise
        except Exception as e:  # duckdb parser/binder errors from the raw WHERE box
            raise FilterError(str(e).splitlines()[0]) from e

    def page(
        self,
        f: Filters = Filters(),
        offset: int = 0,
        limit: int = PAGE_SIZE,
        sort: str | None = None,
        descending: bool = False,
    ) -> Page:
        where, params = f.sql()
        order = ""
        if sort:
            if sort not in COLUMNS:
                raise FilterError(f"cannot sort by {sort!r}")
            order = f" ORDER BY {COLUMNS[sort]} {'DESC' if descending else 'ASC'} NULLS LAST, trace_id"
        sql = (
            f"SELECT trace_id, format, n_samples, is_correct, n_retries, length(trace) AS length, label "
            f"FROM t{where}{order} LIMIT {int(limit)} OFFSET {int(offset)}"
        )
        try:
            total = self.count(f)
            df = self.con.sql(sql, params=params or None).pl()
        except FilterError:
            raise
        except Exception as e:
            raise FilterError(str(e).splitlines()[0]) from e
        rows = df.to_dicts()
        self._add_verdict_accuracy(rows)
        return Page(rows, offset, total)

    def _add_verdict_accuracy(self, rows: list[dict[str, Any]]) -> None:
        """Verdict accuracy from the skills table, looked up for the page's ids only (cheap)."""
        if not rows:
            return
        ids = [r["trace_id"] for r in rows]
        acc = dict(
            self.con.sql(
                "SELECT id, n_verdict_right / nullif(n_verdicts, 0) FROM skills WHERE source = 'trace' AND id IN (SELECT unnest(?))",
                params=[ids],
            ).fetchall()
        )
        for r in rows:
            r["verdict_acc"] = acc.get(r["trace_id"])

    # ---- one trace ------------------------------------------------------------------------
    def trace(self, trace_id: str) -> dict[str, Any]:
        df = self.con.sql("SELECT * FROM t WHERE trace_id = ?", params=[trace_id]).pl()
        if df.height == 0:
            raise KeyError(trace_id)
        return df.to_dicts()[0]

    def question(self, question_id: str) -> dict[str, Any] | None:
        df = self.con.sql("SELECT * FROM questions WHERE question_id = ?", params=[question_id]).pl()
        return df.to_dicts()[0] if df.height else None

    def sources(self, trace: dict[str, Any]) -> pl.DataFrame:
        """The rollouts and reflections the trace was stitched from, in trace order."""
        rids = list(trace.get("rollout_ids") or [])
        fids = list(trace.get("reflection_ids") or [])
        if not rids:
            return pl.DataFrame()
        fids = fids + [""] * (len(rids) - len(fids))
        order = pl.DataFrame({"pos": list(range(len(rids))), "rollout_id": rids, "reflection_id": fids})
        self.con.register("_order", order.to_arrow())
        try:
            return self.con.sql(
                """SELECT o.pos + 1 AS step, g.variant, g.sample_idx, g.is_correct, g.reason, g.extracted_answer,
                          f.verdict, f.is_valid, o.rollout_id, o.reflection_id
                   FROM _order o LEFT JOIN graded g USING (rollout_id)
                   LEFT JOIN reflections f ON f.reflection_id = o.reflection_id ORDER BY o.pos"""
            ).pl()
        finally:
            self.con.unregister("_order")

    def eval_outputs(self, limit: int = 50) -> pl.DataFrame:
        return self.con.sql(
            f"SELECT eval_id, stage, task, level, is_correct, response FROM eval LIMIT {int(limit)}"
        ).pl()

    # ---- curation -------------------------------------------------------------------------
    def set_label(self, trace_id: str, label: str | None, note: str | None = None) -> None:
        """Set keep/drop (None clears) and/or a note; rewrites labels.parquet atomically."""
        from sfdata.store.duck import table_view_sql
        from sfdata.store.run import now_utc
        from sfdata.store.schemas import LABELS

        if label not in (None, "keep", "drop"):
            raise ValueError(f"label must be keep, drop or None, got {label!r}")
        old_label, old_note = self.labels.get(trace_id, (None, ""))
        note = old_note if note is None else note
        if label is None and not note:
            self.labels.pop(trace_id, None)
        else:
            self.labels[trace_id] = (label, note)
        now = now_utc()
        df = pl.DataFrame(
            {
                "trace_id": list(self.labels),
                "label": [v[0] for v in self.labels.values()],
                "note": [v[1] for v in self.labels.values()],
                "updated_at": [now] * len(self.labels),
            },
            schema=LABELS,
        )
        self.run.write("labels", df)
        self.con.execute(table_view_sql("labels", self.run.files("labels")))

    def export_kept(self, path: Path | None = None) -> tuple[Path, int]:
        """Kept traces (full traces schema) -> RUN/exports/kept.parquet, for `sf sft` / `sf push`."""
        from sfdata.store.parquet import write_parquet_atomic

        kept = [k for k, (lab, _) in self.labels.items() if lab == "keep"]
        if not kept:
            raise ValueError("no trace is marked keep (press k on a trace)")
        df = self.con.sql(
            "SELECT * EXCLUDE (label, note) FROM t WHERE trace_id IN (SELECT unnest(?))", params=[kept]
        ).pl()
        path = path or self.run.path / "exports" / "kept.parquet"
        write_parquet_atomic(df, path)
        return path, df.height

    def close(self) -> None:
        self.con.close()


# ---- trace text -> styled segments ---------------------------------------------------------
_TAG = re.compile(r"(</?(?:think|sample|reflect|verdict|answer)>)", re.I)


def segments(trace: str) -> list[tuple[str, str]]:
    """Split a trace into (kind, text): kind is sample | reflect | verdict | answer | glue | tag."""
    out: list[tuple[str, str]] = []
    stack: list[str] = []
    for piece in _TAG.split(trace or ""):
        if not piece:
            continue
        m = _TAG.fullmatch(piece)
        if m:
            name = piece.strip("</>").lower()
            if piece.startswith("</"):
                if name in stack:
                    while stack and stack.pop() != name:
                        pass
            else:
                stack.append(name)
            out.append(("tag", piece))
            continue
        inner = next((s for s in reversed(stack) if s in ("verdict", "answer", "reflect", "sample")), None)
        out.append((inner or "glue", piece))
    return out


def split_samples(trace: str) -> list[tuple[str, str]]:
    """Top-level blocks for the trace view: ("sample", text) | ("reflect", text) | ("glue", text) | ("answer", text)."""
    blocks: list[tuple[str, str]] = []
    pat = re.compile(r"<(sample|reflect|answer)>(.*?)</\1>", re.S | re.I)
    pos = 0
    for m in pat.finditer(trace or ""):
        gap = trace[pos : m.start()].replace("<think>", "").replace("</think>", "").strip()
        if gap:
            blocks.append(("glue", gap))
        blocks.append((m.group(1).lower(), m.group(2).strip("\n")))
        pos = m.end()
    tail = (trace or "")[pos:].replace("</think>", "").strip()
    if tail:
        blocks.append(("glue", tail))
    return blocks
