"""The inspector's data side: DuckDB over a run's Parquet, filters -> SQL, pages, labels.

Nothing here imports Textual, so it is tested and benchmarked on its own. Pages are fetched
with LIMIT/OFFSET over a view, so opening a 1M-trace run costs one COUNT and one page. Once the
run's search index exists (`tui.search_index`: narrow columns, lengths and lowercased text, built
once), sorts, filters and full-text search run over it instead of decompressing every trace.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from sfdata.skill_metrics import METRICS as _SKILL_METRICS
from sfdata.store.parquet import wrong_column_types
from tui.open_checks import OpenChecks, checks_path
from tui.search_index import BIG, SearchIndex, SearchIndexError, build_index, index_path, open_index, signature
from tui.tags import cue_patterns


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


PAGE_SIZE = 200
#: characters of a text cell fetched for the table (a 20 MB answer never comes into a page)
CELL_CHARS = 2_000
#: characters of a trace (and its prompt) fetched for the trace view; the rest is named, not loaded
TRACE_CHARS = 200_000
_TEXT_COLUMNS = ("trace_id", "format", "final_answer", "label", "question")


def _cell(c: str) -> str:
    """A listing column as the page selects it: text cut to CELL_CHARS in DuckDB, before it is fetched."""
    return f'left("{c}", {CELL_CHARS}) AS "{c}"' if c in _TEXT_COLUMNS else f'"{c}"'


#: columns of the table, in display order; each is a column of the view `t` (the SQL name is shown)
COLUMNS: tuple[str, ...] = (
    "label",
    "trace_id",
    "format",
    "n_samples",
    "is_correct",
    "n_retries",
    "verdict_acc",
    "length",
    "final_answer",
    "question",
)
#: skills from the traces table (the cues come from `tui.tags`, the same regexes `sf skills` counts)
_STRUCTURE: dict[str, str] = {
    "reflect": "len(list_filter(reflection_ids, lambda x: x <> '')) > 0",
    "retry": "n_retries > 0",
    "backtrack": "n_backtracks > 0",
    "confirm": "n_confirms > 0",
    "multi": "n_samples > 1",
}
SKILLS: dict[str, str] = {
    **_STRUCTURE,
    **{name: f"regexp_matches(trace, '(?i)' || {_sql_str(rx)})" for name, rx in cue_patterns().items()},
}


class LabelsError(ValueError):
    """Labels cannot be saved (the labels file is unreadable); the message is meant for the screen."""


class FilterError(ValueError):
    """A filter the user typed is not valid (bad SQL, unknown skill) or failed while it ran."""


class QueryCancelled(RuntimeError):
    """The query was interrupted (the user cancelled it, or a newer query replaced it)."""


#: control characters -> visible stand-ins (C0 as their Unicode "control pictures", ESC as ␛, C1 as �), so
#: an escape sequence inside a trace, answer or id is shown as text and never reaches the terminal
_VISIBLE = {
    **{c: 0x2400 + c for c in range(0x20) if c not in (0x09, 0x0A)},
    0x7F: 0x2421,
    **dict.fromkeys(range(0x80, 0xA0), 0xFFFD),
}


def visible(value: Any) -> Any:
    """A value as the screen may show it: strings (also inside lists and dicts) with control characters made
    visible; everything else as it is. Applied to every row the store hands to the app."""
    if isinstance(value, str):
        return value.translate(_VISIBLE)
    if isinstance(value, list):
        return [visible(v) for v in value]
    if isinstance(value, dict):
        return {k: visible(v) for k, v in value.items()}
    return value


def _visible_frame(df: pl.DataFrame) -> pl.DataFrame:
    strings = [c for c, t in df.schema.items() if t == pl.String]
    if not strings or df.height == 0:
        return df
    return df.with_columns(pl.col(c).map_elements(visible, return_dtype=pl.String) for c in strings)


def one_line(message: str, limit: int = 600) -> str:
    """A DuckDB message as one screen line: its lines joined (the `LINE 1:` echo of the query and its caret
    dropped, the candidate columns kept), capped."""
    keep = [
        ln.strip()
        for ln in message.strip().splitlines()
        if ln.strip() and not re.match(r"\s*LINE \d+:", ln) and set(ln.strip()) != {"^"}
    ]
    text = " ".join(keep) or "error"
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Filters:
    format: str | None = None
    correct: bool | None = None
    label: str | None = None  # keep | drop | none
    skills: tuple[str, ...] = ()  # "backtrack" present, "!retry" absent
    search: str = ""
    where: str = ""  # raw SQL boolean expression over the traces columns
    question_id: str | None = None  # all traces of one question

    def with_(self, **kw: Any) -> Filters:
        return replace(self, **kw)

    def sql(self, lowered: str = "lower(trace)") -> tuple[str, list[Any]]:
        """WHERE clause (or "") and its parameters. User text goes in parameters, never in SQL.

        `lowered`: the SQL for the lowercased trace text (the index's precomputed `_lower` column).
        """
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
        if self.question_id:
            parts.append("question_id = ?")
            params.append(self.question_id)
        if self.search:
            parts.append(f"contains({lowered}, lower(?))")
            params.append(self.search)
        if self.where.strip():
            parts.append(f"({where_expression(self.where)})")
        return (" WHERE " + " AND ".join(parts)) if parts else "", params


def _scan_expression(text: str) -> None:
    """Parentheses balanced outside quotes and never closed below zero; no ';' and no comments."""
    depth, quote, i = 0, "", 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                if text[i + 1 : i + 2] == quote:  # doubled quote inside a literal
                    i += 1
                else:
                    quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise FilterError("the WHERE box takes one boolean expression: a ')' closes a '(' it did not open")
        elif c == ";":
            raise FilterError("the WHERE box takes one boolean expression (no ';' or second statement)")
        elif text[i : i + 2] in ("--", "/*"):
            raise FilterError("the WHERE box takes one boolean expression (no SQL comments)")
        i += 1
    if quote:
        raise FilterError(f"unclosed {quote} in the WHERE box")
    if depth:
        raise FilterError("the WHERE box takes one boolean expression: a '(' is never closed")


def where_expression(text: str) -> str:
    """The WHERE box's text, checked to be ONE boolean expression that cannot break out of its parentheses.

    A scan rejects unbalanced parentheses, ';' and comments; DuckDB's own parser then must read
    `SELECT 1 FROM t WHERE NOT (text)` as one SELECT whose condition is that NOT: any text that
    closes the parenthesis and adds `OR ...` would put the OR on top instead.
    """

    import duckdb

    text = text.strip()
    _scan_expression(text)
    con = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        tree = json.loads(
            con.sql("SELECT json_serialize_sql(?)", params=[f"SELECT 1 FROM t WHERE NOT ({text})"]).fetchall()[0][0]
        )
    finally:
        con.close()
    if tree.get("error"):
        raise FilterError(f"WHERE: {tree.get('error_message', 'syntax error')}")
    statements = tree.get("statements") or []
    where = statements[0]["node"].get("where_clause") if len(statements) == 1 else None
    if not where or where.get("type") != "OPERATOR_NOT":
        raise FilterError("the WHERE box takes one boolean expression (it cannot close its parentheses)")
    return text


def parse_skills(text: str) -> tuple[str, ...]:
    return tuple(t for t in re.split(r"[,\s]+", text.strip()) if t)


@dataclass
class Page:
    rows: list[dict[str, Any]]
    offset: int
    total: int


@dataclass
class Stats:
    """What the current selection teaches: mix, correctness, verifier quality, skills, lengths."""

    total: int
    formats: list[tuple[str, int]]
    correct_rate: float | None
    verdict_acc: float | None  # verdicts that match the real grade / all verdicts (skills table)
    skills: dict[str, tuple[int, int] | None]  # name -> (occurrences, traces with at least one); None: n/a
    labels: dict[str, int]  # keep / drop / unlabeled
    length_hist: list[tuple[int, int, int]]  # (lo, hi, count), equal-width bins over trace length
    has_skills_table: bool  # the skill columns exist (the run's skills table or the detector's side table)
    skills_note: str = ""  # why they are n/a (or only in memory), shown under the skills


#: skill counts summed by the statistics pane: from the traces table, then from the skills table (sf skills)
_TRACE_SKILLS = {"samples": "n_samples", "retries": "n_retries", "backtracks": "n_backtracks", "confirms": "n_confirms"}
_SKILLS_TABLE = {
    "reflections": "n_reflections",
    "cue wait": "cue_wait",
    "cue verify": "cue_verify",
    "cue alternatively": "cue_alternatively",
    "cue check": "cue_check",
}

#: traces + labels: the cheap view, used when a filter and sort name no joined-only column
_VIEW_TL = """CREATE OR REPLACE VIEW tl AS
SELECT tr.*, length(tr.trace) AS length, l.label, l.note FROM traces_pos tr LEFT JOIN labels l USING (trace_id)"""
#: columns only the full view `t` has (question text, skills table); the page looks them up by id otherwise
_JOINED = (
    "question",
    "verdict_acc",
    "n_reflections",
    "n_verdicts",
    "n_verdict_right",
    "cue_wait",
    "cue_verify",
    "cue_alternatively",
    "cue_check",
    "malformed",
)
_JOINED_RE = re.compile(r"\b(" + "|".join(_JOINED) + r")\b", re.I)
#: a filter that names a column the index lacks (or picks columns by pattern) runs over the Parquet views
_BIG_RE = re.compile(r"\b(" + "|".join(BIG) + r")\b|\bcolumns\s*\(", re.I)
_LABEL_RE = re.compile(r"\b(label|note)\b", re.I)
_QUESTION_RE = re.compile(r"\bquestion\b", re.I)
_SKILL_RE = re.compile(r"\b(" + "|".join(c for c in _JOINED if c != "question") + r")\b", re.I)
#: verdict_acc is the skills metric `verdict_accuracy` (defined once in sfdata/skill_metrics.py)
_VERDICT_ACC = _SKILL_METRICS["verdict_accuracy"]
_SKILL_COLS = f"""{_VERDICT_ACC.row_sql("s")} AS verdict_acc,
       s.n_reflections, s.n_verdicts, s.n_verdict_right, s.cue_wait, s.cue_verify, s.cue_alternatively,
       s.cue_check, s.malformed"""


def _fast_view_sql(name: str, positional: bool = False) -> str:
    """The index's counterpart of `tl`/`t` (no long columns, plus `_lower` and `_row`) with only the joins
    its name asks for: l(abels), q(uestions), s(kills). `fi` is the index alone: no join, so LIMIT stops
    early and rows keep the file order; a 1M-row join with the skills table is paid only when needed."""
    cols, joins = ["i.*"], []
    if "l" in name[1:]:
        cols.append("l.label, l.note")
        joins.append("LEFT JOIN labels l USING (trace_id)")
    if "q" in name[1:]:
        cols.append("q.question")
        joins.append("LEFT JOIN questions q ON q.question_id = i.question_id")
    if "s" in name[1:] and positional:  # `_sk`: the skills columns already lined up with the index rows
        cols.append("s.*")
        joins.append("POSITIONAL JOIN _sk s")
    elif "s" in name[1:]:
        cols.append(_SKILL_COLS)
        joins.append("LEFT JOIN sk s ON s.id = i.trace_id")
    return f"CREATE OR REPLACE VIEW {name} AS SELECT {', '.join(cols)} FROM _idx i {' '.join(joins)}"


def _fast_view(labels: bool, question: bool, skills: bool) -> str:
    name = "f" + "l" * labels + "q" * question + "s" * skills
    return "fi" if name == "f" else name


_FAST_VIEWS = [_fast_view(a, b, c) for a in (False, True) for b in (False, True) for c in (False, True)]
_VIEW_T = f"""CREATE OR REPLACE VIEW t AS
SELECT tr.*, length(tr.trace) AS length, q.question, l.label, l.note,
       {_VERDICT_ACC.row_sql("s")} AS verdict_acc,
       s.n_reflections, s.n_verdicts, s.n_verdict_right, s.cue_wait, s.cue_verify, s.cue_alternatively,
       s.cue_check, s.malformed
FROM traces_pos tr
LEFT JOIN labels l USING (trace_id)
LEFT JOIN questions q ON q.question_id = tr.question_id
LEFT JOIN sk s ON s.id = tr.trace_id"""


@dataclass
class TraceStore:
    """DuckDB view `t` = traces + labels + question text + skills; pages, stats, details, labels.

    `traces_files` narrows the traces to some files (`sf inspect RUN/exports/kept.parquet`) while
    grades, reflections and skills still come from the run, so a file's numbers match its run's.
    `labels_path` puts the labels somewhere other than RUN/labels.parquet (next to a single file).
    `use_index=False` never opens the search index (the Parquet-scan path, as before it existed).
    """

    run_path: Path
    traces_files: list[Path] | None = None
    labels_path: Path | None = None
    use_index: bool = True
    con: Any = field(init=False, repr=False)
    labels: dict[str, tuple[str, str]] = field(init=False, default_factory=dict)
    index: SearchIndex | None = field(init=False, default=None)
    index_warning: str | None = field(init=False, default=None)
    _counts: dict[tuple, int] = field(init=False, default_factory=dict, repr=False)
    _formats: list[str] | None = field(init=False, default=None, repr=False)
    #: shared with every fork (copy.copy keeps the dict): "skills_sig", what `_sk` was aligned from
    _state: dict[str, Any] = field(init=False, default_factory=dict, repr=False)
    _shared: dict[str, Any] = field(init=False, default_factory=dict, repr=False)  # Arrow tables of every cursor
    _mine: dict[str, Any] = field(init=False, default_factory=dict, repr=False)  # those registered on `con`
    cancelled: bool = field(init=False, default=False, repr=False)  # set on a fork by QueryWorker.cancel

    def __post_init__(self) -> None:
        from sfdata.store import RunDir
        from sfdata.store.duck import connect, register_view

        self.run = RunDir(self.run_path)
        if not self.run.exists():
            raise FileNotFoundError(f"{self.run_path} is not a run directory")
        extra = [*(self.traces_files or []), *([self.labels_path] if self.labels_path is not None else [])]
        # read-only: reaches no file; the run's Arrow sources are shared with every fork's cursor
        wrong_types: list[tuple[str, Path, str]] = []  # parts connect skipped: each footer is read once
        self.con = connect(
            self.run,
            on_corrupt="skip",
            extra_paths=extra,
            on_register=self._shared.__setitem__,
            wrong_types=wrong_types,
        )
        self._root = self.con  # the connection the views were made on (forks query through cursors of it)
        try:
            self.con.execute("SET enable_progress_bar = false")  # never draw on the app's terminal
        except Exception:  # noqa: BLE001 - a locked configuration: the default stays
            pass
        self.open_warnings: list[str] = []  # one line each, shown once by the app (skipped files, duplicates)
        self.trace_files = self._trace_files(wrong_types)
        self.index_file = index_path(self.run.path, self.traces_files)
        if self.traces_files is not None or len(self.trace_files) != len(self.run.files("traces")):
            register_view(self.con, "traces", self.trace_files, register=self._register)
        if self.labels_path is not None:
            register_view(self.con, "labels", self.label_files(), register=self._register)
        # the traces with their file and row (`_file`, `_pos`): unsorted pages keep the files' order
        register_view(self.con, "traces", self.trace_files, name="traces_pos", positions=True, register=self._register)
        self.duplicates_warning: str | None = None
        self._checks = OpenChecks(checks_path(self.index_file))  # answers of the checks below, by file identity
        self._keep_first_per_id()
        self._open_skills()
        self.con.execute(_VIEW_TL)
        self.con.execute(_VIEW_T)
        self.labels_error: str | None = None  # set when the labels file cannot be read: saving stops
        self.labels = self._read_labels()
        if self.use_index:
            self._open_index()

    def _keep_first_per_id(self) -> None:
        """A trace id held twice (a copied part): the views keep its first row (file order) and the store
        says so once, naming the files; the search index (built from the files as they are) is not used.
        The counting and the view are `sfdata.store.duck`'s (`repeated_ids`, `first_per_id_sql`)."""
        from sfdata.store.duck import first_per_id_sql, repeated_ids

        known = self._checks.get("duplicate_ids", self.trace_files)
        if known == 0:
            return  # these very files were checked before (RUN/.index, keyed by their identity)
        n_dups = self.con.sql("SELECT count(*) - count(DISTINCT trace_id) FROM traces").fetchall()[0][0]
        self._checks.put("duplicate_ids", self.trace_files, n_dups)
        if not n_dups:
            return  # the common case: one pass over the id column only
        n, _, names = repeated_ids(self.con, "traces", "traces_pos", self.trace_files, self.run.path)
        if not n:
            return
        self.duplicates_warning = (
            f"{n:,} trace id(s) appear more than once, in {', '.join(names)}: the first row of each is shown"
        )
        self.open_warnings.append(self.duplicates_warning)
        warnings.warn(self.duplicates_warning, stacklevel=3)
        self.con.execute("ALTER VIEW traces_pos RENAME TO traces_all")
        self.con.execute(
            f"CREATE OR REPLACE VIEW traces_pos AS {first_per_id_sql('traces', 'traces_all', self.trace_files)}"
        )
        self.con.execute("CREATE OR REPLACE VIEW traces AS SELECT * EXCLUDE (_file, _pos) FROM traces_pos")
        self.use_index = False

    # ---- skill columns --------------------------------------------------------------------
    def _open_skills(self) -> None:
        """View `sk` (id + skill columns of each trace): the run's skills table when it covers every trace,
        else the detector's side table (`tui.skills_side`, RUN/.index/), never a write to the run's tables."""
        from tui.skills_side import SKILL_COLUMNS, load_or_build

        cols = ", ".join(["id", *SKILL_COLUMNS])
        self.skills_note = ""
        self.skills_source = "run"
        if self.run.files("skills"):
            files = [*self.trace_files, *self.run.files("skills")]
            known = self._checks.get("skills_coverage", files)
            if isinstance(known, list) and len(known) == 3:
                n, missing, covered = known
            else:
                n, missing, covered = self.con.sql(
                    "SELECT count(*), count(*) FILTER (s.id IS NULL), count(s.id) FROM traces t "
                    "LEFT JOIN (SELECT DISTINCT id FROM skills WHERE source = 'trace') s ON s.id = t.trace_id"
                ).fetchall()[0]
                self._checks.put("skills_coverage", files, [n, missing, covered])
        else:  # a bare `sf build`: every trace lacks its skill columns (the count comes from the footers)
            n = self.con.sql("SELECT count(*) FROM traces").fetchall()[0][0]
            missing, covered = n, 0
        if n == 0 or missing == 0:
            self.con.execute(f"CREATE OR REPLACE VIEW sk AS SELECT {cols} FROM skills WHERE source = 'trace'")
            self._skills_files: list[Path] | None = self.run.files("skills")
            return
        # the traces the run's skills table lacks (all of them after a bare `sf build`): detected, side table
        run_rows = f"SELECT {cols} FROM skills WHERE source = 'trace'"
        self.con.execute(
            "CREATE OR REPLACE VIEW _sk_todo AS SELECT * FROM traces_pos "
            "WHERE trace_id NOT IN (SELECT id FROM skills WHERE source = 'trace')"
        )
        skills_files = self.run.files("skills") if covered else []
        side = load_or_build(
            self.con, self.run.path, self.trace_files, [*self.run.files("questions"), *skills_files], missing
        )
        self.skills_note = side.note
        self._skills_files = [side.path, *skills_files] if side.saved and side.path is not None else None
        if side.table is None:
            self.skills_source = "none" if not covered else "run"
            self.con.execute(f"CREATE OR REPLACE VIEW sk AS {run_rows}")
            return
        self.skills_source = "detected"
        self._register("_skd", side.table)
        self.con.execute(f"CREATE OR REPLACE VIEW sk AS {run_rows} UNION ALL SELECT {cols} FROM _skd")

    @property
    def skills_missing(self) -> bool:
        """True when the skill columns (verdict_acc, cues, reflections) could not be computed: shown as n/a."""
        return self.skills_source == "none"

    # ---- search index ---------------------------------------------------------------------
    def _trace_files(self, wrong_types: list[tuple[str, Path, str]]) -> list[Path]:
        """The files the `traces` view reads (a corrupt part is skipped there, and warned about once).

        The run's own parts were checked by `connect` (its `traces` view and `wrong_types`); only files
        given to the store (`traces_files`), which `connect` does not read, are checked here."""
        from sfdata.store.duck import view_files

        if self.traces_files is None:
            for table, path, reason in wrong_types:
                if table == "traces":
                    self.open_warnings.append(f"skipped {path.name}: {reason}")
                    warnings.warn(self.open_warnings[-1], stacklevel=3)
            return view_files(self.con, "traces")
        good = []
        for p in self.traces_files:
            why = wrong_column_types(p, "traces")
            if why:
                self.open_warnings.append(f"skipped {p.name}: {why}")
                warnings.warn(self.open_warnings[-1], stacklevel=3)
            else:
                good.append(p)
        return good

    def _open_index(self) -> None:
        """Use the index when it is fresh; a stale one is ignored, an unreadable one is reported (then rebuilt)."""
        try:
            idx = open_index(self.index_file, signature(self.trace_files))
        except SearchIndexError as e:
            self.index_warning = f"search index ignored, it will be rebuilt: {e}"
            warnings.warn(self.index_warning, stacklevel=3)
            return
        except OSError:  # a part vanished between listing and stat: no index this time
            return
        if idx is not None:
            self.attach_index(idx)

    def index_state(self) -> str:
        """ready | missing | stale | off (for the status line and the app's decision to build)."""
        if not self.use_index:
            return "off"
        if self.index is not None:
            return "ready"
        return "stale" if self.index_file.exists() else "missing"

    def build_index(self, should_stop: Callable[[], bool] | None = None, threads: int | None = None) -> SearchIndex:
        """Build the index of this store's trace files (blocking; safe in a worker thread: uses its own
        DuckDB connection). Call `attach_index` with the result on the thread that owns the store."""
        return build_index(self.trace_files, self.index_file, should_stop, threads)

    def attach_index(self, idx: SearchIndex) -> None:
        self._register("_idx", idx.table)
        for name in _FAST_VIEWS:
            self.con.execute(_fast_view_sql(name))
        self.index = idx
        self._counts.clear()
        self._state.pop("skills_sig", None)
        self.index_warning = None

    def _align_skills(self) -> None:
        """Line the skills columns up with the index rows once (`_sk`, kept in RUN/.index/traces.skills.arrow
        until skills.parquet or the traces change), so sorting or filtering on them needs no 1M-row join."""
        from tui.search_index import open_side, side_path, signature, write_side

        assert self.index is not None
        files = self._skills_files
        try:
            # the same file identities the index itself is keyed on; a table in memory only: no file
            sig = self.index.sig + signature(files) if files else f"memory:{id(self._state)}"
        except OSError:
            return
        if sig == self._state.get("skills_sig") or self.skills_missing or (files is not None and not files):
            return
        path = side_path(self.index.path, "skills")
        try:
            table = open_side(path, sig, self.index.rows)
        except SearchIndexError as e:
            warnings.warn(f"skills side table ignored, it is rebuilt: {e}", stacklevel=2)
            table = None
        if table is None:
            from sfdata.store.duck import refresh_views

            refresh_views(self.con)
            table = self.con.sql(
                f"SELECT {_SKILL_COLS} FROM _idx i LEFT JOIN sk s ON s.id = i.trace_id ORDER BY i._row"
            ).to_arrow_table()
            if table.num_rows != self.index.rows:  # an id twice in skills: keep the join (as `t` does)
                return
            if files:
                try:
                    write_side(table, path, sig)
                except OSError:
                    pass  # a read-only run: aligned in memory for this session only
        self._register("_sk", table)
        for name in _FAST_VIEWS:
            if "s" in name[1:]:
                self.con.execute(_fast_view_sql(name, positional=True))
        self._state["skills_sig"] = sig

    def labels_file(self) -> Path:
        """Where this store's labels are saved (shown on screen)."""
        return self.labels_path or self.run.table_path("labels")

    def label_files(self) -> list[Path]:
        if self.labels_path is None:
            return self.run.files("labels")
        return [self.labels_path] if self.labels_path.is_file() else []

    def export_path(self) -> Path:
        """RUN/exports/kept.parquet, or NAME.kept.parquet next to a single file's labels."""
        if self.labels_path is None:
            return self.run.path / "exports" / "kept.parquet"
        return self.labels_path.with_name(self.labels_path.name.replace(".labels.parquet", "") + ".kept.parquet")

    def _sql(self, sql: str, params: list[Any] | None = None, frame: bool = False) -> Any:
        """Run a query to the end (rows, or a Polars frame); any DuckDB error, at parse or at run time (a CAST
        that fails on some row), becomes a one-line FilterError; a cancelled query raises QueryCancelled.
        A table file replaced since (sf skills, a label save elsewhere) is read anew first."""
        import duckdb

        from sfdata.store.duck import refresh_views

        refresh_views(self._root, register=self._register)
        self._sync()
        if self.cancelled:
            raise QueryCancelled("query cancelled")
        try:
            rel = self.con.sql(sql, params=params or None)
            return rel.pl() if frame else rel.fetchall()
        except FilterError:
            raise
        except duckdb.InterruptException as e:
            raise QueryCancelled("query cancelled") from e
        except Exception as e:  # duckdb parser/binder/conversion errors
            raise FilterError(one_line(str(e))) from e

    # ---- threads: each worker query on its own cursor ---------------------------------------
    def _register(self, name: str, table: Any) -> None:
        """Register an Arrow table on this connection and on every fork's cursor (before its next query)."""
        self.con.register(name, table)
        self._shared[name] = table
        self._mine[name] = table

    def _sync(self) -> None:
        """Register what another fork (or the parent) registered since this cursor last ran a query."""
        for name, table in list(self._shared.items()):
            if self._mine.get(name) is not table:
                self.con.register(name, table)
                self._mine[name] = table

    def fork(self) -> TraceStore:
        """This store on its own DuckDB cursor (same in-memory database and views; the registered Arrow tables
        registered again), for one query on a worker thread: `interrupt()` cancels that query alone."""
        twin = copy.copy(self)
        twin.con = self.con.cursor()
        twin._mine = {}
        twin._sync()
        return twin

    def interrupt(self) -> None:
        """Stop the query running on this store's connection (from any thread)."""
        self.con.interrupt()

    # ---- listing --------------------------------------------------------------------------
    def formats(self) -> list[str]:
        """Distinct formats (the trace files are fixed at open, so asked once: `f` cycles through them)."""
        if self._formats is None:
            src = "_idx" if self.index is not None else "traces"
            rows = self.con.sql(f"SELECT DISTINCT format FROM {src} ORDER BY 1").fetchall()
            self._formats = [r[0] for r in rows]
        return self._formats

    def columns(self) -> list[tuple[str, str]]:
        """(name, SQL type) of every column the WHERE box can use."""
        return [(r[0], r[1]) for r in self.con.sql("DESCRIBE t").fetchall()]

    def _plan(self, f: Filters, sort: str | None = None) -> tuple[str, str, list[Any]]:
        """(view, WHERE clause, parameters) for a filter and sort.

        The index views when the index is attached and the filter names no column it lacks (`fi`, the
        index alone, plus only the joins the filter and sort name; the page looks labels up by id);
        else `tl` (no joins: as fast as the bare traces) unless the WHERE box or the sort needs `t`.
        """
        if self.index is not None:
            where, params = f.sql(lowered="_lower")
            if not _BIG_RE.search(where):
                text = f"{where} {sort or ''}"
                view = _fast_view(*(bool(rx.search(text)) for rx in (_LABEL_RE, _QUESTION_RE, _SKILL_RE)))
                if "s" in view[1:]:
                    self._align_skills()
                return view, where, params
        joined = bool(_JOINED_RE.search(f"{f.where} {sort or ''}"))
        where, params = f.sql()
        return ("t" if joined else "tl"), where, params

    def count(self, f: Filters = Filters()) -> int:
        return self._count(*self._plan(f))

    def _count(self, view: str, where: str, params: list[Any]) -> int:
        """COUNT of a selection, remembered per query while nothing it reads can change (the trace files
        are fixed at open; labels and the joined tables may be rewritten by others, so those are re-run)."""
        key = (view, where, tuple((type(p).__name__, p) for p in params))
        if key in self._counts:
            return self._counts[key]
        n = self._sql(f"SELECT count(*) FROM {view}{where}", params)[0][0]
        if view in ("tl", "fi") and not _LABEL_RE.search(where) and "select" not in where.lower():
            self._counts[key] = n
        return n

    def page(
        self,
        f: Filters = Filters(),
        offset: int = 0,
        limit: int = PAGE_SIZE,
        sort: str | None = None,
        descending: bool = False,
    ) -> Page:
        """One page of the table: the listing's columns, with the joined ones looked up for its ids only."""
        order = ""
        if sort:
            if sort not in COLUMNS:
                raise FilterError(f"cannot sort by {sort!r}; columns: {', '.join(COLUMNS)}")
            order = f' ORDER BY "{sort}" {"DESC" if descending else "ASC"} NULLS LAST, trace_id'
        view, where, params = self._plan(f, sort)
        late = ("label",) if view in _FAST_VIEWS and "l" not in view[1:] else ()  # looked up for the page below
        cols = ", ".join(_cell(c) for c in COLUMNS if c not in _JOINED and c not in late) + ", question_id"
        if not order and view in _FAST_VIEWS and view != "fi":
            order = " ORDER BY _row"  # the traces' file order, the same on every page (a join reorders rows)
        elif not order and view in ("t", "tl"):
            order = " ORDER BY _file, _pos"  # the same for the Parquet views: else pages repeat and skip rows
        sql = f"SELECT {cols} FROM {view}{where}{order} LIMIT {int(limit)} OFFSET {int(offset)}"
        rows = [visible(r) for r in self._sql(sql, params, frame=True).to_dicts()]
        # a first page that is not full holds the whole selection: no second scan to count it
        total = len(rows) if offset == 0 and len(rows) < limit else self.count(f)
        self._add_joined(rows, with_labels=bool(late))
        return Page(rows, offset, total)

    def _add_joined(self, rows: list[dict[str, Any]], with_labels: bool = False) -> None:
        """verdict_acc and question text (and labels) for one page's rows, looked up by id (cheap at any run size)."""
        if not rows:
            return
        if with_labels:
            labels = dict(
                self.con.sql(
                    "SELECT trace_id, label FROM labels WHERE trace_id IN (SELECT unnest(?))",
                    params=[[r["trace_id"] for r in rows]],
                ).fetchall()
            )
            for r in rows:
                r["label"] = labels.get(r["trace_id"])
        acc = dict(
            self.con.sql(
                f"SELECT id, {_VERDICT_ACC.row_sql('')} FROM sk WHERE id IN (SELECT unnest(?))",
                params=[[r["trace_id"] for r in rows]],
            ).fetchall()
        )
        qs = dict(
            self.con.sql(
                "SELECT question_id, left(question, 200) FROM questions WHERE question_id IN (SELECT unnest(?))",
                params=[list({r["question_id"] for r in rows})],
            ).fetchall()
        )
        for r in rows:
            r["verdict_acc"], r["question"] = acc.get(r["trace_id"]), visible(qs.get(r["question_id"]))

    def stats(self, f: Filters = Filters(), bins: int = 10) -> Stats:
        """Statistics of the filtered traces, all computed in DuckDB (no rows come to Python)."""
        view, where, params = self._plan(f)
        if view in _FAST_VIEWS and "l" not in view[1:]:  # the statistics count labels
            view = _fast_view(True, "q" in view[1:], "s" in view[1:])

        def sums(cols: dict[str, str]) -> str:
            return ", ".join(f"sum({c}), count(*) FILTER ({c} > 0)" for c in cols.values())

        row = self._sql(
            f"""SELECT count(*), avg(is_correct::INT), count(*) FILTER (label = 'keep'),
                       count(*) FILTER (label = 'drop'), count(*) FILTER (label IS NULL), {sums(_TRACE_SKILLS)}
                FROM {view}{where}""",
            params,
        )[0]
        sk = self._sql(
            f"""SELECT count(*), {_VERDICT_ACC.sql("")}, {sums(_SKILLS_TABLE)}
                FROM sk WHERE id IN (SELECT trace_id FROM {view}{where})""",
            params,
        )[0]
        total, correct, keep, drop, unl = row[:5]
        pairs = [*zip(_TRACE_SKILLS, zip(row[5::2], row[6::2])), *zip(_SKILLS_TABLE, zip(sk[2::2], sk[3::2]))]
        skills: dict[str, tuple[int, int] | None] = {name: (int(n or 0), int(t or 0)) for name, (n, t) in pairs}
        if self.skills_missing:  # not computed: n/a, never a 0 that reads as data
            skills.update(dict.fromkeys(_SKILLS_TABLE))
        fmts = self._sql(f"SELECT format, count(*) FROM {view}{where} GROUP BY 1 ORDER BY 2 DESC, 1", params)
        # one pass over the trace text: equal-width bins from the selection's own min and max length
        bins_q = self._sql(
            f"""WITH l AS MATERIALIZED (SELECT length FROM {view}{where}),
                     m AS (SELECT min(length) AS lo, greatest(1, ceil((max(length) - min(length) + 1) / {int(bins)}))::BIGINT AS w FROM l)
                SELECT m.lo, m.w, (l.length - m.lo) // m.w AS b, count(*) FROM l, m GROUP BY ALL ORDER BY b""",
            params,
        )
        hist: list[tuple[int, int, int]] = []
        if bins_q:
            lo, width = bins_q[0][0], bins_q[0][1]
            got = {b: n for _, _, b, n in bins_q}
            hist = [(lo + i * width, lo + (i + 1) * width - 1, int(got.get(i, 0))) for i in range(max(got) + 1)]
        return Stats(
            total=total,
            formats=[(str(a), int(b)) for a, b in fmts],
            correct_rate=correct,
            verdict_acc=sk[1],
            skills=skills,
            labels={"keep": keep, "drop": drop, "unlabeled": unl},
            length_hist=hist,
            has_skills_table=not self.skills_missing,
            skills_note=self.skills_note,
        )

    # ---- one trace ------------------------------------------------------------------------
    def trace(self, trace_id: str) -> dict[str, Any]:
        """One trace with every column; its text (and prompt, answer) cut to TRACE_CHARS, with `truncated` set
        to the full length when it was cut, so a 20 MB trace costs what the screen can show."""
        cap = int(TRACE_CHARS)
        df = self.con.sql(
            f"""SELECT * REPLACE (left(trace, {cap}) AS trace, left(prompt, {cap}) AS prompt,
                                  left(final_answer, {cap}) AS final_answer),
                       greatest(length(trace), length(prompt), length(final_answer)) AS _longest
                FROM t WHERE trace_id = ?""",
            params=[trace_id],
        ).pl()
        if df.height == 0:
            raise KeyError(trace_id)
        row = visible(df.to_dicts()[0])
        longest = row.pop("_longest") or 0
        row["truncated"] = longest if longest > cap else None
        return row

    def question(self, question_id: str) -> dict[str, Any] | None:
        df = self.con.sql("SELECT * FROM questions WHERE question_id = ?", params=[question_id]).pl()
        return visible(df.to_dicts()[0]) if df.height else None

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
            return (
                self.con.sql(
                    """SELECT o.pos + 1 AS step, g.variant, g.sample_idx, g.is_correct, g.reason, g.extracted_answer,
                          f.verdict, f.is_valid, o.rollout_id, o.reflection_id
                   FROM _order o LEFT JOIN graded g USING (rollout_id)
                   LEFT JOIN reflections f ON f.reflection_id = o.reflection_id ORDER BY o.pos"""
                )
                .pl()
                .pipe(_visible_frame)
            )
        finally:
            self.con.unregister("_order")

    # ---- rollouts and reflections (the raw model outputs) ------------------------------------
    def rollouts_page(
        self,
        rollout_ids: list[str] | None = None,
        question_id: str | None = None,
        offset: int = 0,
        limit: int = PAGE_SIZE,
        correct: bool | None = None,
        disagree: bool = False,
        variant: str | None = None,
        search: str = "",
    ) -> Page:
        """Graded rollouts with their reflections' verdicts; all of them, one question's, or some ids.

        The browser's filters: the grade, a reflection whose verdict disagrees with the grade, the prompt
        variant, and text in the response (a parameter, never SQL)."""
        parts: list[str] = []
        params: list[object] = []
        if rollout_ids is not None:
            parts.append("g.rollout_id IN (SELECT unnest(?))")
            params.append(list(rollout_ids))
        if question_id:
            parts.append("g.question_id = ?")
            params.append(question_id)
        if correct is not None:
            parts.append("g.is_correct = ?")
            params.append(correct)
        if disagree:
            parts.append("g.rollout_id IN (SELECT rollout_id FROM reflections WHERE NOT is_valid)")
        if variant:
            parts.append("g.variant = ?")
            params.append(variant)
        if search:
            parts.append("contains(lower(g.response), lower(?))")
            params.append(search)
        where = (" WHERE " + " AND ".join(parts)) if parts else ""
        total = self.con.sql(f"SELECT count(*) FROM graded g{where}", params=params or None).fetchall()[0][0]
        rows = self.con.sql(
            f"""SELECT g.rollout_id, g.question_id, g.variant, g.sample_idx, g.is_correct, g.reason,
                       g.extracted_answer, length(g.response) AS length,
                       count(f.reflection_id) AS n_reflections,
                       count(*) FILTER (f.verdict = 'Correct') AS n_say_correct,
                       count(*) FILTER (f.verdict = 'Incorrect') AS n_say_incorrect,
                       count(*) FILTER (f.is_valid) AS n_valid
                FROM graded g LEFT JOIN reflections f USING (rollout_id){where}
                GROUP BY ALL ORDER BY g.question_id, g.variant, g.sample_idx, g.rollout_id
                LIMIT {int(limit)} OFFSET {int(offset)}""",
            params=params or None,
        ).pl()
        return Page(visible(rows.to_dicts()), offset, total)

    def rollout_variants(self) -> list[str]:
        """The prompt variants of the graded rollouts (the browser's variant filter cycles through them)."""
        return [r[0] for r in self.con.sql("SELECT DISTINCT variant FROM graded ORDER BY 1").fetchall()]

    def rollout(self, rollout_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One graded rollout (prompt, response, grade) and its reflections (text, verdict, validity)."""
        df = self.con.sql("SELECT * FROM graded WHERE rollout_id = ?", params=[rollout_id]).pl()
        if df.height == 0:
            raise KeyError(rollout_id)
        refl = self.con.sql(
            "SELECT reflection_id, reflection_idx, text, verdict, is_valid FROM reflections WHERE rollout_id = ? "
            "ORDER BY reflection_idx, reflection_id",
            params=[rollout_id],
        ).pl()
        return visible(df.to_dicts()[0]), visible(refl.to_dicts())

    def eval_outputs(self, limit: int = 50) -> pl.DataFrame:
        return (
            self.con.sql(f"SELECT eval_id, stage, task, level, is_correct, response FROM eval LIMIT {int(limit)}")
            .pl()
            .pipe(_visible_frame)
        )

    # ---- curation -------------------------------------------------------------------------
    def _read_labels(self) -> dict[str, tuple[str, str]]:
        """Labels on disk; an unreadable file turns saving off (never overwritten) and says so."""
        from sfdata.store.parquet import CorruptFileError, read_files

        try:
            lab = read_files(self.label_files(), "labels")
        except (CorruptFileError, OSError, ValueError) as e:
            self._labels_unreadable(e)
            return dict(getattr(self, "labels", {}))
        return {r[0]: (r[1], r[2] or "") for r in lab.select("trace_id", "label", "note").iter_rows()}

    def _labels_unreadable(self, e: BaseException) -> None:
        self.labels_error = (
            f"labels not saved: {self.labels_file()} cannot be read ({e}); "
            "it is left untouched: fix or move it, then reopen the inspector"
        )

    def set_label(self, trace_id: str, label: str | None, note: str | None = None) -> None:
        """Set keep/drop (None clears) and/or a note for one trace.

        The read-merge-write is `sfdata.store.ops.set_label` (under the labels lock: the file on disk, other
        inspectors' labels included, is re-read, only this trace's row changes, the file is replaced atomically).
        Raises LabelsError (and writes nothing) when the labels file cannot be read or written.
        """
        from sfdata.store.duck import register_view
        from sfdata.store.ops import LABEL_VALUES
        from sfdata.store.ops import set_label as write_label
        from sfdata.store.parquet import CorruptFileError

        if label is not None and label not in LABEL_VALUES:
            raise ValueError(f"label must be keep, drop or None, got {label!r}")
        if self.labels_error:
            raise LabelsError(self.labels_error)
        try:
            if self.labels_path is None:
                self.run._refuse_link(self.labels_file())  # as RunDir.write: never through a link in the run
            rows = write_label(self.labels_file(), trace_id, label, note)
        except CorruptFileError as e:  # unreadable (not a write failure): saving stops, the file is kept
            self._labels_unreadable(e)
            raise LabelsError(self.labels_error) from e
        except OSError as e:  # read-only run, full disk: the file on disk is as it was (atomic write)
            raise LabelsError(
                f"label not saved: cannot write {self.labels_file()} ({e.strerror or type(e).__name__}); "
                "the saved labels are untouched: free space or fix permissions, then label again"
            ) from e
        self.labels = {r[0]: (r[1], r[2] or "") for r in rows.select("trace_id", "label", "note").iter_rows()}
        register_view(self.con, "labels", self.label_files(), register=self._register)
        self._labels_stamp = tuple((p, p.stat().st_mtime_ns, p.stat().st_size) for p in self.label_files())

    def refresh_labels(self) -> bool:
        """Re-read the labels when the file changed on disk (another inspector labelled); True if it did."""
        from sfdata.store.duck import register_view

        try:
            stamp = tuple((p, p.stat().st_mtime_ns, p.stat().st_size) for p in self.label_files())
        except OSError:
            return False
        if stamp == getattr(self, "_labels_stamp", stamp):
            self._labels_stamp = stamp
            return False
        self._labels_stamp = stamp
        fresh = self._read_labels()
        if self.labels_error or fresh == self.labels:
            return False
        self.labels = fresh
        register_view(self.con, "labels", self.label_files(), register=self._register)
        return True

    def export_kept(self, path: Path | None = None) -> tuple[Path, int]:
        """Kept traces (full traces schema) -> RUN/exports/kept.parquet, for `sf sft` / `sf push`."""
        from sfdata.store.parquet import write_parquet_atomic

        kept = [k for k, (lab, _) in self.labels.items() if lab == "keep"]
        if not kept:
            raise ValueError("no trace is marked keep (press k on a trace)")
        df = self.con.sql("SELECT * FROM traces WHERE trace_id IN (SELECT unnest(?))", params=[kept]).pl()
        path = path or self.export_path()
        try:
            write_parquet_atomic(df, path)
        except OSError as e:
            raise ValueError(f"not exported: cannot write {path} ({e.strerror or type(e).__name__})") from e
        return path, df.height

    def close(self) -> None:
        self.con.close()
