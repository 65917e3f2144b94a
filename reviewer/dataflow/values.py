"""The abstract values the analysis computes (taint labels, constants, containers) and the report it returns.

- **values**: each variable is tracked as an abstract value: tainted or not, a known
  constant where one can be computed (`num = 106; 7 * 42 - num > 200` folds), and the
  elements of lists, dicts and config parsers built with constant keys and indices, so
  that `lst.append(param); lst.pop(0); bar = lst[1]` knows which element `bar` is.
  Where two paths meet, a variable may hold either value (tainted if either is).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

USER = 1  # read from a request: someone else's data
PARAM = 2  # a function parameter: may be anything
LOCAL = 4  # the command line, stdin, the environment: the operator's own input


class Val(NamedTuple):
    """An abstract value: taint bits, a constant when known, list elements or dict entries when known."""

    taint: int = 0
    const: object = None
    known: bool = False  # const is meaningful (None is a valid constant)
    items: tuple[Val, ...] | None = None  # list/tuple elements, in order
    entries: tuple[tuple[object, Val], ...] | None = None  # dict (or config parser) entries by constant key
    safe: frozenset[str] = frozenset()  # sink kinds the taint was neutralised for (html-escaped: "xss")


CLEAN = Val()


def constant(value: object) -> Val:
    return Val(const=value, known=True)


def tainted(bits: int) -> Val:
    return Val(taint=bits)


def sequence(items: Sequence[Val]) -> Val:
    return carried(items)._replace(items=tuple(items))


def mapping(entries: Iterable[tuple[object, Val]]) -> Val:
    entries = tuple(entries)
    return carried(v for _, v in entries)._replace(entries=entries)


def carried(values: Iterable[Val]) -> Val:
    """A value computed from `values`: their taint, neutralised only for kinds all tainted ones were."""
    bits = 0
    safe: frozenset[str] | None = None
    for value in values:
        if value.taint:
            bits |= value.taint
            safe = value.safe if safe is None else safe & value.safe
    return Val(taint=bits, safe=safe or frozenset())


def reaching(values: Iterable[Val], kind: str) -> int:
    """The taint of `values` that a sink of `kind` must not receive."""
    return _any_taint(v for v in values if kind not in v.safe)


def _any_taint(values: Iterable[Val]) -> int:
    bits = 0
    for value in values:
        bits |= value.taint
    return bits


def join(a: Val | None, b: Val | None) -> Val:
    """What a variable may hold after two paths meet."""
    if a is None:
        return b or CLEAN
    if b is None or a == b:
        return a
    if a.items is not None and b.items is not None and len(a.items) == len(b.items):
        return sequence([join(x, y) for x, y in zip(a.items, b.items)])
    if a.entries is not None and b.entries is not None:
        da, db = dict(a.entries), dict(b.entries)
        return mapping((k, join(da.get(k), db.get(k))) for k in da.keys() | db.keys())
    return carried((a, b))


def hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


Env = dict[str, Val]


def join_envs(a: Env | None, b: Env | None) -> Env | None:
    if a is None:
        return None if b is None else dict(b)
    if b is None:
        return dict(a)
    return {name: join(a.get(name), b.get(name)) for name in a.keys() | b.keys()}


def stored(container: Val, key: Val, value: Val) -> Val:
    """`container` after `container[key] = value`."""
    if key.known and container.entries is not None and hashable(key.const):
        entries = dict(container.entries)
        entries[key.const] = value
        return mapping(entries.items())
    if key.known and container.items is not None and isinstance(key.const, int):
        items = list(container.items)
        if -len(items) <= key.const < len(items):
            items[key.const] = value
            return sequence(items)
    return carried((container, value, key))


class Route(NamedTuple):
    """A request handler; `path` is its route when it has no variable parts (`/a/b`, not `/a/<x>`)."""

    path: str | None


# --- what the analysis reports ---------------------------------------------------------

class Flow(NamedTuple):
    line: int
    kind: str  # code, deserialization, command, sql, path, xpath, ldap, xml, redirect, request, session, header, xss
    sink: str  # the call, as written: "cur.execute", "eval", "return"
    taint: int  # USER, PARAM, LOCAL bits


class Scope(NamedTuple):
    """One function (or the module's top level) and what flows into its sinks."""

    name: str
    start: int
    end: int
    analyzed: bool
    flows: tuple[Flow, ...]


@dataclass
class TaintReport:
    scopes: list[Scope] = field(default_factory=list)

    def scope_at(self, line: int) -> Scope | None:
        """The innermost function around `line` (the module scope when no function is)."""
        inside = [s for s in self.scopes if s.start <= line <= s.end]
        return min(inside, key=lambda s: s.end - s.start, default=None)
