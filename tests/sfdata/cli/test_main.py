"""The `sf` dispatcher: help lists every subcommand, starts without heavy imports."""

from __future__ import annotations

import subprocess
import sys

from sfdata.cli.main import COMMANDS, main

PLANNED = {
    "generate",
    "grade",
    "reflect",
    "build",
    "run",
    "import",
    "export",
    "push",
    "pull",
    "query",
    "sql",
    "report",
    "inspect",
    "sft",
    "rl",
    "eval",
    "skills",
    "questions",
    "model",
    "tasks",
    "serve",
}


def test_help_lists_all_planned_subcommands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in PLANNED:
        assert f"  {name} " in out
    assert {c[1] for c in COMMANDS} == PLANNED


def test_every_command_module_has_the_interface():
    from importlib import import_module

    for _, name, module, _ in COMMANDS:
        mod = import_module(module)
        assert callable(mod.add_arguments), name
        assert callable(mod.run), name


def test_help_does_not_import_heavy_packages():
    code = (
        "import sys; from sfdata.cli.main import main; main(['--help']); "
        "print(sorted(m for m in ('torch','transformers','trl','vllm','datasets','textual') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_unknown_command_is_an_error(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err


def test_every_readme_cli_example_parses():
    """The CLI tour in README.md stays in sync with the real parsers."""
    import shlex
    from pathlib import Path

    from sfdata.cli.main import build_parser

    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- BEGIN:cli -->", 1)[1].split("<!-- END:cli -->", 1)[0]
    examples = []
    for line in block.splitlines():
        line = line.split("  #", 1)[0].strip()
        examples += [c.strip() for c in line.split(";") if c.strip().startswith("sf ")]
    assert len(examples) >= 15
    for ex in examples:
        argv = shlex.split(ex)[1:]
        parser, _ = build_parser(argv[0])
        parser.parse_args(argv[1:])  # SystemExit on any unknown option fails the test
