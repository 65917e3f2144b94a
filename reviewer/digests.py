"""Which lines of a Python file store or send nothing but hash digests?

The model calls `f.write(f'hash_value={base64.b64encode(result)}')` "Sensitive data
stored in plain text" when `result` is `hashlib.sha384(...).digest()`: a digest is what
should be stored instead of the secret, so that claim is wrong about the code. This
module answers the one question grounding needs for it: on a given line, is every value
that the line's calls take (their arguments, not the object or module they are called
on) derived from a hash digest, and at least one is?

Derived from a digest: the result of `.digest()`, `.hexdigest()`, `hashlib.*`,
`hmac.*`, `bcrypt.hashpw`, `pbkdf2_hmac`, `scrypt`, or of an encoding of such a value
(`base64.b64encode`, `.hex()`, `str()`, an f-string of it...). Names are followed through
plain assignments within the function around the line, in source order, with no branch
sensitivity: a name assigned anything else anywhere in that function is not a digest.
That is cautious on purpose: the answer lowers a claim, so "yes" has to be right.
"""

from __future__ import annotations

import ast

from reviewer.pysource import parse_python

# Calls whose result is a digest, by the last part of their dotted name.
_DIGEST_CALLS = frozenset({"digest", "hexdigest", "hashpw", "pbkdf2_hmac", "scrypt", "derive"})
_DIGEST_MODULES = frozenset({"hashlib", "hmac", "bcrypt", "argon2", "passlib"})
# Calls that keep a digest a digest: encodings and conversions of their argument.
_ENCODINGS = frozenset({"b64encode", "urlsafe_b64encode", "b32encode", "b16encode", "hexlify", "encodebytes",
                        "hex", "str", "bytes", "decode", "encode", "__fstring__", "format", "upper", "lower"})


def _dotted(node: ast.AST) -> list[str]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return parts[::-1]


class _Digests:
    """The names of one function that hold only digests."""

    def __init__(self, body: list[ast.stmt]) -> None:
        self.names: set[str] = set()
        spoiled: set[str] = set()
        for node in _walk_in_order(body):
            for target, value in _assignments(node):
                if isinstance(target, ast.Name):
                    if value is not None and self.is_digest(value) and target.id not in spoiled:
                        self.names.add(target.id)
                    else:
                        spoiled.add(target.id)
                        self.names.discard(target.id)

    def is_digest(self, node: ast.expr) -> bool:
        """Whether the expression's value is derived from a digest (and from nothing else but constants)."""
        if isinstance(node, ast.Name):
            return node.id in self.names
        if isinstance(node, ast.Call):
            parts = _dotted(node.func)
            if parts and (parts[-1] in _DIGEST_CALLS or parts[0] in _DIGEST_MODULES):
                return True
            receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
            if parts and parts[-1] in _ENCODINGS:
                values = [*node.args, *(k.value for k in node.keywords)]
                if receiver is not None and not _is_module(receiver):
                    values.append(receiver)  # result.hex(), result.decode()
                return self.all_digests(values)
            return False
        if isinstance(node, ast.JoinedStr):
            return self.all_digests([v.value for v in node.values if isinstance(v, ast.FormattedValue)])
        if isinstance(node, ast.BinOp):
            return self.all_digests([node.left, node.right])
        return False

    def all_digests(self, values: list[ast.expr]) -> bool:
        """Whether the values hold a digest and otherwise only constants."""
        found = False
        for value in values:
            if isinstance(value, ast.Constant):
                continue
            if not self.is_digest(value):
                return False
            found = True
        return found


def _is_module(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in {"base64", "binascii", "codecs", *_DIGEST_MODULES}


def _walk_in_order(body: list[ast.stmt]) -> list[ast.AST]:
    """Every node under `body`, statements in source order (ast.walk is breadth-first)."""
    return sorted((n for stmt in body for n in ast.walk(stmt) if hasattr(n, "lineno")),
                  key=lambda n: (n.lineno, n.col_offset))


def _assignments(node: ast.AST) -> list[tuple[ast.expr, ast.expr | None]]:
    """(target, value) pairs a node binds; value None where it is not one expression."""
    if isinstance(node, ast.Assign):
        return [(t, node.value) for t in node.targets]
    if isinstance(node, ast.AnnAssign):
        return [(node.target, node.value)]
    if isinstance(node, ast.NamedExpr):
        return [(node.target, node.value)]
    if isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor, ast.withitem, ast.comprehension)):
        target = node.optional_vars if isinstance(node, ast.withitem) else node.target
        return [(t, None) for t in ast.walk(target) if isinstance(t, ast.Name)] if target is not None else []
    return []


def _innermost_body(tree: ast.Module, line: int) -> list[ast.stmt]:
    """The body of the innermost function around `line` (the module's, outside any)."""
    around = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
              and n.lineno <= line <= (n.end_lineno or n.lineno)]
    return max(around, key=lambda n: n.lineno).body if around else tree.body


def stores_only_digests(source: str, line: int) -> bool:
    """Whether the calls on `line` of the Python `source` take only digests (and constants)
    as their arguments, at least one of them a digest. False when the file does not parse."""
    tree = parse_python(source)
    if tree is None:
        return False
    digests = _Digests(_innermost_body(tree, line))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.lineno <= line <= (n.end_lineno or n.lineno)
             and _dotted(n.func)[-1:] != ["__fstring__"]]
    outer = [c for c in calls if not any(c is not o and _contains(o, c) for o in calls)]
    values = [v for c in outer for v in (*c.args, *(k.value for k in c.keywords))]
    return bool(values) and digests.all_digests(values)


def _contains(outer: ast.AST, inner: ast.AST) -> bool:
    return any(n is inner for n in ast.walk(outer))
