"""The published raw sampling schema (`SkillFactory/RAW_DATA-*`): detect its layout, import, export.

Three layouts are in use, told apart row by row:
- `official`: one row per sampled response; single-element response/grade/answer lists and a
  list of K reflections, all of that one response (what the official script reads and writes);
- `multi`: several responses per row, reflections as a list of lists (one list per response);
- `multi-flat`: several responses per row, one reflection string per response.
The official README's spellings `model_responses__example_annotation` and `prompt_type` are read
as `model_responses__mutated_prompts` and `prompt_variant`. Importing turns rows into our run
tables (questions, rollouts, grades, reflections); bad rows are reported by index and skipped.
Ids are keyed by content (question, variant, response text), never by the path the file came from.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from sfdata.hub.readers import load_hub_frame, read_file, read_source  # noqa: F401  (re-exported)

RESP = "model_responses__mutated_prompts"
RESP_ALIASES = (RESP, "model_responses__example_annotation")
VARIANT_ALIASES = ("prompt_variant", "prompt_type")
RAW_COLUMNS: dict[str, str] = {
    "question": "str",
    "answer": "str or int",
    "prompt_variant": "str (or prompt_type)",
    RESP: "list[str] (or model_responses__example_annotation)",
    f"{RESP}__eval_is_correct": "list[bool]",
    f"{RESP}__eval_extracted_answers": "list[str]",
    f"{RESP}_reflection": "list[str] (K reflections of a one-response row) or list[list[str]]",
}
LAYOUTS = {
    "official": "one row per sampled response, K reflections of it",
    "multi": "several responses per row, a list of reflections per response",
    "multi-flat": "several responses per row, one reflection per response",
}
GRADED_TASKS = ("countdown", "multiplication")  # re-graded by our grader; others keep the published flag
PUBLISHED_GRADER = "published/eval_is_correct"


class RawSchemaError(ValueError):
    """The input is not in the published raw schema (missing columns or wrong types)."""


class BadRowError(ValueError):
    """One raw row cannot be used (reported with its index, never fatal)."""


@dataclass
class BadRow:
    row: int
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


@dataclass
class ImportResult:
    rows: int = 0
    imported_rows: int = 0
    questions: int = 0
    rollouts: int = 0
    reflections: int = 0
    grade_disagreements: int = 0  # our grader vs the published eval_is_correct
    layout: str = ""
    bad_rows: list[BadRow] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "rows": self.rows,
            "imported_rows": self.imported_rows,
            "bad_rows": len(self.bad_rows),
            "questions": self.questions,
            "rollouts": self.rollouts,
            "reflections": self.reflections,
            "grade_disagreements": self.grade_disagreements,
        }


@dataclass(frozen=True)
class RawColumns:
    """Which spelling of each raw column a frame uses."""

    resp: str
    variant: str | None

    @property
    def flags(self) -> str:
        return f"{self.resp}__eval_is_correct"

    @property
    def reflection(self) -> str:
        return f"{self.resp}_reflection"


def raw_columns(df: pl.DataFrame) -> RawColumns:
    """Resolve column spellings; a frame without question/answer/responses is one clear error."""
    resp = next((c for c in RESP_ALIASES if c in df.columns), None)
    missing = [c for c in ("question", "answer") if c not in df.columns] + ([] if resp else [RESP])
    if missing:
        expected = "\n".join(f"  {k}: {v}" for k, v in RAW_COLUMNS.items())
        raise RawSchemaError(
            f"not the published raw schema: missing column(s) {missing}; have {sorted(df.columns)}.\n"
            f"Expected columns:\n{expected}"
        )
    dtype = df.schema[resp]
    if not isinstance(dtype, pl.List) and dtype != pl.Null:
        raise RawSchemaError(f"column {resp!r} must be a list of strings, got {dtype}")
    return RawColumns(resp, next((c for c in VARIANT_ALIASES if c in df.columns), None))


def is_raw(df: pl.DataFrame) -> bool:
    return any(c in df.columns for c in RESP_ALIASES)


@dataclass
class RawSample:
    text: Any
    flag: bool | None
    reflections: list[Any]
    rollout_id: str | None = None
    sample_idx: int | None = None
    reflection_ids: list[Any] | None = None


def _as_list(v: Any) -> list | None:
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return list(v)
    if hasattr(v, "to_list"):
        return v.to_list()
    return None


def row_samples(row: dict[str, Any], cols: RawColumns) -> tuple[str, list[RawSample]]:
    """(layout, samples) of one raw row; raises BadRowError when its lists do not line up."""
    responses = _as_list(row.get(cols.resp))
    if responses is None:
        raise BadRowError(f"{cols.resp} is not a list")
    flags = _as_list(row.get(cols.flags))
    if flags is not None and len(flags) != len(responses):
        raise BadRowError(f"{len(flags)} eval_is_correct flags for {len(responses)} responses")
    refls = _as_list(row.get(cols.reflection)) or []
    nested = any(isinstance(r, (list, tuple)) or hasattr(r, "to_list") for r in refls)
    if nested:
        if len(refls) != len(responses):
            raise BadRowError(f"{len(refls)} reflection lists for {len(responses)} responses")
        layout, per = "multi", [_as_list(r) or [] for r in refls]
    elif len(responses) == 1:
        layout, per = "official", [refls]
    elif not refls or len(refls) == len(responses):
        layout, per = "multi-flat", [[r] for r in refls] or [[] for _ in responses]
    else:
        raise BadRowError(f"{len(refls)} reflections for {len(responses)} responses")
    samples = [
        RawSample(t, None if flags is None or flags[j] is None else bool(flags[j]), per[j])
        for j, t in enumerate(responses)
    ]
    if len(samples) == 1:  # our own export carries its ids; official rows have none
        s = samples[0]
        s.rollout_id = row.get("rollout_id") if isinstance(row.get("rollout_id"), str) else None
        s.sample_idx = row.get("sample_idx") if isinstance(row.get("sample_idx"), int) else None
        ids = _as_list(row.get("reflection_ids"))
        s.reflection_ids = ids if ids is not None and len(ids) == len(s.reflections) else None
    return layout, samples


def describe_layout(counts: Counter) -> str:
    if not counts:
        return "no usable rows"
    if len(counts) == 1:
        (name,) = counts
        return f"{name} ({LAYOUTS[name]})"
    return "mixed: " + ", ".join(f"{n} rows {name}" for name, n in counts.most_common())


def _countdown_question(text: str, answer: Any, row: dict[str, Any]) -> tuple[list[int], int]:

    nums = row.get("nums") or row.get("numbers")
    if nums is None:
        m = re.search(r"\[([0-9,\s]+)\]", text)
        if not m:
            raise ValueError("no [numbers] list found in the question text")
        nums = [int(x) for x in m.group(1).replace(" ", "").split(",") if x]
    target = row.get("target", answer)
    try:
        target = int(str(target).strip())
    except ValueError:
        raise ValueError(f"answer {str(target)[:40]!r} is not an integer target") from None
    nums = [int(x) for x in nums]
    if not 2 <= len(nums) <= 8:
        raise ValueError(f"{len(nums)} numbers in the question (expected 2..8)")
    return nums, target


def row_question(row: dict[str, Any], task: str):
    """The Question a raw row asks; BadRowError when it cannot be read."""
    from sfdata.tasks.base import Question

    qtext, answer = row.get("question"), row.get("answer")
    if not isinstance(qtext, str) or not qtext.strip():
        raise BadRowError("empty or non-text question")
    if answer is None or str(answer).strip() == "":
        raise BadRowError("missing answer")
    if isinstance(row.get("question_data"), str):  # our own export: the exact question back, same id
        try:
            data = json.loads(row["question_data"])
        except json.JSONDecodeError:
            raise BadRowError("question_data is not JSON") from None
        level, split = int(row.get("level") or 0), str(row.get("split") or "train")
        return Question(task, qtext, str(answer), level, data, int(row.get("question_seed") or 0), split)
    if task == "countdown":
        try:
            nums, target = _countdown_question(qtext, answer, row)
        except (ValueError, TypeError) as e:
            raise BadRowError(f"cannot read the countdown question: {e}") from None
        return Question("countdown", qtext, str(target), len(nums), {"numbers": nums, "target": target}, 0, "train")
    return Question(task, qtext, str(answer).strip(), 0, {"answer": str(answer).strip()}, 0, "train")


@dataclass
class _Collector:
    """Rows gathered from a raw frame before grading (grades decide reflection validity)."""

    now: Any
    questions: dict[str, dict] = field(default_factory=dict)
    rollouts: list[dict] = field(default_factory=list)
    flags: dict[str, bool | None] = field(default_factory=dict)
    pending: list[tuple[str, str, int, str, str | None, str]] = field(default_factory=list)
    next_idx: Counter = field(default_factory=Counter)
    seen_text: Counter = field(default_factory=Counter)

    def add(self, q, variant: str, s: RawSample, model: str) -> None:
        from sfdata.store import stable_id

        key = (q.question_id, variant)
        occurrence = self.seen_text[(*key, s.text)]
        self.seen_text[(*key, s.text)] += 1
        rid = s.rollout_id or stable_id("import", q.question_id, variant, s.text, occurrence)
        idx = s.sample_idx if s.sample_idx is not None else self.next_idx[key]
        self.next_idx[key] = max(self.next_idx[key], idx + 1)
        self.questions.setdefault(q.question_id, q.to_row())
        self.flags[rid] = s.flag
        self.rollouts.append(
            {
                "rollout_id": rid,
                "question_id": q.question_id,
                "task": q.task,
                "variant": variant,
                "sample_idx": idx,
                "prompt": q.question,
                "response": s.text,
                "model": model,
                "engine": "import",
                "created_at": self.now,
            }
        )
        for k, rtext in enumerate(s.reflections):
            if isinstance(rtext, str) and rtext.strip():
                given = s.reflection_ids[k] if s.reflection_ids else None
                self.pending.append((rid, q.question_id, k, rtext, given if isinstance(given, str) else None, model))


def import_frame(
    df: pl.DataFrame, task: str = "countdown", model: str = "imported", source: str = ""
) -> tuple[dict[str, pl.DataFrame], ImportResult]:
    """Raw rows -> our tables. Rows that cannot be used are reported, never fatal.

    `source` is informational only: ids depend on content, so the same file imported under any
    path spelling yields the same rows.
    """
    from sfdata.skills import well_formed
    from sfdata.store.run import now_utc

    cols = raw_columns(df)
    res = ImportResult(rows=df.height)
    col = _Collector(now_utc())
    layouts: Counter = Counter()
    for i, row in enumerate(df.iter_rows(named=True)):
        try:
            q = row_question(row, task)
            layout, samples = row_samples(row, cols)
        except BadRowError as e:
            res.bad_rows.append(BadRow(i, str(e)))
            continue
        variant = str((row.get(cols.variant) if cols.variant else None) or "original")
        row_model = row.get("model") if isinstance(row.get("model"), str) and row.get("model") else model
        used = False
        for j, s in enumerate(samples):
            if not isinstance(s.text, str) or not s.text.strip():
                res.bad_rows.append(BadRow(i, f"response {j} is empty"))
            elif not well_formed(s.text):
                res.bad_rows.append(BadRow(i, f"response {j} has unbalanced or out-of-order tags"))
            else:
                col.add(q, variant, s, row_model)
                used = True
        if used:
            res.imported_rows += 1
            layouts[layout] += 1
    res.layout = describe_layout(layouts)
    tables = _tables(col, task, res)
    res.questions, res.rollouts, res.reflections = (tables[t].height for t in ("questions", "rollouts", "reflections"))
    return tables, res


def _tables(col: _Collector, task: str, res: ImportResult) -> dict[str, pl.DataFrame]:
    """Grade with the grade stage's code (or keep the published flag), then judge reflections."""
    from sfdata.grade import grade_frame
    from sfdata.reflect import parse_verdict
    from sfdata.store import stable_id
    from sfdata.store.schemas import GRADES

    if not col.rollouts:
        return {t: pl.DataFrame() for t in ("questions", "rollouts", "grades", "reflections")}
    rollouts = pl.DataFrame(col.rollouts)
    questions = pl.DataFrame(list(col.questions.values()))
    if task in GRADED_TASKS:
        grades = grade_frame(rollouts, questions)
    else:
        grades = pl.DataFrame(
            [
                {
                    "rollout_id": r["rollout_id"],
                    "question_id": r["question_id"],
                    "extracted_answer": _extract(r["response"]),
                    "is_correct": bool(col.flags[r["rollout_id"]]),
                    "reason": "correct" if col.flags[r["rollout_id"]] else "wrong_answer",
                    "grader": PUBLISHED_GRADER,
                }
                for r in col.rollouts
            ],
            schema=GRADES,
        )
    ok = dict(grades.select("rollout_id", "is_correct").iter_rows())
    res.grade_disagreements = sum(1 for rid, f in col.flags.items() if f is not None and f != ok[rid])
    refl = []
    # an imported reflection's id is keyed by its response and its text (the n-th copy of one text gets
    # n), never by its position: the same rows with their reflections in another order add nothing
    copies: Counter = Counter()
    for rid, qid, k, text, given, model in col.pending:
        verdict = parse_verdict(text)
        copies[(rid, text)] += 1
        refl.append(
            {
                "reflection_id": given or stable_id("import-refl", rid, text, copies[(rid, text)] - 1),
                "rollout_id": rid,
                "question_id": qid,
                "reflection_idx": k,
                "prompt": "",
                "text": text,
                "verdict": verdict,
                "rollout_is_correct": ok[rid],
                "is_valid": verdict is not None and (verdict == "Correct") == ok[rid],
                "model": model,  # the sampling model verified its own answer (the row's `model`, else the source's)
                "created_at": col.now,
            }
        )
    return {
        "questions": questions,
        "rollouts": rollouts,
        "grades": grades,
        "reflections": pl.DataFrame(refl) if refl else pl.DataFrame(),
    }


