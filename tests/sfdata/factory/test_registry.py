"""One record per trace format, one trace layout: nothing else in the factory spells a format code or a tag."""

from __future__ import annotations

import ast
from pathlib import Path

from sfdata import grammar
from sfdata.factory import formats, mix, pickers, registry
from sfdata.factory.build import DEFAULT_FORMATS, BuildConfig

ROOT = Path(__file__).parents[3]


def test_every_list_of_formats_derives_from_the_records():
    recs = registry.TRACE_FORMATS
    assert registry.FORMATS == tuple(f.code for f in recs) == formats.FORMATS
    assert DEFAULT_FORMATS == tuple(f.code for f in recs if f.in_default_build) == BuildConfig().formats
    assert mix.SFT_DEFAULT_FORMATS == tuple(f.code for f in recs if f.in_default_sft_mix)
    assert mix.OWN_SET_FORMATS == tuple(f.code for f in recs if f.purpose != registry.MAIN)
    assert set(pickers.PICKERS) == set(registry.FORMATS)
    assert {f.shape for f in recs} <= set(formats._BY_SHAPE)
    for f in recs:
        assert mix.purpose_of(f.code, None) == f.purpose
        assert registry.skip_rules(f.code), f.code  # every format says when a question has no trace of it


def _code_strings(path: Path) -> set[str]:
    """String constants in code (docstrings left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    return {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    }


def test_no_factory_module_spells_a_format_code_or_a_tag():
    tags = {f"<{t}>" for t in grammar.TAG_NAMES} | {f"</{t}>" for t in grammar.TAG_NAMES}
    for path in sorted((ROOT / "sfdata" / "factory").glob("*.py")):
        if path.name == "registry.py":
            continue
        strings = _code_strings(path)
        assert not strings & set(registry.FORMATS), (path.name, strings & set(registry.FORMATS))
        assert not [s for s in strings if any(t in s for t in tags)], path.name
