"""The published raw sampling schema (`SkillFactory/RAW_DATA-*`): validate, import, export.

One raw row is one (question, prompt variant) with aligned lists of responses, grades,
extracted answers and reflections. Importing turns it into our run tables (questions,
rollouts, grades, reflections) so the factory, queries and TUI work on published data too.
Bad rows are reported by row index with a reason and skipped; nothing else is lost.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

RESP = "model_responses__mutated_prompts"
RAW_COLUMNS: dict[str, str] = {
    "question": "str",
    "answer": "str or int",
    "prompt_variant": "str",
    RESP: "list[str]",
    f"{RESP}__eval_is_correct": "list[bool]",
    f"{RESP}__eval_extracted_answers": "list[str]",
    f"{RESP}_reflection": "list[str] (or list[list[str]])",
}
REQUIRED = ("question", "answer", RESP)
_NUMS_RE = re.compile(r"\[([0-9,\s]+)\]")


class RawSchemaError(ValueError):
    """The input is not in the published raw schema (missing columns or wrong types)."""


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
    bad_rows: list[BadRow] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "imported_rows": self.imported_rows,
            "bad_rows": len(self.bad_rows),
            "questions": self.questions,
            "rollouts": self.rollouts,
            "reflections": self.reflections,
            "grade_disagreements": self.grade_disagreements,
        }


def read_source(source: str | Path, config: str | None = None, split: str = "train") -> pl.DataFrame:
    """A local Parquet/JSON/JSONL file or folder, or a Hub dataset id, as a Polars frame."""
    p = Path(source)
    if p.is_file():
        return read_file(p)
    if p.is_dir():
        files = sorted(p.rglob("*.parquet"))
        if config:
            files = [f for f in files if config in f.parts] or files
        if not files:
            raise FileNotFoundError(f"no Parquet files under {p}")
        return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
    return load_hub_frame(str(source), config, split)


def read_file(p: Path) -> pl.DataFrame:
    """One local Parquet, JSON or JSON Lines file (a .json holding JSON Lines is read too)."""
    if p.suffix == ".parquet":
        return pl.read_parquet(p)
    if p.suffix == ".jsonl":
        return pl.read_ndjson(p)
    if p.suffix == ".json":
        try:
            return pl.read_json(p)
        except Exception:
            return pl.read_ndjson(p)
    raise ValueError(f"{p}: unsupported file type {p.suffix!r} (use .parquet, .json or .jsonl)")


def load_hub_frame(repo_id: str, config: str | None, split: str) -> pl.DataFrame:
    import datasets

    try:
        try:
            ds = datasets.load_dataset(repo_id, config, split=split)
        except ValueError:
            if config is None:
                raise
            ds = datasets.load_dataset(repo_id, split=split)
    except Exception as e:  # offline, missing, private
        raise FileNotFoundError(
            f"cannot load {repo_id!r} from the Hugging Face Hub ({type(e).__name__}: {e}). "
            "Check the name, your network and HF_TOKEN, or pass a local .parquet/.jsonl file."
        ) from e
    return pl.from_arrow(ds.data.table)


def validate_columns(df: pl.DataFrame) -> None:
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        expected = "\n".join(f"  {k}: {v}" for k, v in RAW_COLUMNS.items())
        raise RawSchemaError(
            f"not the published raw schema: missing column(s) {missing}; have {sorted(df.columns)}.\n"
            f"Expected columns:\n{expected}"
        )
    dtype = df.schema[RESP]
    if not isinstance(dtype, pl.List) and dtype != pl.Null:
        raise RawSchemaError(f"column {RESP!r} must be a list of strings, got {dtype}")


def _countdown_question(text: str, answer: Any, row: dict[str, Any]) -> tuple[list[int], int]:
    nums = row.get("nums") or row.get("numbers")
    if nums is None:
        m = _NUMS_RE.search(text)
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


def _as_list(v: Any) -> list | None:
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return list(v)
    if hasattr(v, "to_list"):
        return v.to_list()
    return None


def import_frame(
    df: pl.DataFrame, task: str = "countdown", model: str = "imported", source: str = ""
) -> tuple[dict[str, pl.DataFrame], ImportResult]:
    """Raw rows -> our tables. Rows that cannot be used are reported, never fatal."""
    from sfdata.reflect import parse_verdict
    from sfdata.skills import well_formed
    from sfdata.store import stable_id
    from sfdata.store.run import now_utc
    from sfdata.tasks import get_task
    from sfdata.tasks.base import GradeReason, Question, extract_answer

    validate_columns(df)
    the_task = get_task(task)
    res = ImportResult(rows=df.height)
    questions: dict[str, dict] = {}
    rollouts: list[dict] = []
    grades: list[dict] = []
    reflections: list[dict] = []
    now = now_utc()
    variant_counter: dict[tuple[str, str], int] = {}

    for i, row in enumerate(df.iter_rows(named=True)):
        qtext, answer = row.get("question"), row.get("answer")
        if not isinstance(qtext, str) or not qtext.strip():
            res.bad_rows.append(BadRow(i, "empty or non-text question"))
            continue
        if answer is None or str(answer).strip() == "":
            res.bad_rows.append(BadRow(i, "missing answer"))
            continue
        responses = _as_list(row.get(RESP))
        if responses is None:
            res.bad_rows.append(BadRow(i, f"{RESP} is not a list"))
            continue
        flags = _as_list(row.get(f"{RESP}__eval_is_correct"))
        refls = _as_list(row.get(f"{RESP}_reflection"))
        if flags is not None and len(flags) != len(responses):
            res.bad_rows.append(BadRow(i, f"{len(flags)} eval_is_correct flags for {len(responses)} responses"))
            continue
        if refls is not None and len(refls) not in (0, len(responses)):
            res.bad_rows.append(BadRow(i, f"{len(refls)} reflections for {len(responses)} responses"))
            continue
        if task == "countdown":
            try:
                nums, target = _countdown_question(qtext, answer, row)
            except (ValueError, TypeError) as e:
                res.bad_rows.append(BadRow(i, f"cannot read the countdown question: {e}"))
                continue
            q = Question("countdown", qtext, str(target), len(nums), {"numbers": nums, "target": target}, 0, "train")
        else:
            q = Question(task, qtext, str(answer).strip(), 0, {"answer": str(answer).strip()}, 0, "train")
        variant = str(row.get("prompt_variant") or "original")
        questions.setdefault(q.question_id, q.to_row())
        base = variant_counter.get((q.question_id, variant), 0)  # duplicate (question, variant) rows append
        used_row = False
        for j, text in enumerate(responses):
            if not isinstance(text, str) or not text.strip():
                res.bad_rows.append(BadRow(i, f"response {j} is empty"))
                continue
            if not well_formed(text):
                res.bad_rows.append(BadRow(i, f"response {j} has unbalanced or out-of-order tags"))
                continue
            used_row = True
            idx = base + j
            rid = stable_id("import", source, q.question_id, variant, idx, text)
            rollouts.append(
                {
                    "rollout_id": rid,
                    "question_id": q.question_id,
                    "task": q.task,
                    "variant": variant,
                    "sample_idx": idx,
                    "prompt": qtext,
                    "response": text,
                    "model": model,
                    "engine": "import",
                    "created_at": now,
                }
            )
            extracted = extract_answer(text)
            if task == "countdown" or task in ("multiplication",):
                g = the_task.grade(q, extracted) if extracted is not None else None
                ok = g is not None and g.is_correct
                reason = g.reason.value if g is not None else GradeReason.NO_ANSWER.value
            else:
                ok = bool(flags[j]) if flags is not None and flags[j] is not None else False
                reason = "correct" if ok else "wrong_value"
            if flags is not None and flags[j] is not None and bool(flags[j]) != ok:
                res.grade_disagreements += 1
            grades.append(
                {
                    "rollout_id": rid,
                    "question_id": q.question_id,
                    "extracted_answer": extracted,
                    "is_correct": ok,
                    "reason": reason,
                    "grader": f"{the_task.name}/{getattr(the_task, 'grader_version', '1')}",
                }
            )
            r_for = refls[j] if refls else None
            r_list = r_for if isinstance(r_for, (list, tuple)) else ([r_for] if r_for else [])
            for k, rtext in enumerate(r_list):
                if not isinstance(rtext, str) or not rtext.strip():
                    continue
                verdict = parse_verdict(rtext)
                reflections.append(
                    {
                        "reflection_id": stable_id("import-refl", rid, k, rtext),
                        "rollout_id": rid,
                        "question_id": q.question_id,
                        "reflection_idx": k,
                        "prompt": "",
                        "text": rtext,
                        "verdict": verdict,
                        "rollout_is_correct": ok,
                        "is_valid": verdict is not None and (verdict == "Correct") == ok,
                        "model": model,
                        "created_at": now,
                    }
                )
        variant_counter[(q.question_id, variant)] = base + len(responses)
        if used_row:
            res.imported_rows += 1
    res.questions, res.rollouts, res.reflections = len(questions), len(rollouts), len(reflections)
    tables = {
        "questions": pl.DataFrame(list(questions.values())) if questions else pl.DataFrame(),
        "rollouts": pl.DataFrame(rollouts) if rollouts else pl.DataFrame(),
        "grades": pl.DataFrame(grades) if grades else pl.DataFrame(),
        "reflections": pl.DataFrame(reflections) if reflections else pl.DataFrame(),
    }
    return tables, res


def import_raw(
    source: str | Path,
    run_dir: str | Path,
    task: str = "countdown",
    model: str | None = None,
    config: str | None = None,
    split: str = "train",
) -> ImportResult:
    """Import a raw dataset into a run directory (new or existing); ids are stable so reimport is a no-op."""
    from sfdata.store import RunDir
    from sfdata.store.parquet import conform, write_parquet_atomic
    from sfdata.store.schemas import schema_of

    df = read_source(source, config, split)
    tables, res = import_frame(df, task=task, model=model or str(source), source=str(source))
    run = RunDir(run_dir)
    run.init(
        None if run.exists() else {"import": {"source": str(source), "task": task, "config": config, "split": split}}
    )
    for name in ("questions", "grades"):
        new = tables[name]
        if new.height == 0:
            continue
        old = run.read(name)
        id_col = "question_id" if name == "questions" else "rollout_id"
        merged = pl.concat([old, conform(fill_missing(new, schema_of(name)), schema_of(name), name)], how="vertical")
        run.write(name, merged.unique(subset=[id_col], keep="first", maintain_order=True))
    for name in ("rollouts", "reflections"):
        new = tables[name]
        if new.height == 0:
            continue
        id_col = "rollout_id" if name == "rollouts" else "reflection_id"
        have = run.ids(name)
        new = new.filter(~pl.col(id_col).is_in(list(have))) if have else new
        run.append(name, fill_missing(new, schema_of(name)))
    report = pl.DataFrame(
        {"row": [b.row for b in res.bad_rows], "reason": [b.reason for b in res.bad_rows]},
        schema={"row": pl.Int64, "reason": pl.String},
    )
    write_parquet_atomic(report, run.path / "import_report.parquet")
    for stage in ("questions", "generate", "grade", "reflect"):
        run.set_stage(stage, "done", imported_from=str(source))
    return res


def fill_missing(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Add absent optional columns as typed nulls (imported data lacks e.g. sampling params)."""
    return df.with_columns([pl.lit(None, dtype=t).alias(c) for c, t in schema.items() if c not in df.columns])


