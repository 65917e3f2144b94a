"""Runs each function of a Python source over abstract values: statements, branches, loops, scopes.

Everything unknown is assumed to carry taint (an unknown call returns what its
arguments carry), so "no flow" is the claim that has to be right: `grounding` uses it to
lower the model's injection claims where no untrusted value reaches any sink. Branches
whose condition folds to a constant run alone (`if`, `x if c else y`, `match`); other
branches are joined. A branch knows what its condition pinned down: inside
`if request.form['user'] == 'admin':` that item is the constant 'admin' (`!=` on the else
side; `in` a tuple of literals: one of them), for names and attribute/item chains with
literal keys that the branch does not rebind. A guard that checks a value's content and
leaves (`if '../' in name: return`) clears what falls through. A function that cannot be
analysed (anything raises) reports `analyzed=False` and lowers nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence

from reviewer.dataflow.expressions import Expressions
from reviewer.dataflow.syntax import as_load, dotted, equal_literals, is_text_literal, pattern_matches, root_name
from reviewer.dataflow.tables import CONTENT_CHECKS, ROUTE_DECORATORS
from reviewer.dataflow.values import (
    CLEAN,
    PARAM,
    USER,
    Env,
    Flow,
    Route,
    Scope,
    TaintReport,
    Val,
    carried,
    join_envs,
    reaching,
    tainted,
)
from reviewer.pysource import parse_python

_MAX_REPEATED_LOOP_DEPTH = 4


def analyze_source(text: str) -> TaintReport | None:
    """Every function's flows, or None when the text does not parse as Python."""
    tree = parse_python(text)
    if tree is None:
        return None
    report = TaintReport()
    end = max((getattr(n, "end_lineno", 0) or 0 for n in ast.walk(tree)), default=0)
    _analyze_scope(report, "<module>", 1, end, tree.body, {}, route=None)
    return report


def _analyze_scope(report: TaintReport, name: str, start: int, end: int, body: list[ast.stmt],
                   env: Env, route: Route | None) -> None:
    analysis = _Function(report, route)
    try:
        analysis.block(body, dict(env))
    except (RecursionError, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
            ZeroDivisionError, MemoryError):
        # code this analysis does not handle: the function is marked unanalysed and lowers nothing
        report.scopes.append(Scope(name, start, end, False, ()))
        return
    report.scopes.append(Scope(name, start, end, True, tuple(analysis.flows)))


def _parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Env:
    args = fn.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return {n: tainted(USER | PARAM if n == "request" else PARAM) for n in names if n not in ("self", "cls")}


