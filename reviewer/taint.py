"""Does untrusted input reach a dangerous call? A small intraprocedural taint analysis.

The model calls any handler that reads a cookie "SQL injection", also when the value it
read is thrown away before the query, or the query takes it as a bound parameter. Those
are data-flow facts, and this module computes them for Python, one function at a time:

- **sources**: anything read from `request` (Flask, Django, ...: `USER`); `input()`,
  `sys.argv`, `sys.stdin`, `os.environ` (`LOCAL`: the operator's own input, so a CLI
  that opens the file it is given is no finding); and a function's parameters (`PARAM`):
  a caller may pass anything, but nothing says it does. Findings need `USER`; any bit
  keeps the model's claims.
- **values**: each variable is tracked as an abstract value: tainted or not, a known
  constant where one can be computed (`num = 106; 7 * 42 - num > 200` folds), and the
  elements of lists, dicts and config parsers built with constant keys and indices, so
  that `lst.append(param); lst.pop(0); bar = lst[1]` knows which element `bar` is.
  Branches whose condition folds to a constant run alone (`if`, `x if c else y`,
  `match`); other branches are joined (tainted if either is). A branch knows what its
  condition pinned down: inside `if request.form['user'] == 'admin':` that item is the
  constant 'admin' (`!=` on the else side; `in` a tuple of literals: one of them), for
  names and attribute/item chains with literal keys that the branch does not rebind.
- **sanitizers**: HTML escaping, shell quoting, number conversion, hashing, base64,
  `secure_filename`/`basename`, and `.replace(quote, ...)` that removes a quote character;
  and a guard that checks a value's content and leaves (`if '../' in name: return`).
- **sinks**: eval/exec, deserializers, shells, SQL `execute` (the query, not its bound
  parameters), file paths, XPath, LDAP, XML parsers with external entities on, redirects,
  outgoing requests, writes to the session or a response header, and a route handler's
  returned body (XSS).

Everything unknown is assumed to carry taint (an unknown call returns what its
arguments carry), so "no flow" is the claim that has to be right: `grounding` uses it to
lower the model's injection claims where no untrusted value reaches any sink. A function
that cannot be analysed (anything raises) reports `analyzed=False` and lowers nothing.
Measured on the labelled cases, alone and as grounding, in `bench/taint_eval.py` and bench/quality.md.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from reviewer.pysource import FSTRING_CALL, parse_python

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


def _hashable(value: object) -> bool:
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
                   env: Env, route: _Route | None) -> None:
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


_ROUTE_DECORATORS = frozenset({"route", "get", "post", "put", "patch", "delete", "api_view", "view_config"})


class _Route(NamedTuple):
    """A request handler; `path` is its route when it has no variable parts (`/a/b`, not `/a/<x>`)."""

    path: str | None


def _route(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> _Route | None:
    for decorator in fn.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if dotted(target).rsplit(".", 1)[-1] in _ROUTE_DECORATORS:
            rule = decorator.args[0] if isinstance(decorator, ast.Call) and decorator.args else None
            fixed = isinstance(rule, ast.Constant) and isinstance(rule.value, str) and "<" not in rule.value
            return _Route(rule.value if fixed else None)  # type: ignore[union-attr]
    return None


def dotted(node: ast.AST) -> str:
    """`a.b.c` for a name or attribute chain; `?` stands for anything else in the chain."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    parts.append(node.id if isinstance(node, ast.Name) else "?")
    return ".".join(reversed(parts))


# --- what the analysis knows about calls -------------------------------------------------

_SOURCE_NAMES = frozenset({"request"})
_SOURCE_CHAINS = ("sys.argv", "sys.stdin", "os.environ", "os.getenv", "input", "raw_input")

