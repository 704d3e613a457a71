"""Load SFT data from a run, a local file/folder, or a Hub dataset, as prompt/completion chats.

TRL's conversational prompt-completion format (`prompt`: [user msg], `completion`:
[assistant msg]) gives loss on the assistant turn only (completion_only_loss), with no chat
template changes needed (SmolLM2's template has no generation markers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

_ROLES = {"human": "user", "gpt": "assistant", "user": "user", "assistant": "assistant", "system": "system"}


def _message(m: Any) -> dict[str, str] | None:
    """{role, content} from a published/TRL message or a sharegpt {from, value} turn (None for anything else)."""
    if not isinstance(m, dict):
        return None
    role = m.get("role", m.get("from"))
    content = m.get("content", m.get("value"))
    if role is None or content is None:
        return None
    return {"role": _ROLES.get(str(role), str(role)), "content": str(content)}


def _split_chat(msgs: Any) -> tuple[list[dict], list[dict]] | None:
    """(prompt messages, [final assistant message]) or None when there is no assistant turn (or no chat:
    a row of an untrusted file may hold a string or a number there)."""
    if not isinstance(msgs, (list, tuple)):
        return None
    msgs = [x for x in (_message(m) for m in msgs if m) if x is not None]
    last = max((i for i, m in enumerate(msgs) if m["role"] == "assistant"), default=None)
    if last is None or last == 0:
        return None
    return msgs[:last], [msgs[last]]


def rows_from_frame(df: pl.DataFrame) -> list[dict[str, Any]]:
    """Accepts columns `conversations` (published schema or sharegpt {from, value}), `messages` (TRL),
    `prompt`+`completion` (TRL, our prompt_completion export), or `prompt`+`trace` (our traces table,
    `traces/part-*.parquet`, the inspector's `exports/kept.parquet`)."""
    out: list[dict[str, Any]] = []
    cols = set(df.columns)
    if "conversations" in cols or "messages" in cols:
        col = "conversations" if "conversations" in cols else "messages"
        for msgs in df[col].to_list():
            split = _split_chat(msgs or [])
            if split:
                out.append({"prompt": split[0], "completion": split[1]})
    elif {"prompt", "trace"} <= cols:
        for p, t in df.select("prompt", "trace").iter_rows():
            out.append(
                {"prompt": [{"role": "user", "content": p}], "completion": [{"role": "assistant", "content": t}]}
            )
    elif {"prompt", "completion"} <= cols:
        for p, c in df.select("prompt", "completion").iter_rows():
            p = p if isinstance(p, list) else [{"role": "user", "content": str(p)}]
            c = c if isinstance(c, list) else [{"role": "assistant", "content": str(c)}]
            out.append({"prompt": p, "completion": c})
    else:
        raise ValueError(
            f"no SFT columns found (need conversations, messages, prompt+completion or prompt+trace); have {sorted(cols)}"
        )
    return out


def run_traces(run_dir: Path, kept_only: bool = True) -> pl.DataFrame:
    """A run's traces, minus those labelled 'drop' (and only 'keep' ones when any are kept)."""
    from sfdata.hub.export import curated_traces

    return curated_traces(run_dir, kept_only)


def select_run_traces(df: pl.DataFrame, names: tuple[str, ...] | None, source: Path | str = "run") -> pl.DataFrame:
    """The traces SFT reads from a run: by default the main set's official default formats
    (`0C`, `*C`, `*C*IC`, `*CC`); `names` picks formats (`*C_full` when asked) and/or named sets
    (`random`, `no_reflection`, `star`, an ablation), see `sfdata.factory.mix.selection`."""
    from sfdata.factory.mix import purpose_col, select_traces

    chosen = select_traces(df, names)
    if chosen.height == 0 and df.height:
        if "purpose" not in df.columns:
            df = df.with_columns(pl.lit(None, pl.String).alias("purpose"))
        counts = df.with_columns(purpose_col()).group_by("purpose", "format").len().sort("purpose", "format")
        found = ", ".join(f"{p}/{f}: {n}" for p, f, n in counts.iter_rows())
        raise ValueError(
            f"{source}: no traces match {list(names or []) or 'the default SFT mix'} (the run has {found}); "
            "name the formats or sets to train on with --formats"
        )
    return chosen


def reprompt(df: pl.DataFrame, run_dir: Path, prompt: str) -> pl.DataFrame:
    """Traces with `prompt` replaced by the chat of `prompt` setup (variant + demonstrations) for their question,
    so SFT's user turns are what RL and eval send. Every trace's question must be in the run's questions table."""
    from sfdata.prompts import PromptSetup
    from sfdata.store import RunDir
    from sfdata.tasks import Question, get_task

    setup = PromptSetup.parse(prompt)
    qs = {r["question_id"]: Question.from_row(r) for r in RunDir(run_dir).read("questions").iter_rows(named=True)}
    missing = sorted(set(df["question_id"].to_list()) - set(qs))
    if missing:
        raise ValueError(f"{run_dir}: {len(missing)} trace question(s) not in the questions table (e.g. {missing[0]})")
    chats = [setup.messages(get_task(qs[i].task), qs[i]) for i in df["question_id"].to_list()]
    return pl.DataFrame({"prompt": chats, "completion": [[{"role": "assistant", "content": t}] for t in df["trace"]]})


def load_sft_rows(
    source: str | Path,
    config: str | None = "sft_train",
    split: str = "train",
    kept_only: bool = True,
    formats: tuple[str, ...] | None = None,
    prompt: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of {prompt, completion} from a run dir, a Parquet/JSON(L) file or folder, or a Hub id.

    `prompt` ("VARIANT, K-shot") re-asks a run's traces with that setup; other sources keep their own user turns."""
    from sfdata.hub.readers import check_source, folder_files, load_hub_frame, read_file

    p = Path(source).expanduser()  # any path-like (a RunDir too); str() of one need not be its path
    if p.is_dir() and (p / "manifest.json").is_file():
        chosen = select_run_traces(run_traces(p, kept_only), formats, p)
        rows = rows_from_frame(reprompt(chosen, p, prompt) if prompt is not None else chosen)
    elif p.is_file():
        rows = rows_from_frame(read_file(p))
    elif p.is_dir():  # an exported or pushed dataset folder: the SFT config only, never raw/ or verl/
        rows = [r for f in folder_files(p, config, split) for r in rows_from_frame(read_file(f))]
    else:
        check_source(source)
        rows = rows_from_frame(load_hub_frame(str(source), config, split))
    if not rows:
        raise ValueError(f"{source}: no usable conversations (each needs a user and an assistant turn)")
    return rows
