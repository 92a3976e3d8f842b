"""Small arithmetic and boolean expressions over table columns, parsed with :mod:`ast` and never ``eval``-ed.

A user writes the rule that makes a target (``--target-rule 'a*b'``) or picks items (``--keep-items 'a >= 10 and
b >= 10'``) on the command line; this module turns such a string into a vectorised function of the named columns.
Allowed: whole or decimal numbers, the column names given, ``+ - * // % **`` (an exponent must be a whole number
from 0 to 10), unary ``-``/``+``, comparisons ``== != < <= > >=`` (chained too), ``and``, ``or``, ``not`` and
parentheses. Everything else (calls, attributes, subscripts, strings, names that are not columns, ``/``) is one
:class:`InputError` naming the part that is not allowed.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from src.results.errors import InputError

MAX_CHARS = 200
_BIN = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: np.power,
}
_CMP = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
ALLOWED = (
    "numbers, the columns {cols}, + - * // % ** (whole exponent 0..10), comparisons, and/or/not, parentheses"
)


def _refuse(flag: str, text: str, what: str, cols: Iterable[str]) -> InputError:
    return InputError(
        f"{flag} {text!r}: {what} is not allowed",
        fix="write a small expression of " + ALLOWED.format(cols=", ".join(sorted(cols)) or "(none)"),
    )


def compile_expr(
    text: str, columns: Iterable[str], *, flag: str, boolean: bool
) -> tuple[Callable[[Mapping[str, np.ndarray]], np.ndarray], list[str]]:
    """(function of a column mapping -> array, the column names it reads) for ``text``.

    ``boolean``: the expression must say true or false per row (a filter), else it must be a number (a rule)."""
    cols = set(columns)
    text = str(text).strip()
    if not text or len(text) > MAX_CHARS:
        raise InputError(f"{flag} must be an expression of 1 to {MAX_CHARS} characters, got {text!r}",
                         fix="e.g. --target-rule 'a*b'")  # fmt: skip
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        raise InputError(f"{flag} {text!r} is not an expression ({err.msg})", fix="e.g. 'a*b'") from None
    used: list[str] = []

    def check(node: ast.AST) -> str:
        """'num' or 'bool': what the node gives; refuses every node kind not listed in the module doc."""
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise _refuse(flag, text, f"the constant {node.value!r}", cols)
            return "num"
        if isinstance(node, ast.Name):
            if node.id not in cols:
                raise _refuse(flag, text, f"the name {node.id!r} (not a column of the table)", cols)
            if node.id not in used:
                used.append(node.id)
            return "num"
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BIN:
                raise _refuse(flag, text, f"the operator {type(node.op).__name__}", cols)
            if isinstance(node.op, ast.Pow) and not (
                isinstance(node.right, ast.Constant)
                and isinstance(node.right.value, int)
                and not isinstance(node.right.value, bool)
                and 0 <= node.right.value <= 10
            ):
                raise _refuse(flag, text, "an exponent other than a whole number 0..10", cols)
            if check(node.left) != "num" or check(node.right) != "num":
                raise _refuse(flag, text, "arithmetic on a comparison", cols)
            return "num"
        if isinstance(node, ast.UnaryOp):
            kind = check(node.operand)
            if isinstance(node.op, ast.Not):
                if kind != "bool":
                    raise _refuse(flag, text, "'not' of a number", cols)
                return "bool"
            if isinstance(node.op, ast.USub | ast.UAdd) and kind == "num":
                return "num"
            raise _refuse(flag, text, f"the operator {type(node.op).__name__}", cols)
        if isinstance(node, ast.Compare):
            if not all(type(op) in _CMP for op in node.ops):
                raise _refuse(flag, text, "that comparison", cols)
            if any(check(n) != "num" for n in [node.left, *node.comparators]):
                raise _refuse(flag, text, "comparing comparisons", cols)
            return "bool"
        if isinstance(node, ast.BoolOp):
            if any(check(v) != "bool" for v in node.values):
                raise _refuse(flag, text, "'and'/'or' of numbers", cols)
            return "bool"
        raise _refuse(flag, text, f"a {type(node).__name__}", cols)

    kind = check(tree.body)
    if boolean and kind != "bool":
        raise InputError(
            f"{flag} {text!r} gives a number, not true or false", fix="e.g. 'a >= 10 and b >= 10'"
        )
    if not boolean and kind != "num":
        raise InputError(f"{flag} {text!r} gives true or false, not a number", fix="e.g. 'a*b'")

    def ev(node: ast.AST, env: Mapping[str, np.ndarray]):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.BinOp):
            left, right = ev(node.left, env), ev(node.right, env)
            if isinstance(node.op, ast.FloorDiv | ast.Mod) and np.any(np.asarray(right) == 0):
                raise InputError(f"{flag} {text!r} divides by zero on some rows", fix="guard the divisor")
            return _BIN[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand, env)
            return (
                np.logical_not(v)
                if isinstance(node.op, ast.Not)
                else (-v if isinstance(node.op, ast.USub) else v)
            )
        if isinstance(node, ast.Compare):
            out, left = None, ev(node.left, env)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = ev(comp, env)
                part = _CMP[type(op)](left, right)
                out = part if out is None else np.logical_and(out, part)
                left = right
            return out
        values = [ev(v, env) for v in node.values]  # BoolOp
        f = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        out = values[0]
        for v in values[1:]:
            out = f(out, v)
        return out

    def run(env: Mapping[str, np.ndarray]) -> np.ndarray:
        n = len(next(iter(env.values()))) if env else 1
        with np.errstate(over="raise"):
            try:
                v = ev(tree.body, env)
            except FloatingPointError:
                raise InputError(
                    f"{flag} {text!r} overflows on some rows", fix="use smaller numbers"
                ) from None
        return np.broadcast_to(np.asarray(v), (n,)).copy()

    return run, used
