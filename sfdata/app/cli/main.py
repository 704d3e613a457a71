"""`sf`: one console script, subcommands dispatched lazily.

Only the chosen subcommand's module is imported, so `sf --help` never imports torch.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from types import ModuleType
from typing import NamedTuple


class Command(NamedTuple):
    """One `sf` subcommand: its help group, name, module (imported only when it runs) and one-line help.
    `torch`: it runs torch on CPU, so main() makes the thread setup (sfdata.cpu_threads: passive OpenMP wait
    policy, threads from the CPUs this process may use) before its module, and so torch, is imported."""

    group: str
    name: str
    module: str
    help: str
    torch: bool = False


COMMANDS: list[Command] = [
    Command(
        "pipeline",
        "questions",
        "sfdata.app.cli.questions",
        "Create a run with generated task questions (countdown, OOD tasks)",
    ),
    Command(
        "pipeline",
        "generate",
        "sfdata.app.cli.generate",
        "Sample N responses per question x prompt variant into rollouts Parquet (resumable)",
        torch=True,
    ),
    Command("pipeline", "grade", "sfdata.app.cli.grade", "Extract and grade the final <answer> of every rollout"),
    Command(
        "pipeline",
        "reflect",
        "sfdata.app.cli.reflect",
        "Ask the model to verify each rollout; keep verdicts that match the grade",
        torch=True,
    ),
    Command(
        "pipeline",
        "build",
        "sfdata.app.cli.build",
        "Rearrange rollouts + reflections into SkillFactory traces (all formats)",
    ),
    Command(
        "pipeline",
        "run",
        "sfdata.app.cli.run",
        "Run every stage from one TOML/YAML config, skipping completed stages",
        torch=True,
    ),
    Command(
        "data",
        "import",
        "sfdata.app.cli.import_",
        "Import a published RAW_DATA set (Hub name or local file) into a run",
    ),
    Command(
        "data",
        "export",
        "sfdata.app.cli.export",
        "Export traces: published SFT schema, TRL messages, sharegpt, verl RL parquet",
    ),
    Command(
        "data", "push", "sfdata.app.cli.push", "Build a dataset folder with card and push it to the Hugging Face Hub"
    ),
    Command("data", "pull", "sfdata.app.cli.pull", "Load a published SFT or RAW dataset into a run directory"),
    Command(
        "analysis",
        "skills",
        "sfdata.app.cli.skills",
        "Detect skill events in traces / rollouts / eval outputs into skills.parquet",
    ),
    Command(
        "analysis", "query", "sfdata.app.cli.query", "Run a named SQL query from queries/ over a run (sf query --list)"
    ),
    Command("analysis", "sql", "sfdata.app.cli.sql", "Run ad-hoc SQL over a run's views"),
    Command("analysis", "report", "sfdata.app.cli.report", "One-page summary and PNG plots for a run"),
    Command("analysis", "inspect", "tui.cli", "Open the Textual trace inspector on a run or Parquet file"),
    Command(
        "train",
        "sft",
        "sfdata.app.cli.sft",
        "Supervised fine-tuning (TRL SFTTrainer) on traces or a published SFT set",
        torch=True,
    ),
    Command("train", "rl", "sfdata.app.cli.rl", "GRPO (TRL GRPOTrainer) with a task-grader reward", torch=True),
    Command(
        "train",
        "eval",
        "sfdata.app.cli.eval",
        "Accuracy and skill use on Countdown 3-6 numbers and OOD tasks",
        torch=True,
    ),
    Command(
        "misc",
        "model",
        "sfdata.app.cli.model",
        "Resolve a model: the embedded SmolLM2 (converted once), an HF id or a path",
        torch=True,
    ),
    Command("misc", "tasks", "sfdata.app.cli.tasks", "List tasks and show example questions"),
    Command(
        "misc",
        "serve",
        "sfdata.app.cli.serve",
        "Serve a model on an OpenAI-compatible HTTP API (for --engine openai)",
        torch=True,
    ),
]


def writer_commands() -> tuple[set[str], set[str]]:
    """(commands that write into the run given as `RUN` / `--run`, those that may create it), derived from
    the stage registry: a command named after a stage runs that stage. main() holds the run's writer lock
    for the whole command (one writer per run); `sf run` takes it inside run_pipeline."""
    from sfdata.app.stages import COMMAND_STAGES

    names = {c.name for c in COMMANDS} & set(COMMAND_STAGES)
    return names, {n for n in names if COMMAND_STAGES[n].creates_run}


#: the commands that run torch (`Command.torch`): main() sets up CPU threads before importing them
THREADED = {c.name for c in COMMANDS if c.torch}

_GROUPS = {"pipeline": "Pipeline", "data": "Data & Hub", "analysis": "Analysis", "train": "Training", "misc": "Other"}


def _usage() -> str:
    from sfdata import __version__

    lines = [
        f"sf {__version__}: SkillFactory, self-distilled traces that teach verify / retry / backtrack",
        "",
        "usage: sf COMMAND [options]     (sf COMMAND --help for a command's options)",
    ]
    for key, title in _GROUPS.items():
        lines.append("")
        lines.append(f"{title}:")
        for c in COMMANDS:
            if c.group == key:
                lines.append(f"  {c.name:<10} {c.help}")
    return "\n".join(lines)


def build_parser(name: str) -> tuple[argparse.ArgumentParser, ModuleType]:
    for c in COMMANDS:
        if c.name == name:
            mod = import_module(c.module)
            parser = argparse.ArgumentParser(prog=f"sf {name}", description=(mod.__doc__ or c.help).strip())
            mod.add_arguments(parser)
            return parser, mod
    raise KeyError(name)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from sfdata import __version__

        print(__version__)
        return 0
    name = argv[0]
    if name in THREADED:
        from sfdata.cpu_threads import setup_cpu_threads

        setup_cpu_threads()
    try:
        parser, mod = build_parser(name)
    except KeyError:
        print(f"sf: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv[1:])
    try:
        with _writer_lock(name, args):
            return int(mod.run(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted; completed parts are kept, rerun to resume", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, KeyError, OSError) as e:
        # user-facing errors: one clear line, no traceback (set SF_DEBUG=1 for it)
        import os

        if os.environ.get("SF_DEBUG"):
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        from sfdata.redact import redact_text

        print(f"sf {name}: error: {redact_text(str(msg))}", file=sys.stderr)
        return 1


def _writer_lock(name: str, args: argparse.Namespace):
    """The run's writer lock for a writing command (a no-op context for readers)."""
    from contextlib import nullcontext
    from pathlib import Path

    run = getattr(args, "run", None)
    if run is None:
        return nullcontext()
    writers, creators = writer_commands()
    if name not in writers:
        return nullcontext()
    run = Path(run)
    if not run.is_dir() and name not in creators:
        return nullcontext()  # the command itself says the run does not exist
    from sfdata.store import RunDir

    return RunDir(run).lock(f"sf {name} {run}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
