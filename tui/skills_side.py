"""The skill columns of a run's traces when the run has no (or a stale) skills table.

After a bare `sf build` the run has traces but no `skills` table, so `verdict_acc` and the cue
counts would be blank and a filter like `verdict_acc < 1` would match nothing. The inspector
never writes the run's tables (they may be read-only or being rewritten by another command):
it runs the same detector as `sf skills` (`sfdata.skills.skills_frame`) over the traces and
keeps the result in a side file, `RUN/.index/skills-KEY.arrow`, keyed like the search index by
the identity of the trace and question files (`search_index.signature`) and rebuilt when they
change. Written atomically; when it cannot be written (read-only run, full disk) the table is
kept in memory for this session and the reason is reported.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.search_index import SearchIndexError, _read_mapped, signature, write_side

#: above this many traces the detector (Python, per trace) is not run on open: the columns show n/a
MAX_DETECT = 200_000
SIDE_VERSION = 2  # 2: per-class verdict counts (n_verdict_tp/fp/tn/fn) for verdict_acc
#: the skill columns the inspector shows, as stored (verdict_acc is derived from them)
SKILL_COLUMNS: tuple[str, ...] = (
    "n_reflections",
    "n_verdicts",
    "n_verdict_right",
    "n_verdict_tp",
    "n_verdict_fp",
    "n_verdict_tn",
    "n_verdict_fn",
    "cue_wait",
    "cue_verify",
    "cue_alternatively",
    "cue_check",
    "malformed",
)


@dataclass
class SkillsSide:
    """What the store joins as `sk`: a table (Arrow) or None, and a one-line note when something is missing."""

    table: Any | None
    note: str = ""  # shown on screen: why a column is n/a, or why the side file is in memory only
    path: Path | None = None
    saved: bool = False


def side_file(run_path: Path, trace_files: list[Path]) -> Path:
    """RUN/.index/skills-vN-KEY.arrow, KEY = the trace files' paths (one file per file set); N = the layout of
    SKILL_COLUMNS, so a side table written before a column was added is never read."""
    key = hashlib.sha1("\n".join(sorted(str(Path(p).resolve()) for p in trace_files)).encode()).hexdigest()[:12]
    return Path(run_path) / ".index" / f"skills-v{SIDE_VERSION}-{key}.arrow"


def detect_skills(con: Any, trace_view: str, questions_view: str = "questions") -> Any:
    """Skill counts of every trace of `trace_view` (id, SKILL_COLUMNS), from the `sf skills` detector."""
    import pyarrow as pa

    from sfdata.skills import skills_frame
    from sfdata.tasks import Question

    qs = {}
    for row in con.sql(f"SELECT * FROM {questions_view}").pl().iter_rows(named=True):
        try:
            qs[row["question_id"]] = Question.from_row(row)
        except (KeyError, TypeError, ValueError):
            continue  # a question the task cannot read: its traces get no verdict_acc
    frames = []
    reader = con.sql(f"SELECT trace_id, trace, question_id FROM {trace_view}").to_arrow_reader(4096)
    for batch in reader:
        rows = list(zip(*(batch.column(i).to_pylist() for i in range(3)), strict=True))
        frames.append(skills_frame(rows, "trace", qs).select("id", *SKILL_COLUMNS).to_arrow())
    if not frames:
        return skills_frame([], "trace", qs).select("id", *SKILL_COLUMNS).to_arrow()
    return pa.concat_tables(frames)


def load_or_build(con: Any, run_path: Path, trace_files: list[Path], other_files: list[Path], rows: int) -> SkillsSide:
    """The side table of the traces in view `_sk_todo` (`rows` of them): read when fresh (keyed by the trace
    files and `other_files`: questions, the run's partial skills table), else computed and saved (in memory
    only when it cannot be)."""
    if rows > MAX_DETECT:
        return SkillsSide(None, f"skill columns n/a: {rows:,} traces not in the skills table (run `sf skills`)")
    path = side_file(run_path, trace_files)
    try:
        sig = signature([*trace_files, *other_files])
    except OSError as e:
        return SkillsSide(None, f"skill columns n/a: a trace file changed while opening ({e.strerror})")
    try:
        got = _read_mapped(path, sig)
    except SearchIndexError as e:
        warnings.warn(f"skills side table ignored, it is rebuilt: {e}", stacklevel=2)
        got = None
    if got is not None and got[0].num_rows == rows:
        return SkillsSide(got[0], "", path, True)
    table = detect_skills(con, "_sk_todo")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_side(table, path, sig)
    except OSError as e:
        why = e.strerror or type(e).__name__
        return SkillsSide(table, f"skill columns computed in memory only ({path.parent} not writable: {why})", path)
    return SkillsSide(table, "", path, True)