# Calls whose result cannot carry an injection, whatever goes in.
_NEUTRAL = frozenset({
    "int", "float", "bool", "len", "abs", "round", "hash", "ord", "isinstance", "hasattr", "callable", "id",
    "hexdigest", "digest", "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b", "blake2s",
    "uuid4", "uuid5", "uuid3",
})
_QUOTED_CONTEXTS = frozenset({"sql", "xpath"})  # a value without quotes cannot close a quoted literal there
# Calls that make their result safe for some sinks only: HTML escaping does nothing for a redirect.
_SANITIZERS: dict[str, frozenset[str]] = {
    "escape": frozenset({"xss"}), "escape_for_html": frozenset({"xss"}), "html_escape": frozenset({"xss"}),
    "escape_html": frozenset({"xss"}), "quoteattr": frozenset({"xss"}), "escape_filter_chars": frozenset({"ldap"}),
    "shlex.quote": frozenset({"command"}), "pipes.quote": frozenset({"command"}),
    "secure_filename": frozenset({"path"}), "basename": frozenset({"path"}),
}
_ALL_KINDS = frozenset({"code", "deserialization", "command", "sql", "path", "xpath", "ldap", "xml", "redirect",
                        "request", "session", "header", "xss"})
# Encodings are safe until decoded again: `b64decode(b64encode(x))` is x.
_ENCODERS = frozenset({"b64encode", "urlsafe_b64encode", "standard_b64encode", "hexlify", "b2a_base64"})
_DECODERS = frozenset({"b64decode", "urlsafe_b64decode", "standard_b64decode", "unhexlify", "a2b_base64",
                       "unquote", "unquote_plus", "unescape"})

# kind, argument positions that must not be tainted (None: any argument), keyword names
_Sink = tuple[str, tuple[int, ...] | None, tuple[str, ...]]
_SINK_FUNCTIONS: dict[str, _Sink] = {
    "eval": ("code", (0,), ("source",)), "exec": ("code", (0,), ("source",)), "compile": ("code", (0,), ("source",)),
    "__import__": ("code", (0,), ()), "import_module": ("code", (0,), ()),
    "pickle.loads": ("deserialization", (0,), ()), "pickle.load": ("deserialization", (0,), ()),
    "cPickle.loads": ("deserialization", (0,), ()), "marshal.loads": ("deserialization", (0,), ()),
    "dill.loads": ("deserialization", (0,), ()), "jsonpickle.decode": ("deserialization", (0,), ()),
    "shelve.open": ("deserialization", (0,), ()), "yaml.unsafe_load": ("deserialization", (0,), ()),
    "yaml.full_load": ("deserialization", (0,), ()), "yaml.load_all": ("deserialization", (0,), ()),
    "os.system": ("command", (0,), ()), "os.popen": ("command", (0,), ()), "popen2.popen2": ("command", (0,), ()),
    "subprocess.run": ("command", (0,), ("args",)), "subprocess.call": ("command", (0,), ("args",)),
    "subprocess.Popen": ("command", (0,), ("args",)), "subprocess.check_output": ("command", (0,), ("args",)),
    "subprocess.check_call": ("command", (0,), ("args",)), "subprocess.getoutput": ("command", (0,), ()),
    "subprocess.getstatusoutput": ("command", (0,), ()), "commands.getoutput": ("command", (0,), ()),
    "open": ("path", (0,), ("file",)), "io.open": ("path", (0,), ("file",)),
    "codecs.open": ("path", (0,), ("filename",)),
    "os.open": ("path", (0,), ()), "os.remove": ("path", (0,), ()), "os.unlink": ("path", (0,), ()),
    "os.rmdir": ("path", (0,), ()), "os.removedirs": ("path", (0,), ()), "os.rename": ("path", None, ()),
    "os.replace": ("path", None, ()), "os.mkdir": ("path", (0,), ()), "os.makedirs": ("path", (0,), ()),
    "os.listdir": ("path", (0,), ()), "os.scandir": ("path", (0,), ()), "os.walk": ("path", (0,), ()),
    "os.stat": ("path", (0,), ()), "os.path.exists": ("path", (0,), ()), "os.path.isfile": ("path", (0,), ()),
    "os.path.isdir": ("path", (0,), ()), "os.path.getsize": ("path", (0,), ()), "os.chmod": ("path", (0,), ()),
    "os.chown": ("path", (0,), ()),
    "shutil.copy": ("path", None, ()), "shutil.copyfile": ("path", None, ()), "shutil.copytree": ("path", None, ()),
    "shutil.move": ("path", None, ()), "shutil.rmtree": ("path", (0,), ()), "send_file": ("path", (0,), ()),
    "send_from_directory": ("path", (1,), ("path", "filename")), "fileinput.input": ("path", (0,), ()),
    "tarfile.open": ("path", (0,), ("name",)), "zipfile.ZipFile": ("path", (0,), ("file",)),
    "redirect": ("redirect", (0,), ("location",)), "HttpResponseRedirect": ("redirect", (0,), ()),
    "RedirectResponse": ("redirect", (0,), ("url",)),
    "requests.get": ("request", (0,), ("url",)), "requests.post": ("request", (0,), ("url",)),
    "requests.request": ("request", (1,), ("url",)), "urlopen": ("request", (0,), ("url",)),
    "render_template_string": ("xss", (0,), ("source",)), "Markup": ("xss", (0,), ()),
    "mark_safe": ("xss", (0,), ()),
}
# Matched on the last name of a method call, whatever the object.
_SINK_METHODS: dict[str, _Sink] = {
    "execute": ("sql", (0,), ("sql", "statement", "operation")), "executemany": ("sql", (0,), ()),
    "executescript": ("sql", (0,), ()), "raw": ("sql", (0,), ()),
    "xpath": ("xpath", (0,), ()), "XPath": ("xpath", (0,), ()), "XPathEvaluator": ("xpath", (0,), ()),
    "save": ("path", (0,), ("dst",)),  # an uploaded file saved under a name the client chose
    "search": ("ldap", None, ("search_filter",)), "search_s": ("ldap", None, ()), "search_ext_s": ("ldap", None, ()),
}
_NOT_LDAP = frozenset({"re", "regex", "?"})
_XML_MODULES = ("xml", "etree", "ET", "minidom", "sax", "lxml", "pulldom", "expat")
_XML_CALLS = frozenset({"parse", "parseString", "fromstring", "XML", "iterparse", "XMLParser"})
_PATH_METHODS = frozenset({"open", "read_text", "read_bytes", "write_text", "write_bytes", "unlink", "rmdir", "mkdir",
                           "touch", "rename", "exists", "is_file", "is_dir", "iterdir", "stat", "glob"})
