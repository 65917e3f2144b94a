"""Questions about the shape of Python syntax trees: dotted names, literals, conditions, patterns."""

from __future__ import annotations

import ast

from reviewer.dataflow.values import CLEAN, Val, constant


def dotted(node: ast.AST) -> str:
    """`a.b.c` for a name or attribute chain; `?` stands for anything else in the chain."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    parts.append(node.id if isinstance(node, ast.Name) else "?")
    return ".".join(reversed(parts))


def equal_literals(test: ast.expr, *, positive: bool) -> list[tuple[ast.expr, Val]]:
    """What a branch knows from its condition: `x == 'a'` (`x != 'a'` on the else side) makes `x`
    the constant 'a'; `x in ('a', 'b')` makes it one of those constants, which carries no input.

    Only conditions that must all hold count (an `and` in the body, an `or` of `!=` in the else),
    only literal strings, bytes and numbers, and only names or attribute/item chains of names
    and literals: `f(x) == 'a'` says nothing about what `f(x)` returns next time."""
    parts: list[ast.expr] = [test]
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And if positive else ast.Or):
        parts = list(test.values)
    facts: list[tuple[ast.expr, Val]] = []
    for part in parts:
        if not isinstance(part, ast.Compare) or len(part.ops) != 1:
            continue
        op, left, right = part.ops[0], part.left, part.comparators[0]
        if isinstance(op, ast.Eq if positive else ast.NotEq):
            for subject, other in ((left, right), (right, left)):
                if _is_plain_literal(other) and _is_pure_chain(subject):
                    facts.append((subject, constant(other.value)))  # type: ignore[attr-defined]
                    break
        elif isinstance(op, ast.In if positive else ast.NotIn) and _is_pure_chain(left) \
                and isinstance(right, (ast.Tuple, ast.List, ast.Set)) and right.elts \
                and all(_is_plain_literal(e) for e in right.elts):
            facts.append((left, CLEAN))
    return facts


def _is_plain_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (str, bytes, int, float)


def _is_pure_chain(node: ast.expr) -> bool:
    """A name, or attributes and items of one taken with literal keys: reading it twice gives the same."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Constant):
            return False
        node = node.value
    return isinstance(node, ast.Name)


def root_name(node: ast.AST) -> str:
    """The name an attribute/item chain starts from (`form` for `form['a'].b`, and for the
    call `form.update(...)`); "" when it starts from anything else."""
    if isinstance(node, ast.Call):
        node = node.func
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def pattern_matches(pattern: ast.pattern, subject: Val) -> bool | None:
    """True/False when a constant subject decides the case, None when it cannot be known."""
    if isinstance(pattern, ast.MatchAs) and pattern.pattern is None:
        return True  # `case _:` or `case name:`
    if not subject.known:
        return None
    if isinstance(pattern, ast.MatchValue) and isinstance(pattern.value, ast.Constant):
        return bool(subject.const == pattern.value.value)
    if isinstance(pattern, ast.MatchSingleton):
        return subject.const is pattern.value
    if isinstance(pattern, ast.MatchOr):
        verdicts = [pattern_matches(p, subject) for p in pattern.patterns]
        return True if True in verdicts else (False if all(v is False for v in verdicts) else None)
    return None


def is_text_literal(node: ast.expr) -> bool:
    """A string, or a list/tuple/set of strings: what a content check compares with (`-1` is no content)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (str, bytes))
    return isinstance(node, (ast.List, ast.Tuple, ast.Set)) and bool(node.elts) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, (str, bytes)) for e in node.elts)


def as_load(target: ast.expr) -> ast.expr:
    """The target of `x += y` read as an expression."""
    node = ast.parse(ast.unparse(target), mode="eval").body
    return ast.copy_location(node, target)
