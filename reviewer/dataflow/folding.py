"""Constant folding that stays small: `7 * 18 + num > 200` folds, `'a' * 10**9` does not."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable

from reviewer.dataflow.values import Val, constant, sequence

BINOPS: dict[type, Callable[[object, object], object]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod, ast.Div: operator.truediv,
}
COMPARES: dict[type, Callable[[object, object], object]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,  # type: ignore[operator]
    ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
# String methods folded on constants: only those whose result is no longer than their inputs
# (`replace`, `format` and `%` can build a string of any size out of a short one).
FOLDABLE_STR_METHODS = frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith",
                                   "split", "find", "encode", "decode", "title", "capitalize"})
MAX_CONST = 10_000  # longest string folded (ints: up to 10**12); larger ones are left unknown


def small_result(op: ast.operator, left: object, right: object) -> bool:
    """Whether folding `left op right` stays small: `'a' * 10**9` or `'%9999999d' % 1` is not computed."""
    if isinstance(op, ast.Mod) and isinstance(left, (str, bytes)):
        return False
    if isinstance(op, ast.Mult):
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, bytes, tuple, list)) and isinstance(times, int):
                return len(seq) * max(times, 0) <= MAX_CONST
    return True


def fold(fn: Callable[..., object], *operands: object) -> Val | None:
    try:
        result = fn(*operands)
    except Exception:  # noqa: BLE001 - folding an expression the program itself may not run
        return None
    if isinstance(result, (str, bytes)) and len(result) > MAX_CONST:
        return None
    if isinstance(result, int) and abs(result) > 10**12:
        return None
    if isinstance(result, (list, tuple)) and all(isinstance(x, (str, int, float, bool, bytes)) for x in result):
        return sequence([constant(x) for x in result])
    if isinstance(result, (str, bytes, int, float, bool, type(None), slice)):
        return constant(result)
    return None