def _extract(text: str) -> str | None:
    from sfdata.tasks.base import extract_answer

    return extract_answer(text)


def source_label(source: str | Path) -> str:
    """A stable name for where data came from: the Hub id, or the resolved local path."""
    p = Path(str(source)).expanduser()
    return str(p.resolve()) if p.exists() else str(source)


def source_model(source: str | Path) -> str:
    """Who sampled a raw set, for rows without a `model` column: the model its published name carries
    (`RAW_DATA-<task>-<model>`), else an explicit `imported:<Hub id or resolved path>` (never a bare file
    name such as a shard's `train-00000`)."""
    p = Path(str(source).rstrip("/"))
    name = p.stem if p.exists() else str(source).rstrip("/").split("/")[-1]
    m = re.match(r"RAW_DATA-[^-]+-(.+)$", name)
    return m.group(1) if m else f"imported:{source_label(source)}"


@dataclass
class ImportConfig:
    """What `sf import` (and `sf pull` of a raw set) reads: the source and how to read it."""

    source: str
    task: str = "countdown"
    model: str | None = None  # label of the imported rollouts (default: read from the source's name)
    config: str | None = None
    split: str = "train"


def import_raw(
    source: str | Path,
    run_dir: str | Path,
    task: str = "countdown",
    model: str | None = None,
    config: str | None = None,
    split: str = "train",
) -> ImportResult:
    """Import a raw dataset into a run directory (new or existing) as the `import` stage run; ids are
    keyed by content, so a reimport (under any spelling of the path) adds nothing."""
    from sfdata.stage_runtime import HUB_STAGES, run_stage
    from sfdata.store import RunDir

    label = source_label(source)
    cfg = ImportConfig(label, task, model, config, split)
    prepared = read_import(cfg)  # a bad source fails here, before the run is created
    run = RunDir(run_dir)
    run.init(None if run.exists() else {"import": {"source": label, "task": task, "config": config, "split": split}})
    # the source lies outside the run, so the stage always runs; what the run has already is skipped by id
    run_stage(run, HUB_STAGES["import"], cfg, force=True, prepared=prepared)
    return prepared[1]