# Sinks also matched by their bare name on any object or module (`flask.redirect`, `urllib.request.urlopen`);
# others need their module (`re.compile` is no code sink).
_BARE_SINKS = frozenset({"redirect", "urlopen", "send_file", "send_from_directory", "render_template_string",
                         "Markup", "mark_safe", "HttpResponseRedirect", "RedirectResponse"})
_MUTATORS = frozenset({"write", "writelines", "append", "appendleft", "extend", "add", "update", "insert", "put",
                       "push", "setdefault", "set"})
_READS_STORED_DATA = frozenset({"sql", "xpath", "ldap", "path", "xml"})
_EMPTY_MAPPINGS = frozenset({"ConfigParser", "RawConfigParser", "SafeConfigParser", "dict", "OrderedDict", "defaultdict"})
_RESPONSE_CALLS = frozenset({"make_response", "Response", "HttpResponse", "jsonify"})
_SAFE_LOADERS = ("SafeLoader", "CSafeLoader", "BaseLoader")

_BINOPS: dict[type, Callable[[object, object], object]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod, ast.Div: operator.truediv,
}
_COMPARES: dict[type, Callable[[object, object], object]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,  # type: ignore[operator]
    ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
# String methods folded on constants: only those whose result is no longer than their inputs
# (`replace`, `format` and `%` can build a string of any size out of a short one).
_FOLDABLE_STR_METHODS = frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith",
                                   "split", "find", "encode", "decode", "title", "capitalize"})
_CONTENT_CHECKS = frozenset({"startswith", "endswith", "isalnum", "isalpha", "isdigit", "isdecimal", "isnumeric",
                             "isidentifier", "isascii", "match", "fullmatch", "search"})
_MAX_CONST = 10_000  # longest string folded (ints: up to 10**12); larger ones are left unknown
_MAX_REPEATED_LOOP_DEPTH = 4