def _route(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Route | None:
    """The handler `fn` is, when a route decorator makes it one."""
    for decorator in fn.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if dotted(target).rsplit(".", 1)[-1] in ROUTE_DECORATORS:
            rule = decorator.args[0] if isinstance(decorator, ast.Call) and decorator.args else None
            fixed = isinstance(rule, ast.Constant) and isinstance(rule.value, str) and "<" not in rule.value
            return Route(rule.value if fixed else None)  # type: ignore[union-attr]
    return None


class _Function(Expressions):
    """Runs one function body over abstract values, collecting flows into sinks."""

    def __init__(self, report: TaintReport, route: Route | None) -> None:
        super().__init__(route)
        self.report = report
        self.loop_depth = 0

    # --- statements ---------------------------------------------------------------------

    def block(self, body: Sequence[ast.stmt], env: Env | None) -> Env | None:
        """The environment after `body`, or None when no path falls through."""
        for stmt in body:
            if env is None:
                return None
            env = self.statement(stmt, env)
        return env

    def statement(self, stmt: ast.stmt, env: Env) -> Env | None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _analyze_scope(self.report, stmt.name, stmt.lineno, stmt.end_lineno or stmt.lineno, stmt.body,
                           _parameters(stmt), _route(stmt))
            for decorator in stmt.decorator_list:
                self.expr(decorator, env)
            env[stmt.name] = CLEAN
            return env
        if isinstance(stmt, ast.ClassDef):
            return self.block(stmt.body, env) or env
        if isinstance(stmt, ast.Assign):
            value = self.expr(stmt.value, env)
            for target in stmt.targets:
                self.bind(target, value, stmt.value, env)
            return env
        if isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.bind(stmt.target, self.expr(stmt.value, env), stmt.value, env)
            return env
        if isinstance(stmt, ast.AugAssign):
            current = self.expr(as_load(stmt.target), env)
            value = self.binop(stmt.op, current, self.expr(stmt.value, env))
            self.bind(stmt.target, value, stmt.value, env, augmented=True)
            return env
        if isinstance(stmt, ast.Expr):
            self.expr(stmt.value, env)
            return env
        if isinstance(stmt, ast.Return):
            if stmt.value is not None:
                value = self.expr(stmt.value, env)
                bits = reaching((value,), "xss")
                if self.route is not None and bits & USER:
                    self.flows.append(Flow(stmt.lineno, "xss", "return", bits))
            return None
        if isinstance(stmt, ast.Raise):
            if stmt.exc is not None:
                self.expr(stmt.exc, env)
            return None
        if isinstance(stmt, (ast.Break, ast.Continue)):
            return env  # loops join their body's end with what came before: see loop()
        if isinstance(stmt, ast.If):
            return self.if_statement(stmt, env)
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            element = self.element(self.expr(stmt.iter, env))
            return self.loop(stmt.body, stmt.orelse, env, lambda e: self.bind(stmt.target, element, stmt.iter, e))
        if isinstance(stmt, ast.While):
            self.expr(stmt.test, env)
            return self.loop(stmt.body, stmt.orelse, env, lambda e: None)
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                value = self.expr(item.context_expr, env)
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, value, item.context_expr, env)
            return self.block(stmt.body, env)
        if isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            return self.try_statement(stmt, env)  # type: ignore[arg-type]
        if isinstance(stmt, ast.Match):
            return self.match_statement(stmt, env)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                name = (alias.asname or alias.name).split(".")[0]
                env[name] = CLEAN
            return env
        if isinstance(stmt, ast.Delete):
            return env
        if isinstance(stmt, ast.Assert):
            self.expr(stmt.test, env)
            return env
        # global, nonlocal, pass, type aliases: nothing flows
        return env

    def if_statement(self, stmt: ast.If, env: Env) -> Env | None:
        test = self.expr(stmt.test, env)
        if test.known:
            return self.block(stmt.body if test.const else stmt.orelse, env)
        after_body = self.narrowed_block(stmt.body, dict(env), equal_literals(stmt.test, positive=True))
        after_else = self.narrowed_block(stmt.orelse, dict(env), equal_literals(stmt.test, positive=False))
        if after_body is None and after_else is not None:
            # `if '../' in name: return` - what falls through passed a check of these values
            for name in self.checked_names(stmt.test):
                after_else[name] = CLEAN
        return join_envs(after_body, after_else)

    def narrowed_block(self, body: list[ast.stmt], env: Env, facts: list[tuple[ast.expr, Val]]) -> Env | None:
        """`body` where each fact's expression is known to equal its value (a literal, or one of several).

        A name is rebound in the body's environment; another expression (`request.args['x']`) is
        narrowed while the body runs, unless the body may change what it reads: it assigns to or
        deletes anything starting from the same name, or calls a method on it (`form.update(...)`)."""
        if not facts:
            return self.block(body, env)
        touched = {root_name(n) for n in ast.walk(ast.Module(body=body, type_ignores=[]))
                   if isinstance(getattr(n, "ctx", None), (ast.Store, ast.Del))
                   or (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute))}
        saved = dict(self.narrowed)
        for target, value in facts:
            if isinstance(target, ast.Name):
                env[target.id] = value
            elif root_name(target) not in touched:
                self.narrowed[ast.dump(target)] = value
        try:
            return self.block(body, env)
        finally:
            self.narrowed = saved

    def loop(self, body: list[ast.stmt], orelse: list[ast.stmt], env: Env,
             bind_target: Callable[[Env], None]) -> Env | None:
        state: Env | None = env
        # Twice lets a value pass from one iteration to the next; nested loops would multiply
        # the passes (2 ** depth), so deep ones run once.
        self.loop_depth += 1
        for _ in range(2 if self.loop_depth <= _MAX_REPEATED_LOOP_DEPTH else 1):
            inner = dict(state) if state is not None else dict(env)
            bind_target(inner)
            state = join_envs(state, self.block(body, inner))
        self.loop_depth -= 1
        if state is None:
            return None
        return self.block(orelse, state) if orelse else state

    def try_statement(self, stmt: ast.Try, env: Env) -> Env | None:
        after_body = self.block(stmt.body, dict(env))
        # a handler may start anywhere in the body: from what held before it, joined with what held after
        handler_start = join_envs(env, after_body) or dict(env)
        result = self.block(stmt.orelse, after_body) if stmt.orelse and after_body is not None else after_body
        for handler in stmt.handlers:
            start = dict(handler_start)
            if handler.name:
                start[handler.name] = CLEAN
            result = join_envs(result, self.block(handler.body, start))
        if stmt.finalbody:
            final = self.block(stmt.finalbody, dict(result if result is not None else handler_start))
            return None if result is None else final
        return result

    def match_statement(self, stmt: ast.Match, env: Env) -> Env | None:
        subject = self.expr(stmt.subject, env)
        result: Env | None = None
        exhaustive = False
        for case in stmt.cases:
            verdict = pattern_matches(case.pattern, subject) if case.guard is None else None
            if verdict is False:
                continue
            branch = dict(env)
            self.bind_pattern(case.pattern, subject, branch)
            if case.guard is not None:
                self.expr(case.guard, branch)
            result = join_envs(result, self.block(case.body, branch))
            if verdict is True:
                exhaustive = True
                break
        return result if exhaustive else join_envs(result, env)

    def bind_pattern(self, pattern: ast.pattern, subject: Val, env: Env) -> None:
        for node in ast.walk(pattern):
            name = getattr(node, "name", None)
            if isinstance(name, str):
                env[name] = carried((subject,))

    def checked_names(self, test: ast.expr) -> set[str]:
        """Variables whose *content* `test` checks (not mere presence), with what they were computed from."""
        checked: set[str] = set()
        for node in ast.walk(test):
            if isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn, ast.Eq, ast.NotEq))
                                                     for op in node.ops):
                operands = [node.left, *node.comparators]
                if any(is_text_literal(o) for o in operands):
                    checked |= {n.id for o in operands for n in ast.walk(o) if isinstance(n, ast.Name)}
            elif isinstance(node, ast.Call):
                name = dotted(node.func).rsplit(".", 1)[-1]
                if name in CONTENT_CHECKS or any(w in name.lower() for w in ("valid", "safe", "allowed")):
                    checked |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        for name in list(checked):
            checked |= self.origins.get(name, set())
        return checked