def read_import(cfg: ImportConfig) -> tuple[dict[str, pl.DataFrame], ImportResult]:
    """The source's rows as our tables (graded by our grader) and the import report."""
    from sfdata.hub.card import card_configs

    source, config = cfg.source, cfg.config
    if config is None and Path(str(source)).is_dir() and "raw" in card_configs(source):
        config = "raw"  # a pushed dataset folder: its raw config, not the first (SFT) one
    df = read_source(source, config, cfg.split)
    return import_frame(df, task=cfg.task, model=cfg.model or source_model(source), source=cfg.source)


def import_stage(
    run, cfg: ImportConfig, prepared: tuple[dict[str, pl.DataFrame], ImportResult] | None = None
) -> dict[str, Any]:
    """Writes `questions`, `rollouts`, `grades` (our grader), `reflections` and RUN/import_report.parquet."""
    from sfdata.store.parquet import write_parquet_atomic

    tables, res = prepared if prepared is not None else read_import(cfg)
    merge_tables(run, tables)
    report = pl.DataFrame(
        {"row": [b.row for b in res.bad_rows], "reason": [b.reason for b in res.bad_rows]},
        schema={"row": pl.Int64, "reason": pl.String},
    )
    write_parquet_atomic(report, run.path / "import_report.parquet")
    return {"imported_from": cfg.source, **res.summary()}


