"""Bounded exact arithmetic for model answers. Never `eval`.

Answers are untrusted text. Every bound is checked *before* `ast.parse` (length, ASCII,
paren depth, literal size), so no input can hang, exhaust memory, or crash the grader:
`9**9**9` is an illegal token, a 10^6-digit literal is too long, 10^5 nested parentheses
never reach the parser. Arithmetic is `fractions.Fraction`, so `1/3*3 == 1` exactly.

Unary minus and plus are accepted on a number or a parenthesised group, repeated too (`-19 + 71*(28 + 67)/19`,
`-(3 - 5)`, `- -4`): `-19` uses the given number 19 once, and the value is checked exactly. reasoning-gym's
reference answers use them (43 of 3,000; countdown grader 3). Other unary operators (`~`, `not`) stay illegal.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from sfdata.tasks.base import GradeReason

MAX_CHARS = 512
MAX_DEPTH = 32  # parenthesis nesting
MAX_DIGITS = 12  # per integer literal
MAX_BITS = 4096  # numerator/denominator size of any intermediate value
MAX_NODES = 200

#: after normalising, an expression holds only these (no names, `_`, `#`, `.`, quotes, brackets)
_ALLOWED = frozenset("0123456789+-*/() \t")
#: 0x10, 0o20, 0b10000: Python radix literals are not numbers a model was given (and `0x10` is not `0 * 10`)
_RADIX = re.compile(r"(?<![0-9A-Za-z_])0[xXoObB][0-9A-Za-z_]")
_SPELLINGS = {"×": "*", "÷": "/", "−": "-", "–": "-", "∗": "*", "·": "*"}
_X_TIMES = re.compile(r"(?<=[\d)])\s*[xX]\s*(?=[\d(])")
_DIGIT_RUN = re.compile(r"\d+")


class ArithError(ValueError):
    def __init__(self, reason: GradeReason, detail: str):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}")


@dataclass(frozen=True)
class Evaluated:
    value: Fraction
    literals: Counter = field(default_factory=Counter)  # ints used, with multiplicity


def normalise(expr: str) -> str:
    """Map common model spellings (×, ÷, −, `3 x 4`) to ASCII operators; strip LaTeX-ish noise."""
    for k, v in _SPELLINGS.items():
        expr = expr.replace(k, v)
    expr = expr.replace("\\times", "*").replace("\\div", "/").replace("\\cdot", "*")
    expr = _X_TIMES.sub(" * ", expr)
    return expr.strip().strip("$").strip()


def precheck(expr: str) -> None:
    """Cheap bounds that must hold before the text reaches `ast.parse`."""
    if len(expr) > MAX_CHARS:
        raise ArithError(GradeReason.TOO_LONG, f"expression has {len(expr)} characters (max {MAX_CHARS})")
    if not expr.isascii():
        bad = next(c for c in expr if not c.isascii())
        raise ArithError(GradeReason.ILLEGAL_TOKEN, f"non-ASCII character {bad!r}")
    depth = 0
    for c in expr:
        if c == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise ArithError(GradeReason.TOO_LONG, f"parentheses nested deeper than {MAX_DEPTH}")
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise ArithError(GradeReason.PARSE_ERROR, "unbalanced ')'")
    if depth:
        raise ArithError(GradeReason.PARSE_ERROR, "unbalanced '('")
    if "**" in expr or "//" in expr or "%" in expr or "^" in expr:
        raise ArithError(GradeReason.ILLEGAL_TOKEN, "only + - * / are allowed")
    stray = next((c for c in expr if c not in _ALLOWED), None)
    if stray is not None:  # `1_6`, `# comment`, names, floats: Python syntax that is not arithmetic on integers
        raise ArithError(GradeReason.ILLEGAL_TOKEN, f"character {stray!r} is not part of + - * / arithmetic")
    for m in _DIGIT_RUN.finditer(expr):
        if len(m.group()) > MAX_DIGITS:
            raise ArithError(GradeReason.TOO_LONG, f"number with {len(m.group())} digits (max {MAX_DIGITS})")


def _check_size(v: Fraction) -> Fraction:
    if v.numerator.bit_length() > MAX_BITS or v.denominator.bit_length() > MAX_BITS:
        raise ArithError(GradeReason.TOO_LONG, "intermediate value too large")
    return v


def _walk(node: ast.AST, leaves: list[int], budget: list[int]) -> Fraction:
    budget[0] -= 1
    if budget[0] < 0:
        raise ArithError(GradeReason.TOO_LONG, f"more than {MAX_NODES} syntax nodes")
    if isinstance(node, ast.Expression):
        return _walk(node.body, leaves, budget)
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int):
            raise ArithError(GradeReason.ILLEGAL_TOKEN, f"literal {v!r} is not an integer")
        leaves.append(v)
        return Fraction(v)
    if isinstance(node, ast.BinOp):
        a = _walk(node.left, leaves, budget)
        b = _walk(node.right, leaves, budget)
        op = node.op
        if isinstance(op, ast.Add):
            return _check_size(a + b)
        if isinstance(op, ast.Sub):
            return _check_size(a - b)
        if isinstance(op, ast.Mult):
            return _check_size(a * b)
        if isinstance(op, ast.Div):
            if b == 0:
                raise ArithError(GradeReason.DIVISION_BY_ZERO, "division by zero")
            return _check_size(a / b)
        raise ArithError(GradeReason.ILLEGAL_TOKEN, f"operator {type(op).__name__} is not allowed")
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            return -_walk(node.operand, leaves, budget)
        if isinstance(node.op, ast.UAdd):
            return _walk(node.operand, leaves, budget)
        raise ArithError(GradeReason.ILLEGAL_TOKEN, f"unary {type(node.op).__name__} is not arithmetic")
    raise ArithError(GradeReason.ILLEGAL_TOKEN, f"{type(node).__name__} is not arithmetic")


def parse(expr: str) -> ast.Expression:
    """Normalise, check every bound, then parse: the tree holds only int literals, + - * / and unary + -."""
    if _RADIX.search(expr):
        raise ArithError(GradeReason.ILLEGAL_TOKEN, "only decimal numbers are allowed (no 0x / 0o / 0b literals)")
    expr = normalise(expr)
    if not expr:
        raise ArithError(GradeReason.NO_ANSWER, "empty expression")
    precheck(expr)
    try:
        return ast.parse(expr, mode="eval")
    except SyntaxError as e:
        raise ArithError(GradeReason.PARSE_ERROR, f"not an expression: {e.msg}") from None
    except (RecursionError, MemoryError, ValueError) as e:  # defensive: precheck should prevent these
        raise ArithError(GradeReason.TOO_LONG, f"parser refused: {type(e).__name__}") from None


def evaluate_tree(tree: ast.Expression) -> tuple[Fraction, list[int]]:
    """Exact value of a parsed tree and its integer literals in left-to-right order."""
    leaves: list[int] = []
    return _walk(tree, leaves, [MAX_NODES]), leaves


_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_SIGNS = {ast.USub: "-", ast.UAdd: "+"}


def tree_text(tree: ast.AST, leaf_text: list[str]) -> str:
    """The tree as text with its literals replaced, in order, by `leaf_text`; every sub-operation parenthesised."""
    it = iter(leaf_text)

    def rec(node: ast.AST) -> str:
        if isinstance(node, ast.Expression):
            return rec(node.body)
        if isinstance(node, ast.BinOp):
            left, right = rec(node.left), rec(node.right)
            left = f"({left})" if isinstance(node.left, ast.BinOp) else left
            right = f"({right})" if isinstance(node.right, ast.BinOp) else right
            return f"{left} {_OPS[type(node.op)]} {right}"
        if isinstance(node, ast.UnaryOp):
            inner = rec(node.operand)
            return (
                f"{_SIGNS[type(node.op)]}({inner})"
                if isinstance(node.operand, ast.BinOp)
                else _SIGNS[type(node.op)] + inner
            )
        return next(it)

    return rec(tree)


def evaluate(expr: str) -> Evaluated:
    """Evaluate a bounded +-*/ expression over integer literals exactly; raise ArithError otherwise.

    Plain ASCII arithmetic goes through `fast_evaluate` (no ast, integer pairs); anything it does not
    accept outright (errors, odd spellings, values near a bound) takes the checked ast path, so every
    verdict and error reason is the ast path's."""
    got = fast_evaluate(expr)
    if got is not None:
        return Evaluated(got[0], Counter(got[1]))
    value, leaves = evaluate_tree(parse(expr))
    return Evaluated(value, Counter(leaves))


