"""Evaluating expressions over abstract values, binding them to targets, and recording flows into sinks."""

from __future__ import annotations

import ast
import operator

from reviewer.dataflow.calls import container_method, is_location, is_source, removes_quote, sink_of
from reviewer.dataflow.folding import BINOPS, COMPARES, FOLDABLE_STR_METHODS, MAX_CONST, fold, small_result
from reviewer.dataflow.syntax import dotted
from reviewer.dataflow.tables import (
    ALL_KINDS,
    DECODERS,
    EMPTY_MAPPINGS,
    ENCODERS,
    MUTATORS,
    NEUTRAL,
    QUOTED_CONTEXTS,
    READS_STORED_DATA,
    RESPONSE_CALLS,
    SANITIZERS,
    SOURCE_NAMES,
)
from reviewer.dataflow.values import (
    CLEAN,
    LOCAL,
    USER,
    Env,
    Flow,
    Route,
    Val,
    carried,
    constant,
    hashable,
    join,
    mapping,
    reaching,
    sequence,
    stored,
    tainted,
)
from reviewer.pysource import FSTRING_CALL


class Expressions:
    """The values of one function's expressions; the statements around them are walker._Function's."""

    def __init__(self, route: Route | None) -> None:
        self.route = route
        self.flows: list[Flow] = []
        self.origins: dict[str, set[str]] = {}  # variable -> variables its value was computed from
        # Python's XML parsers (and lxml 5) resolve no external entities unless asked to
        self.external_entities = False
        # `request.form['user']` inside `if request.form['user'] == 'admin':` is 'admin' (ast.dump -> value)
        self.narrowed: dict[str, Val] = {}

    # --- binding ------------------------------------------------------------------------

    def bind(self, target: ast.expr, value: Val, source: ast.expr, env: Env, augmented: bool = False) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
            names = {n.id for n in ast.walk(source) if isinstance(n, ast.Name)}
            self.origins[target.id] = (self.origins.get(target.id, set()) if augmented else set()) | names
        elif isinstance(target, (ast.Tuple, ast.List)):
            items = value.items if value.items is not None and len(value.items) == len(target.elts) else None
            for i, element in enumerate(target.elts):
                self.bind(element, items[i] if items else carried((value,)), source, env)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, carried((value,)), source, env)
        elif isinstance(target, ast.Subscript):
            self.store_item(target, value, env)
        elif isinstance(target, ast.Attribute):
            self.expr(target.value, env)

    def store_item(self, target: ast.Subscript, value: Val, env: Env) -> None:
        container = dotted(target.value)
        key = self.expr(target.slice, env)
        owner = container.rsplit(".", 1)[-1]
        if owner in ("session", "headers"):
            kind = "session" if owner == "session" else "redirect" if is_location(key) else "header"
            bits = reaching((value, key), kind)
            if bits:
                self.flows.append(Flow(target.lineno, kind, container, bits))
        if not isinstance(target.value, ast.Name):
            self.expr(target.value, env)
            return
        old = env.get(target.value.id, CLEAN)
        env[target.value.id] = stored(old, key, value)

    # --- expressions --------------------------------------------------------------------

    def expr(self, node: ast.expr, env: Env) -> Val:
        if isinstance(node, ast.Constant):
            return constant(node.value)
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            return tainted(USER) if node.id in SOURCE_NAMES else CLEAN
        if self.narrowed and isinstance(node, (ast.Attribute, ast.Subscript)):
            fact = self.narrowed.get(ast.dump(node))
            if fact is not None:
                return fact
        if isinstance(node, ast.Attribute):
            chain = dotted(node)
            if chain == "request.path" and "request" not in env and self.route is not None and self.route.path:
                return constant(self.route.path)  # a fixed route: the path is known
            if is_source(chain, env):
                return tainted(LOCAL)
            return carried((self.expr(node.value, env),))
        if isinstance(node, ast.Call):
            return self.call(node, env)
        if isinstance(node, ast.BinOp):
            return self.binop(node.op, self.expr(node.left, env), self.expr(node.right, env))
        if isinstance(node, ast.UnaryOp):
            operand = self.expr(node.operand, env)
            if operand.known and isinstance(node.op, ast.Not):
                return constant(not operand.const)
            if operand.known and isinstance(node.op, ast.USub) and isinstance(operand.const, (int, float)):
                return constant(-operand.const)
            return carried((operand,))
        if isinstance(node, ast.BoolOp):
            return self.boolop(node, env)
        if isinstance(node, ast.Compare):
            return self.compare(node, env)
        if isinstance(node, ast.IfExp):
            test = self.expr(node.test, env)
            if test.known:
                return self.expr(node.body if test.const else node.orelse, env)
            return join(self.expr(node.body, env), self.expr(node.orelse, env))
        if isinstance(node, ast.JoinedStr):
            return self.fstring(node, env)
        if isinstance(node, ast.FormattedValue):
            return carried((self.expr(node.value, env),))
        if isinstance(node, (ast.List, ast.Tuple)):
            values = [self.expr(e, env) for e in node.elts]
            if any(isinstance(e, ast.Starred) for e in node.elts):
                return carried(values)
            return sequence(values)
        if isinstance(node, ast.Dict):
            keys = [self.expr(k, env) if k is not None else CLEAN for k in node.keys]
            values = [self.expr(v, env) for v in node.values]
            if all(k.known and hashable(k.const) for k in keys) and None not in node.keys:
                return mapping((k.const, v) for k, v in zip(keys, values))
            return carried(keys + values)
        if isinstance(node, ast.Subscript):
            return self.subscript(node, env)
        if isinstance(node, ast.Starred):
            return carried((self.expr(node.value, env),))
        if isinstance(node, ast.NamedExpr):
            value = self.expr(node.value, env)
            self.bind(node.target, value, node.value, env)
            return value
        if isinstance(node, ast.Lambda):
            return CLEAN
        if isinstance(node, ast.Slice):
            parts = [self.expr(p, env) for p in (node.lower, node.upper, node.step) if p is not None]
            if all(p.known for p in parts):
                return constant(slice(*(self.expr(p, env).const if p is not None else None
                                        for p in (node.lower, node.upper, node.step))))
            return carried(parts)
        return self.generic(node, env)

    def generic(self, node: ast.expr, env: Env) -> Val:
        """Comprehensions, awaits, sets...: whatever any name or call inside carries."""
        scope = dict(env)
        values: list[Val] = []
        for child in ast.walk(node):
            if isinstance(child, ast.comprehension):
                element = self.element(self.expr(child.iter, scope))
                self.bind(child.target, element, child.iter, scope)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                values.append(self.expr(child, scope))
            elif isinstance(child, ast.comprehension):
                values.append(self.expr(child.iter, scope))
        return carried(values)

    def element(self, container: Val) -> Val:
        """What iterating over `container` yields."""
        if container.items:
            return carried(container.items)
        if container.entries is not None:
            return CLEAN  # iterating a dict yields its constant keys
        return carried((container,))

    def binop(self, op: ast.operator, left: Val, right: Val) -> Val:
        operation = BINOPS.get(type(op))
        if operation and left.known and right.known and small_result(op, left.const, right.const):
            folded = fold(operation, left.const, right.const)
            if folded is not None:
                return folded
        if isinstance(op, ast.Add) and left.items is not None and right.items is not None:
            return sequence(left.items + right.items)
        return carried((left, right))

    def boolop(self, node: ast.BoolOp, env: Env) -> Val:
        values = [self.expr(v, env) for v in node.values]
        if all(v.known for v in values):
            result = values[0].const
            for v in values[1:]:
                result = (result and v.const) if isinstance(node.op, ast.And) else (result or v.const)
            return constant(result)
        return carried(values)

    def compare(self, node: ast.Compare, env: Env) -> Val:
        values = [self.expr(node.left, env), *(self.expr(c, env) for c in node.comparators)]
        if all(v.known for v in values):
            result = True
            for op, left, right in zip(node.ops, values, values[1:]):
                folded = fold(COMPARES[type(op)], left.const, right.const)
                if folded is None:
                    return CLEAN
                result = result and bool(folded.const)
            return constant(result)
        return CLEAN  # a truth value carries no injection

    def fstring(self, node: ast.JoinedStr, env: Env) -> Val:
        parts: list[str] = []
        inners: list[Val] = []
        known = True
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
                continue
            assert isinstance(value, ast.FormattedValue)
            inner = self.expr(value.value, env)
            if value.format_spec is not None:
                self.expr(value.format_spec, env)
            inners.append(inner)
            plain = value.conversion == -1 and value.format_spec is None
            if inner.known and plain and isinstance(inner.const, (str, int)):
                parts.append(str(inner.const))
            else:
                known = False
        text = "".join(parts)
        return constant(text) if known and len(text) <= MAX_CONST else carried(inners)

    def subscript(self, node: ast.Subscript, env: Env) -> Val:
        container = self.expr(node.value, env)
        index = self.expr(node.slice, env)
        if index.known:
            if container.items is not None:
                try:
                    picked = container.items[index.const]  # type: ignore[index]
                except (IndexError, TypeError):
                    return carried((container,))
                return sequence(picked) if isinstance(index.const, slice) else picked  # type: ignore[arg-type]
            if container.entries is not None and hashable(index.const):
                return dict(container.entries).get(index.const, CLEAN)
            if container.known and isinstance(container.const, (str, bytes, tuple)):
                folded = fold(operator.getitem, container.const, index.const)
                if folded is not None:
                    return folded
        return carried((container,))  # an untainted container holds no input, whatever picks from it

    def call(self, node: ast.Call, env: Env) -> Val:
        name = dotted(node.func)
        if name == FSTRING_CALL:  # an f-string, as pyparse rewrites them for Python 3.11
            return self.fstring(ast.JoinedStr(values=[ast.FormattedValue(a, -1, None) for a in node.args]), env)
        last = name.rsplit(".", 1)[-1]
        receiver = self.expr(node.func.value, env) if isinstance(node.func, ast.Attribute) else CLEAN
        args = [self.expr(a, env) for a in node.args]
        kwargs = {k.arg: self.expr(k.value, env) for k in node.keywords}
        if (last == "setFeature" and len(args) == 2 and args[1].known and args[1].const) or any(
                k in ("resolve_entities", "load_dtd", "no_network") and v.known and v.const is (k != "no_network")
                for k, v in kwargs.items()):
            self.external_entities = True
        if self.check_sink(node, name, last, receiver, args, kwargs) in READS_STORED_DATA:
            return CLEAN  # rows, nodes, entries, file handles: data the program holds, not the request
        everything = carried((receiver, *args, *kwargs.values()))
        if is_source(name, env):
            return tainted(LOCAL)
        if last in NEUTRAL:
            return CLEAN
        if last in DECODERS:
            return everything._replace(safe=frozenset())
        neutralised = ALL_KINDS if last in ENCODERS else SANITIZERS.get(last) or SANITIZERS.get(name)
        if neutralised and everything.taint:
            return everything._replace(safe=everything.safe | neutralised)
        if last == "replace" and len(args) >= 2 and removes_quote(args[0], args[1]):
            return everything._replace(safe=everything.safe | QUOTED_CONTEXTS)
        if last in RESPONSE_CALLS:
            body = args[0] if args else kwargs.get("response", CLEAN)
            if body.items:  # make_response((body, headers)): only the body is rendered
                body = body.items[0]
            return carried((body,))
        if last in EMPTY_MAPPINGS and not args:
            return mapping(())
        if last in ("list", "tuple") and not args:
            return sequence(())
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            mutated = container_method(node.func.value.id, last, receiver, args, env)
            if mutated is not None:
                return mutated
        if (receiver.known and isinstance(receiver.const, (str, bytes)) and last in FOLDABLE_STR_METHODS
                and all(a.known for a in args) and not kwargs):
            folded = fold(lambda r, a: getattr(r, last)(*a), receiver.const, tuple(a.const for a in args))
            if folded is not None:
                return folded
        if (last in MUTATORS and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                and everything.taint):
            env[node.func.value.id] = everything  # `buffer.write(x)`: the buffer now holds x
        if last == "join" and args and args[0].items is not None:
            return carried((receiver, *args[0].items))
        return everything

    def check_sink(self, node: ast.Call, name: str, last: str, receiver: Val, args: list[Val],
                   kwargs: dict[str | None, Val]) -> str | None:
        """The kind of sink the call is (None: no sink); a flow is recorded when taint reaches it."""
        kind, bits = sink_of(node, name, last, receiver, args, kwargs, self.external_entities)
        if kind and bits:
            self.flows.append(Flow(node.lineno, kind, name, bits))
        return kind
