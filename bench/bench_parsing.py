"""Parsing hostile model output: the grammar's bounded one-pass scan vs the old regexes.

A 1 MB response made of unclosed tags: (a) `<answer>` repeated (over the tag cap: refused with a
reason), (b) ~7k unclosed `<sample>`/`<answer>`/`<verdict>` tags spread through prose (under the cap:
parsed in full). Each is run through answer extraction and the skills detector.

The baseline is a copy of the old implementation (lazy `<answer>(.*?)</answer>` and
`<sample>(.*?)</sample>` regexes rescanning to the end from every unclosed tag: quadratic). It
cannot finish 1 MB in a reasonable time, so it runs on doubling prefixes until one call passes a
time budget; the ratio compares throughput (MB/s) of ours on the full 1 MB with the old code on its
largest measured prefix, which understates our advantage (the old code slows down as size grows).
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

from _common import best_of, report

from sfdata.grammar import extract_answer
from sfdata.skills import detect

# ---- the old implementation (sfdata/tasks/base.py and sfdata/skills.py before sfdata.grammar) ----
_OLD_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_OLD_TAG = re.compile(r"<\s*(/?)\s*(think|sample|reflect|answer)\s*>", re.IGNORECASE)
_OLD_SAMPLE = re.compile(r"<sample>(.*?)</sample>", re.IGNORECASE | re.DOTALL)
_OLD_VERDICT = re.compile(r"<\s*verdict\s*>\s*(correct|incorrect)\s*<\s*/\s*verdict\s*>", re.IGNORECASE)
_OLD_CUES = {
    "wait": re.compile(r"\bwait\b", re.I),
    "verify": re.compile(
        r"\b(?:let me|let's|i(?:'ll| will)) (?:verify|double[- ]check)\b|\bverif(?:y|ying|ication)\b", re.I
    ),
    "alt": re.compile(r"\balternatively\b|\banother (?:approach|way)\b", re.I),
    "check": re.compile(r"\blet me (?:check|re-?check)\b|\bchecking\b", re.I),
}


def old_extract_answer(text: str | None) -> str | None:
    if not text:
        return None
    last = None
    for m in _OLD_ANSWER.finditer(text):
        last = m.group(1)
    return (last.strip() or None) if last is not None else None


def old_well_formed(text: str) -> bool:
    stack: list[str] = []
    for m in _OLD_TAG.finditer(text):
        closing, name = m.group(1) == "/", m.group(2).lower()
        if not closing:
            if name in stack or (name in ("sample", "reflect") and ("sample" in stack or "reflect" in stack)):
                return False
            stack.append(name)
        elif not stack or stack[-1] != name:
            return False
        else:
            stack.pop()
    return not stack


def old_detect(text: str) -> dict[str, Any]:
    """The old detector's parsing work (its event logic afterwards is linear and omitted)."""
    out: dict[str, Any] = {"malformed": not old_well_formed(text)}
    out["n_samples"] = len(re.findall(r"<sample>", text, re.IGNORECASE))
    out["n_reflections"] = len(re.findall(r"<reflect>", text, re.IGNORECASE))
    for k, rx in _OLD_CUES.items():
        out[k] = len(rx.findall(text))
    ev = [(m.start(), old_extract_answer(m.group(1))) for m in _OLD_SAMPLE.finditer(text)]
    ev += [(m.start(), m.group(1)) for m in _OLD_VERDICT.finditer(text)]
    out["events"] = len(ev)
    tail = text.rsplit("</think>", 1)[-1] if "</think>" in text.lower() else ""
    out["final"] = old_extract_answer(tail) if tail else None
    return out


# ---- hostile inputs ------------------------------------------------------------------------
def hostile(kind: str, size: int) -> str:
    if kind == "answer_flood":
        return ("<answer>" * (size // 8 + 1))[:size]
    prose = "Let me think about this step by step, wait, the sum is not right yet. "
    unit = "<sample>" + prose * 2 + "<answer>" + prose * 2 + "<verdict>" + prose * 2  # 3 unclosed tags / ~450 chars
    return (unit * (size // len(unit) + 1))[:size]


def parse_both(text: str, old: bool) -> tuple[Any, Any]:
    if old:
        return old_extract_answer(text), old_detect(text)
    return extract_answer(text), detect(text)


def old_throughput(kind: str, max_size: int, budget_s: float) -> tuple[float, int, list[tuple[int, float]]]:
    """Old code on doubling prefixes until one call takes > budget_s; (MB/s at the largest, size, points)."""
    size, points = 16_384, []
    while True:
        text = hostile(kind, size)
        t0 = time.perf_counter()
        parse_both(text, old=True)
        dt = time.perf_counter() - t0
        points.append((size, round(dt, 3)))
        if dt > budget_s or size * 2 > max_size:
            return size / 1e6 / dt, size, points
        size *= 2


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--size", type=int, default=1_000_000, help="bytes of hostile response for our parser")
    args = ap.parse_args()
    size = 200_000 if args.quick else args.size
    budget = 0.5 if args.quick else 2.0
    ours_mbs, base_mbs, detail = [], [], {}
    for kind in ("answer_flood", "unclosed_prose"):
        text = hostile(kind, size)
        t, (ans, skills) = best_of(lambda text=text: parse_both(text, old=False), repeat=3)
        ours_mbs.append(size / 1e6 / t)
        b, bsize, points = old_throughput(kind, size, budget)
        base_mbs.append(b)
        detail[kind] = {
            "ours_s": round(t, 4),
            "ours_answer": ans,
            "ours_problem": skills.problem or None,
            "old_points": points,
            "old_size": bsize,
        }
        print(f"{kind}: ours {t:.3f}s on {size:,} chars; old {points}", flush=True)
    ours = min(ours_mbs)
    base = max(base_mbs)
    report(
        "parsing",
        ours,
        base,
        "MB/s",
        f"extract_answer + skills.detect on a {size / 1e6:g} MB hostile response (worst of 2 shapes); baseline = "
        "old regexes on the largest prefix they finish within the time budget (best of 2 shapes)",
        **detail,
    )


if __name__ == "__main__":
    main()