_PLAIN = str.maketrans("", "", "0123456789+-*/() ")
_TOKEN = re.compile(r"\d+|[-+*/()]")


def fast_evaluate(expr: str) -> tuple[Fraction, list[int]] | None:
    """(value, literals in order) of a well-formed plain expression, or None: ask the ast path.

    Accepts only what the ast path accepts with the same result: ASCII digits, + - * / ( ) and spaces;
    no leading zeros, no unary operators (the ast path takes those), every bound (length, depth, digits, nodes, bits) kept."""
    if len(expr) > MAX_CHARS or expr.translate(_PLAIN) or not expr.strip():
        return None
    leaves: list[int] = []
    nums: list[int] = []  # value stack as numerator/denominator pairs (unreduced)
    dens: list[int] = []
    ops: list[str] = []  # operator stack; "(" marks a group
    operand = True  # an operand (number or "(") comes next
    depth = 0
    for t in _TOKEN.findall(expr):
        if operand:
            if t == "(":
                depth += 1
                if depth > MAX_DEPTH:
                    return None
                ops.append(t)
                continue
            if not t.isdigit() or len(t) > MAX_DIGITS or (t[0] == "0" and t.strip("0")):  # 05: Python rejects it
                return None  # unary operators, ")" too early, long or leading-zero literals
            v = int(t)
            leaves.append(v)
            nums.append(v)
            dens.append(1)
            operand = False
        elif t == ")":
            while ops and ops[-1] != "(":
                if not _apply(ops.pop(), nums, dens):
                    return None
            if not ops:
                return None
            ops.pop()
            depth -= 1
        elif t == "(" or t.isdigit():
            return None  # "3 (4)", "3 4": the ast path words these
        else:
            hi = t in "*/"
            while ops and ops[-1] != "(" and (ops[-1] in "*/" or not hi):
                if not _apply(ops.pop(), nums, dens):
                    return None
            ops.append(t)
            operand = True
    if operand or depth:
        return None
    while ops:
        if not _apply(ops.pop(), nums, dens):
            return None
    if 2 * len(leaves) > MAX_NODES:  # nodes: literals + operators + the root = 2 * literals
        return None
    return Fraction(nums[0], dens[0]), leaves


def _apply(op: str, nums: list[int], dens: list[int]) -> bool:
    """Pop two values, push `a op b`; False for the checked path (division by zero, values near MAX_BITS)."""
    c, d = nums.pop(), dens.pop()
    a, b = nums.pop(), dens.pop()
    if op == "+":
        a, b = (a + c, 1) if b == d == 1 else (a * d + c * b, b * d)
    elif op == "-":
        a, b = (a - c, 1) if b == d == 1 else (a * d - c * b, b * d)
    elif op == "*":
        a, b = a * c, b * d
    else:
        if c == 0:
            return False
        a, b = a * d, b * c
    if a.bit_length() > MAX_BITS or b.bit_length() > MAX_BITS:
        return False
    nums.append(a)
    dens.append(b)
    return True


def fraction_text(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"
