"""The `sf` dispatcher: help lists every subcommand, starts without heavy imports."""

from __future__ import annotations

import subprocess
import sys

from sfdata.app.cli.main import COMMANDS, main

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

    for c in COMMANDS:
        name, mod = c.name, import_module(c.module)
        assert callable(mod.add_arguments), name
        assert callable(mod.run), name


def test_help_does_not_import_heavy_packages():
    code = (
        "import sys; from sfdata.app.cli.main import main; main(['--help']); "
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

    from sfdata.app.cli.main import build_parser

    readme = (Path(__file__).parents[4] / "README.md").read_text(encoding="utf-8")
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


def _readme_commands(readme: str) -> list[list[str]]:
    """Every `sf ...` (or `python/accelerate ... -m sfdata.app[.cli.main] ...`) command in README's shell blocks."""
    import re
    import shlex

    commands = []
    # fences paired in order, so the prose after a ```toml block is never read as a shell block
    for lang, block in re.findall(r"```(\w*)\n(.*?)```", readme, re.S):
        if lang not in ("", "bash", "sh", "console"):
            continue
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip().rstrip("&").strip()
            for part in line.split(";"):
                part = part.strip()
                via_module = re.search(r"-m sfdata(?:\.app(?:\.cli\.main)?|\.cli\.main) (.*)", part)
                if part.startswith("sf "):
                    commands.append(shlex.split(part)[1:])
                elif via_module:
                    commands.append(shlex.split(via_module.group(1)))
    return commands


def test_every_readme_shell_command_parses():
    """Beyond the CLI tour: the experiment, hub and multi-GPU blocks (accelerate launch ... -m sfdata.app.cli.main)."""
    from pathlib import Path

    from sfdata.app.cli.main import build_parser

    commands = _readme_commands((Path(__file__).parents[4] / "README.md").read_text(encoding="utf-8"))
    assert len(commands) >= 30
    assert any(argv[0] == "rl" for argv in commands)  # the multi-GPU block is read too
    for argv in commands:
        parser, _ = build_parser(argv[0])
        parser.parse_args(argv[1:])  # SystemExit on any unknown option fails the test


def test_every_flag_named_inline_in_readme_exists():
    """Prose like `sf sft --data` must name real flags (a stale flag once survived a flag-to-positional change)."""
    import re
    from pathlib import Path

    from sfdata.app.cli.main import COMMANDS, build_parser

    readme = (Path(__file__).parents[4] / "README.md").read_text(encoding="utf-8")
    names = {c.name for c in COMMANDS}
    checked = 0
    for snippet in re.findall(r"`sf ([a-z]+)([^`]*)`", readme):
        cmd, rest = snippet
        if cmd not in names:
            continue
        parser, _ = build_parser(cmd)
        known = set(parser._option_string_actions)
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", rest):
            checked += 1
            assert flag in known, f"README names `sf {cmd} {flag}`, which sf {cmd} does not take"
    assert checked >= 10


def test_architecture_page_names_every_module():
    """docs/ARCHITECTURE.md is the code map: every module of the packages appears on it by file name."""
    from pathlib import Path

    root = Path(__file__).parents[4]
    page = (root / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    missing = [
        str(path.relative_to(root))
        for package in ("sfdata", "sftrain", "tui")
        for path in sorted((root / package).rglob("*.py"))
        if path.name != "__init__.py" and path.stem not in page
    ]
    assert not missing, f"modules missing from docs/ARCHITECTURE.md: {missing}"