def merge_tables(run, tables: dict[str, pl.DataFrame]) -> None:
    """Add imported rows whose ids the run does not have yet (single tables merged, parts appended)."""
    from sfdata.store.parquet import conform
    from sfdata.store.schemas import TABLES, schema_of

    for name in ("questions", "grades"):
        new = tables[name]
        if new.height == 0:
            continue
        id_col = TABLES[name][1]
        merged = pl.concat(
            [run.read(name), conform(fill_missing(new, schema_of(name)), schema_of(name), name)], how="vertical"
        )
        run.write(name, merged.unique(subset=[id_col], keep="first", maintain_order=True))
    for name in ("rollouts", "reflections"):
        new = tables[name]
        if new.height == 0:
            continue
        id_col = TABLES[name][1]
        have = run.ids(name)
        new = new.unique(subset=[id_col], keep="first", maintain_order=True)
        new = new.filter(~pl.col(id_col).is_in(list(have))) if have else new
        if new.height:
            run.append(name, fill_missing(new, schema_of(name)))


def fill_missing(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Add absent optional columns as typed nulls (imported data lacks e.g. sampling params)."""
    return df.with_columns([pl.lit(None, dtype=t).alias(c) for c, t in schema.items() if c not in df.columns])


def export_raw(run_dir: str | Path) -> pl.DataFrame:
    """Our run -> the official raw layout: one row per rollout, single-element lists, and every
    reflection of that rollout (in reflection_idx order). Our ids ride along so a reimport
    gives back the same rows."""
    from sfdata.store import RunDir

    run = RunDir(run_dir)
    q = run.read("questions").select(
        "question_id",
        "question",
        "answer",
        "level",
        pl.col("data").alias("question_data"),
        pl.col("seed").alias("question_seed"),
        "split",
    )
    from sfdata.hub.export import without_null_ids

    r = run.read("rollouts").select("rollout_id", "question_id", "variant", "sample_idx", "response", "model")
    r = without_null_ids(r, "rollout_id", run.path / "rollouts")
    g = run.read("grades").select("rollout_id", "is_correct", "extracted_answer")
    refl = (
        without_null_ids(run.read("reflections"), "reflection_id", run.path / "reflections")
        .sort("rollout_id", "reflection_idx")
        .group_by("rollout_id", maintain_order=True)
        .agg(pl.col("text").alias("_refl"), pl.col("reflection_id").alias("reflection_ids"))
    )
    rows = (
        r.join(g, on="rollout_id", how="left")
        .join(refl, on="rollout_id", how="left")
        .join(q, on="question_id", how="left")
        .sort("question_id", "variant", "sample_idx")
    )
    empty = pl.lit([], dtype=pl.List(pl.String))
    return rows.select(
        "question",
        "answer",
        pl.col("variant").alias("prompt_variant"),
        pl.concat_list(pl.col("response")).alias(RESP),
        pl.concat_list(pl.col("is_correct").fill_null(False)).alias(f"{RESP}__eval_is_correct"),
        pl.concat_list(pl.col("extracted_answer").fill_null("")).alias(f"{RESP}__eval_extracted_answers"),
        pl.col("_refl").fill_null(empty).alias(f"{RESP}_reflection"),
        "question_id",
        "question_data",
        "level",
        "question_seed",
        "split",
        "rollout_id",
        "sample_idx",
        "model",
        pl.col("reflection_ids").fill_null(empty),
    )