class _Function:
    """Runs one function body over abstract values, collecting flows into sinks."""

    def __init__(self, report: TaintReport, route: _Route | None) -> None:
        self.report = report
        self.route = route
        self.flows: list[Flow] = []
        self.origins: dict[str, set[str]] = {}  # variable -> variables its value was computed from
        self.loop_depth = 0
        # Python's XML parsers (and lxml 5) resolve no external entities unless asked to
        self.external_entities = False
        # `request.form['user']` inside `if request.form['user'] == 'admin':` is 'admin' (ast.dump -> value)
        self.narrowed: dict[str, Val] = {}

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
            current = self.expr(_as_load(stmt.target), env)
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
        touched = {_root_name(n) for n in ast.walk(ast.Module(body=body, type_ignores=[]))
                   if isinstance(getattr(n, "ctx", None), (ast.Store, ast.Del))
                   or (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute))}
        saved = dict(self.narrowed)
        for target, value in facts:
            if isinstance(target, ast.Name):
                env[target.id] = value
            elif _root_name(target) not in touched:
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
            verdict = _pattern_matches(case.pattern, subject) if case.guard is None else None
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
                if any(_is_text_literal(o) for o in operands):
                    checked |= {n.id for o in operands for n in ast.walk(o) if isinstance(n, ast.Name)}
            elif isinstance(node, ast.Call):
                name = dotted(node.func).rsplit(".", 1)[-1]
                if name in _CONTENT_CHECKS or any(w in name.lower() for w in ("valid", "safe", "allowed")):
                    checked |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        for name in list(checked):
            checked |= self.origins.get(name, set())
        return checked

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
            kind = "session" if owner == "session" else "redirect" if _is_location(key) else "header"
            bits = reaching((value, key), kind)
            if bits:
                self.flows.append(Flow(target.lineno, kind, container, bits))
        if not isinstance(target.value, ast.Name):
            self.expr(target.value, env)
            return
        old = env.get(target.value.id, CLEAN)
        env[target.value.id] = _stored(old, key, value)

    # --- expressions --------------------------------------------------------------------

    def expr(self, node: ast.expr, env: Env) -> Val:
        if isinstance(node, ast.Constant):
            return constant(node.value)
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            return tainted(USER) if node.id in _SOURCE_NAMES else CLEAN
        if self.narrowed and isinstance(node, (ast.Attribute, ast.Subscript)):
            fact = self.narrowed.get(ast.dump(node))
            if fact is not None:
                return fact
        if isinstance(node, ast.Attribute):
            chain = dotted(node)
            if chain == "request.path" and "request" not in env and self.route is not None and self.route.path:
                return constant(self.route.path)  # a fixed route: the path is known
            if _is_source(chain, env):
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
            if all(k.known and _hashable(k.const) for k in keys) and None not in node.keys:
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
        fold = _BINOPS.get(type(op))
        if fold and left.known and right.known and _small_result(op, left.const, right.const):
            folded = _fold(fold, left.const, right.const)
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
                folded = _fold(_COMPARES[type(op)], left.const, right.const)
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
        return constant(text) if known and len(text) <= _MAX_CONST else carried(inners)

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
            if container.entries is not None and _hashable(index.const):
                return dict(container.entries).get(index.const, CLEAN)
            if container.known and isinstance(container.const, (str, bytes, tuple)):
                folded = _fold(operator.getitem, container.const, index.const)
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
        if self.check_sink(node, name, last, receiver, args, kwargs) in _READS_STORED_DATA:
            return CLEAN  # rows, nodes, entries, file handles: data the program holds, not the request
        everything = carried((receiver, *args, *kwargs.values()))
        if _is_source(name, env):
            return tainted(LOCAL)
        if last in _NEUTRAL:
            return CLEAN
        if last in _DECODERS:
            return everything._replace(safe=frozenset())
        neutralised = _ALL_KINDS if last in _ENCODERS else _SANITIZERS.get(last) or _SANITIZERS.get(name)
        if neutralised and everything.taint:
            return everything._replace(safe=everything.safe | neutralised)
        if last == "replace" and len(args) >= 2 and _removes_quote(args[0], args[1]):
            return everything._replace(safe=everything.safe | _QUOTED_CONTEXTS)
        if last in _RESPONSE_CALLS:
            body = args[0] if args else kwargs.get("response", CLEAN)
            if body.items:  # make_response((body, headers)): only the body is rendered
                body = body.items[0]
            return carried((body,))
        if last in _EMPTY_MAPPINGS and not args:
            return mapping(())
        if last in ("list", "tuple") and not args:
            return sequence(())
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            mutated = self.container_method(node.func.value.id, last, receiver, args, env)
            if mutated is not None:
                return mutated
        if (receiver.known and isinstance(receiver.const, (str, bytes)) and last in _FOLDABLE_STR_METHODS
                and all(a.known for a in args) and not kwargs):
            folded = _fold(lambda r, a: getattr(r, last)(*a), receiver.const, tuple(a.const for a in args))
            if folded is not None:
                return folded
        if (last in _MUTATORS and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                and everything.taint):
            env[node.func.value.id] = everything  # `buffer.write(x)`: the buffer now holds x
        if last == "join" and args and args[0].items is not None:
            return carried((receiver, *args[0].items))
        return everything

    def container_method(self, var: str, method: str, receiver: Val, args: list[Val], env: Env) -> Val | None:
        """List, dict and config-parser methods on a variable holding a known container."""
        if receiver.items is not None:
            items = list(receiver.items)
            if method == "append" and len(args) == 1:
                env[var] = sequence([*items, args[0]])
                return CLEAN
            if method == "extend" and len(args) == 1 and args[0].items is not None:
                env[var] = sequence(items + list(args[0].items))
                return CLEAN
            if method == "insert" and len(args) == 2 and args[0].known and isinstance(args[0].const, int):
                items.insert(args[0].const, args[1])
                env[var] = sequence(items)
                return CLEAN
            if method == "pop" and items:
                index = args[0].const if args and args[0].known else (-1 if not args else None)
                if isinstance(index, int) and -len(items) <= index < len(items):
                    popped = items.pop(index)
                    env[var] = sequence(items)
                    return popped
                env[var] = carried((receiver,))
                return carried((receiver,))
            if method in ("append", "extend", "insert", "remove", "sort", "reverse", "clear"):
                env[var] = carried((receiver, *args))
                return CLEAN
            return None
        if receiver.entries is not None:
            entries = dict(receiver.entries)
            if method == "get" and len(args) >= 2 and args[0].known and args[1].known:
                section_key = (args[0].const, args[1].const)
                if _hashable(section_key) and section_key in entries:  # config.get(section, option)
                    return entries[section_key]
            if method == "get" and args and args[0].known and _hashable(args[0].const):
                default = args[1] if len(args) > 1 else constant(None)
                return entries.get(args[0].const, default)
            if method == "add_section":
                return CLEAN
            if method == "set" and len(args) == 3 and args[0].known and args[1].known:
                entries[(args[0].const, args[1].const)] = args[2]
                env[var] = mapping(entries.items())
                return CLEAN
            if method in ("setdefault", "update", "set", "__setitem__"):
                env[var] = carried((receiver, *args))
                return CLEAN
            return None
        return None

    def check_sink(self, node: ast.Call, name: str, last: str, receiver: Val, args: list[Val],
                   kwargs: dict[str | None, Val]) -> None:
        kind = None
        sink = _SINK_FUNCTIONS.get(name) or _SINK_FUNCTIONS.get(".".join(name.split(".")[-2:]))
        if sink is None and last in _BARE_SINKS:
            sink = _SINK_FUNCTIONS.get(last)
        if sink is None and isinstance(node.func, ast.Attribute):
            sink = _SINK_METHODS.get(last)
            if sink and sink[0] == "ldap" and name.split(".")[0] in _NOT_LDAP:
                sink = None
        if sink is None and last == "load" and name.startswith("yaml."):
            loader = kwargs.get("Loader")
            loader_node = next((k.value for k in node.keywords if k.arg == "Loader"), None)
            safe = loader_node is not None and dotted(loader_node).endswith(_SAFE_LOADERS)
            sink = None if safe or loader is None and len(args) > 1 else ("deserialization", (0,), ())
        if (sink is None and self.external_entities and last in _XML_CALLS
                and any(m in name.split(".") for m in _XML_MODULES)):
            sink = ("xml", (0,), ("source",))
        if sink is None and last == "select" and name.startswith("elementpath"):
            sink = ("xpath", (1,), ("path",))
        bits = 0
        if sink is not None:
            kind, positions, keywords = sink
            chosen = args if positions is None else [args[i] for i in positions if i < len(args)]
            bits = reaching([*chosen, *(v for k, v in kwargs.items() if k in keywords)], kind)
        elif last in _PATH_METHODS and isinstance(node.func, ast.Attribute) and not receiver.known:
            kind, bits = "path", reaching((receiver,), "path")
        if kind and bits:
            self.flows.append(Flow(node.lineno, kind, name, bits))
        return kind


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