def export_raw(run_dir: str | Path) -> pl.DataFrame:
    """Our run -> the published raw schema (one row per question x variant)."""
    from sfdata.store import RunDir

    run = RunDir(run_dir)
    q = run.read("questions").select("question_id", "question", "answer")
    r = run.read("rollouts").select("rollout_id", "question_id", "variant", "sample_idx", "response")
    g = run.read("grades").select("rollout_id", "is_correct", "extracted_answer")
    refl = run.read("reflections")
    refl = (
        refl.sort("reflection_idx").group_by("rollout_id", maintain_order=True).agg(pl.col("text").first())
        if refl.height
        else pl.DataFrame(schema={"rollout_id": pl.String, "text": pl.String})
    )
    rows = (
        r.join(g, on="rollout_id", how="left")
        .join(refl, on="rollout_id", how="left")
        .sort("question_id", "variant", "sample_idx")
        .group_by("question_id", "variant", maintain_order=True)
        .agg(
            pl.col("response").alias(RESP),
            pl.col("is_correct").fill_null(False).alias(f"{RESP}__eval_is_correct"),
            pl.col("extracted_answer").fill_null("").alias(f"{RESP}__eval_extracted_answers"),
            pl.col("text").fill_null("").alias(f"{RESP}_reflection"),
        )
    )
    out = rows.join(q, on="question_id", how="left").rename({"variant": "prompt_variant"})
    return out.select(
        "question", "answer", "prompt_variant", *[c for c in RAW_COLUMNS if c.startswith(RESP)], "question_id"
    )


def write_json_report(res: ImportResult, path: Path) -> None:
    path.write_text(json.dumps({**res.summary(), "bad": [str(b) for b in res.bad_rows]}, indent=2), encoding="utf-8")