def _root_name(node: ast.AST) -> str:
    """The name an attribute/item chain starts from (`form` for `form['a'].b`, and for the
    call `form.update(...)`); "" when it starts from anything else."""
    if isinstance(node, ast.Call):
        node = node.func
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _is_location(key: Val) -> bool:
    return key.known and isinstance(key.const, str) and key.const.lower() == "location"


def _is_source(chain: str, env: Env) -> bool:
    """`sys.argv[1]`, `os.environ.get(...)`, `input()`, unless the first name is a local variable."""
    if chain.split(".", 1)[0] in env:
        return False
    return any(chain == source or chain.startswith(source + ".") for source in _SOURCE_CHAINS)


def _stored(container: Val, key: Val, value: Val) -> Val:
    if key.known and container.entries is not None and _hashable(key.const):
        entries = dict(container.entries)
        entries[key.const] = value
        return mapping(entries.items())
    if key.known and container.items is not None and isinstance(key.const, int):
        items = list(container.items)
        if -len(items) <= key.const < len(items):
            items[key.const] = value
            return sequence(items)
    return carried((container, value, key))


def _pattern_matches(pattern: ast.pattern, subject: Val) -> bool | None:
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
        verdicts = [_pattern_matches(p, subject) for p in pattern.patterns]
        return True if True in verdicts else (False if all(v is False for v in verdicts) else None)
    return None


def _small_result(op: ast.operator, left: object, right: object) -> bool:
    """Whether folding `left op right` stays small: `'a' * 10**9` or `'%9999999d' % 1` is not computed."""
    if isinstance(op, ast.Mod) and isinstance(left, (str, bytes)):
        return False
    if isinstance(op, ast.Mult):
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, bytes, tuple, list)) and isinstance(times, int):
                return len(seq) * max(times, 0) <= _MAX_CONST
    return True


def _fold(fn: Callable[..., object], *operands: object) -> Val | None:
    try:
        result = fn(*operands)
    except Exception:  # noqa: BLE001 - folding an expression the program itself may not run
        return None
    if isinstance(result, (str, bytes)) and len(result) > _MAX_CONST:
        return None
    if isinstance(result, int) and abs(result) > 10**12:
        return None
    if isinstance(result, (list, tuple)) and all(isinstance(x, (str, int, float, bool, bytes)) for x in result):
        return sequence([constant(x) for x in result])
    if isinstance(result, (str, bytes, int, float, bool, type(None), slice)):
        return constant(result)
    return None


def _removes_quote(old: Val, new: Val) -> bool:
    """`s.replace("'", "&apos;")`: the value can no longer close a quoted literal."""
    return (old.known and new.known and isinstance(old.const, str) and isinstance(new.const, str)
            and old.const in ("'", '"') and old.const not in new.const)


def _is_text_literal(node: ast.expr) -> bool:
    """A string, or a list/tuple/set of strings: what a content check compares with (`-1` is no content)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (str, bytes))
    return isinstance(node, (ast.List, ast.Tuple, ast.Set)) and bool(node.elts) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, (str, bytes)) for e in node.elts)


def _as_load(target: ast.expr) -> ast.expr:
    """The target of `x += y` read as an expression."""
    node = ast.parse(ast.unparse(target), mode="eval").body
    return ast.copy_location(node, target)
