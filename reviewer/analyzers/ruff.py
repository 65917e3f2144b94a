"""ruff (Astral's Python linter) on one source text, as reviewer Findings.

ruff runs as a subprocess (the binary from the `ruff` package, else the one on PATH)
with the text on stdin and `--isolated`, so a project's own ruff configuration cannot
change what is reported, and with an explicit selection of rules: only `RULES`, never
ruff's defaults. Its findings are reported beside the model's, so a rule is here only
when it is almost never wrong on correct code; style, naming, complexity, import order
and pycodestyle are left to the project's own linter, security to bandit (no `S`).

Most sources are hunk snippets (reviewer.analyzers.hunk_snippet): the hunk's new side,
dedented, at its real line numbers, without the rest of the file. A rule that needs
the enclosing function, loop or the whole module (`return`/`break`/`await` outside
their scope, unused names, redefinitions) would fire on what the snippet merely cut
off, so those run only on whole files (`whole_file=True`: the caller promises the
text is the complete new file; a partly reconstructed file must not be passed as
whole). Both kinds of text have been checked to parse (reviewer.analyzers.python_sources
analyzes a whole file that does not parse hunk by hunk), so the syntax errors ruff still
finds are those the compiler, not the parser, raises: reported for whole files, and for
snippets only the few that cannot come from the cut (see _SNIPPET_SYNTAX_ERRORS).

Candidates left out for now:
- F821 (undefined name) and F822 (undefined name in `__all__`), even on whole files:
  the eval harness reconstructs files partially (unknown regions blank), so they
  would fire on every name defined outside the shown hunks.
- B008 (call in a default argument: FastAPI `Depends()`, `Path(...)` are idiomatic),
  B904 and B905 (style more than bugs), F401 (re-exports, side-effect imports).

Any failure (no binary, a crash, a timeout, output that is not ruff's JSON) gives []
and never raises: the analyzer only grounds the review.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from typing import Any

from reviewer.types import Category, Finding, Severity

TIMEOUT_S = 20

_BUG, _SEC, _PERF = Category.BUG, Category.SECURITY, Category.PERFORMANCE
_HIGH, _MEDIUM, _LOW = Severity.HIGH, Severity.MEDIUM, Severity.LOW

# code -> (category, severity). high: fails at run time (or is a syntax error) or is
# always wrong; medium: almost surely a bug; low: worth a look, not an alarm.
RULES: dict[str, tuple[Category, Severity]] = {
    # -- syntax and compile-time errors ast.parse lets through
    "F404": (_BUG, _HIGH),  # `from __future__` import after other code: SyntaxError
    "F407": (_BUG, _HIGH),  # unknown `__future__` feature: SyntaxError
    "F622": (_BUG, _HIGH),  # two starred targets in one assignment: SyntaxError
    "F707": (_BUG, _HIGH),  # bare `except:` before other handlers: SyntaxError
    "PLE0115": (_BUG, _HIGH),  # a name both `nonlocal` and `global`: SyntaxError
    "PLE1700": (_BUG, _HIGH),  # `yield from` in an async function: SyntaxError
    # -- % and str.format calls that raise at run time (the format string is a literal)
    "F501": (_BUG, _HIGH),  # invalid % format: ValueError
    "F502": (_BUG, _HIGH),  # %(name)s format given a sequence: TypeError
    "F503": (_BUG, _HIGH),  # positional % format given a mapping: TypeError
    "F505": (_BUG, _HIGH),  # %(name)s placeholder without its key: KeyError
    "F506": (_BUG, _HIGH),  # named and positional % placeholders mixed: ValueError
    "F507": (_BUG, _HIGH),  # % placeholder count differs from the values: TypeError
    "F508": (_BUG, _HIGH),  # `%*d` with a mapping: TypeError
    "F509": (_BUG, _HIGH),  # unsupported % format character: ValueError
    "F521": (_BUG, _HIGH),  # invalid str.format string: ValueError
    "F524": (_BUG, _HIGH),  # str.format placeholder without an argument: IndexError/KeyError
    "F525": (_BUG, _HIGH),  # automatic and manual {} numbering mixed: ValueError
    "PLE1300": (_BUG, _HIGH),  # unsupported % format character: ValueError
    "PLE1307": (_BUG, _HIGH),  # `"%d" % "text"`: TypeError
    # -- silently wrong formatting: the extra arguments are ignored
    "F504": (_BUG, _MEDIUM),  # % mapping key no placeholder uses
    "F522": (_BUG, _MEDIUM),  # str.format keyword no placeholder uses
    "F523": (_BUG, _MEDIUM),  # str.format positional argument no placeholder uses
    "PLE1205": (_BUG, _MEDIUM),  # logging call with more arguments than placeholders
    "PLE1206": (_BUG, _MEDIUM),  # logging call with fewer arguments than placeholders
    # -- always true / always false, or never what was meant
    "F631": (_BUG, _HIGH),  # `assert (cond, "msg")`: a non-empty tuple, always passes
    "F632": (_BUG, _HIGH),  # `x is "literal"`: identity of literals is not equality
    "F633": (_BUG, _HIGH),  # `print >> f, x`: Python 2 syntax, TypeError
    "F634": (_BUG, _HIGH),  # `if (cond, other):`: a non-empty tuple, always true
    "PLW0129": (_BUG, _HIGH),  # `assert "message"`: always passes
    "PLW0177": (_BUG, _HIGH),  # `x == float("nan")`: always False
    "PLW0711": (_BUG, _HIGH),  # `except A or B:` catches only A
    "PLR0133": (_BUG, _MEDIUM),  # comparison of two constants
    "RUF034": (_BUG, _MEDIUM),  # `a if cond else a`: both branches the same
    "RUF040": (_BUG, _MEDIUM),  # `assert len(x), 2`: a comparison written as the message
    "RUF060": (_BUG, _MEDIUM),  # `x in []`: always False
    "F601": (_BUG, _MEDIUM),  # dict literal repeats a key with another value: the first is lost
    "F602": (_BUG, _MEDIUM),  # the same, with a variable as the key
    "B035": (_BUG, _MEDIUM),  # dict comprehension with a constant key: one entry
    "B002": (_BUG, _HIGH),  # `++x` is `x`: Python has no increment operator
    "B015": (_BUG, _MEDIUM),  # a comparison as a statement: a missing `assert` or `=`
    "B020": (_BUG, _MEDIUM),  # `for x in x:` overwrites the iterable
    "B032": (_BUG, _MEDIUM),  # `d["k"]: 1` is an annotation, not an assignment
    "PLW0127": (_BUG, _MEDIUM),  # `x = x` (pylint skips the class-body idiom)
    "PLW0128": (_BUG, _MEDIUM),  # `a, a = ...`
    "PGH005": (_BUG, _MEDIUM),  # `mock.assert_called` without the call: asserts nothing
    "B018": (_BUG, _LOW),  # useless expression; low: `obj.attr` inside pytest.raises is correct
    "B033": (_BUG, _LOW),  # a set literal with a duplicate item: harmless, maybe a typo
    "PLW0120": (_BUG, _LOW),  # loop `else` without `break`: misleading, not wrong
    # -- exceptions
    "F901": (_BUG, _HIGH),  # `raise NotImplemented`: TypeError (meant NotImplementedError)
    "B016": (_BUG, _HIGH),  # `raise "text"`: TypeError
    "B030": (_BUG, _HIGH),  # `except` with something that is no exception class: TypeError
    "B025": (_BUG, _MEDIUM),  # the same exception in two handlers: the second never runs
    "B029": (_BUG, _MEDIUM),  # `except ():` catches nothing
    "B012": (_BUG, _MEDIUM),  # return/break/continue in `finally` swallows the exception
    "PLW0245": (_BUG, _HIGH),  # `super.__init__()`: AttributeError (meant super())
    # -- state shared by accident
    "B006": (_BUG, _MEDIUM),  # mutable default argument, shared between calls
    "B039": (_BUG, _MEDIUM),  # ContextVar with a mutable default, shared between contexts
    "RUF024": (_BUG, _MEDIUM),  # `dict.fromkeys(keys, [])`: every key shares one list
    "B023": (_BUG, _MEDIUM),  # closure reads a loop variable late (last value); calls ruff knows run at once are skipped
    "B031": (_BUG, _MEDIUM),  # itertools.groupby group consumed twice: the second pass is empty
    "PLW2101": (_BUG, _MEDIUM),  # `with threading.Lock():` locks a new lock nobody else holds
    "RUF006": (_BUG, _MEDIUM),  # asyncio task not kept: may be garbage-collected mid-run
    "RUF018": (_BUG, _MEDIUM),  # `assert (x := f())`: the assignment vanishes under -O
    "RUF030": (_BUG, _MEDIUM),  # `assert x, print(...)`: the message is None
    "B003": (_BUG, _MEDIUM),  # `os.environ = {...}` does not change the process environment
    "T100": (_BUG, _MEDIUM),  # breakpoint()/pdb left in the change
    # -- classes and special methods
    "PLE0100": (_BUG, _HIGH),  # `yield` in `__init__`: TypeError on instantiation
    "PLE0101": (_BUG, _HIGH),  # `return value` in `__init__`: TypeError on instantiation
    "PLE0241": (_BUG, _HIGH),  # a base class listed twice: TypeError
    "PLE0302": (_BUG, _HIGH),  # special method with the wrong number of parameters
    "PLE0303": (_BUG, _HIGH),  # `__len__` returns a literal that is no non-negative int
    "PLE0304": (_BUG, _HIGH),  # `__bool__` returns a non-bool literal
    "PLE0305": (_BUG, _HIGH),  # `__index__` returns a non-int literal
    "PLE0307": (_BUG, _HIGH),  # `__str__` returns a non-str literal
    "PLE0308": (_BUG, _HIGH),  # `__bytes__` returns a non-bytes literal
    "PLE0309": (_BUG, _HIGH),  # `__hash__` returns a non-int literal
    "PLE0237": (_BUG, _HIGH),  # attribute not in `__slots__`: AttributeError (only classes without bases)
    "PLE0604": (_BUG, _MEDIUM),  # `__all__` holds a non-string
    "PLE0605": (_BUG, _MEDIUM),  # `__all__` is not a list or tuple
    "PLE1519": (_BUG, _MEDIUM),  # @singledispatch on a method (dispatches on self)
    "PLE1520": (_BUG, _MEDIUM),  # @singledispatchmethod on a function
    "PLW0211": (_BUG, _MEDIUM),  # staticmethod whose first parameter is `self`
    "PLW0642": (_BUG, _MEDIUM),  # `self = ...` in a method rebinds a local only
    "PIE794": (_BUG, _MEDIUM),  # class field defined twice: the first is dead
    "RUF033": (_BUG, _MEDIUM),  # default on a `__post_init__` parameter: the dataclass ignores it
    # -- calls with arguments that cannot be right
    "PLE0643": (_BUG, _HIGH),  # index past the end of a literal sequence: IndexError
    "RUF016": (_BUG, _HIGH),  # a literal sequence indexed by a str/float/...: TypeError
    "PLW1501": (_BUG, _HIGH),  # open() with an invalid mode: ValueError
    "PLE1507": (_BUG, _MEDIUM),  # os.getenv with a non-str name
    "PLE1310": (_BUG, _MEDIUM),  # str.strip("abca"): strip takes a set of characters
    "RUF064": (_BUG, _HIGH),  # os.chmod(p, 644): decimal where octal was meant
    # -- async
    "ASYNC251": (_BUG, _MEDIUM),  # time.sleep in an async function blocks the event loop
    "ASYNC210": (_PERF, _MEDIUM),  # blocking HTTP call in an async function
    # -- performance
    "RUF017": (_PERF, _LOW),  # sum(lists, []): quadratic
    # -- security (bandit does not look for it)
    "PLE2502": (_SEC, _HIGH),  # bidirectional control character ("trojan source")
    # -- need the whole file (see WHOLE_FILE_ONLY)
    "F701": (_BUG, _HIGH),  # `break` outside a loop: SyntaxError
    "F702": (_BUG, _HIGH),  # `continue` outside a loop: SyntaxError
    "F704": (_BUG, _HIGH),  # `yield`/`await` outside a function: SyntaxError
    "F706": (_BUG, _HIGH),  # `return` outside a function: SyntaxError
    "PLE0117": (_BUG, _HIGH),  # `nonlocal` without a binding: SyntaxError
    "PLE0118": (_BUG, _HIGH),  # name used before its `global` declaration: SyntaxError
    "PLE0704": (_BUG, _MEDIUM),  # bare `raise` outside an except clause: RuntimeError
    "PLE1142": (_BUG, _HIGH),  # `await` outside an async function: SyntaxError
    "F823": (_BUG, _MEDIUM),  # local name read before its assignment: UnboundLocalError (bar a loop's 2nd pass)
    "F811": (_BUG, _LOW),  # redefinition of an unused name; low: pytest fixtures imported then taken as parameters
    "F841": (_BUG, _LOW),  # local variable assigned and never used
}

# Rules that judge a name or statement by code the snippet may have cut off: the
# enclosing def/loop/except/async def, the binding of a nonlocal, later uses.
WHOLE_FILE_ONLY = frozenset({"F701", "F702", "F704", "F706", "PLE0117", "PLE0118", "PLE0704", "PLE1142", "B018",
                             "F823", "F811", "F841"})

# ruff reports syntax errors under this code whatever the selection (a repeated keyword
# argument too: PLE1132 is now one). On a snippet only those that cannot come from the
# cut are kept (`nonlocal` at module level, say, does come from it).
SYNTAX_ERROR = "invalid-syntax"
_SYNTAX_ERROR_RULE = (_BUG, _HIGH)
_SNIPPET_SYNTAX_ERRORS = ("Duplicate keyword argument", "Duplicate parameter")

# Part of the analyzer's cache key: a change to the table re-analyzes cached sources.
RULESET_TAG = hashlib.sha256(
    json.dumps(sorted((code, c.value, s.value, code in WHOLE_FILE_ONLY) for code, (c, s) in RULES.items())).encode()
).hexdigest()[:12]


def selected_rules(whole_file: bool) -> list[str]:
    """The codes passed to `--select`."""
    return sorted(code for code in RULES if whole_file or code not in WHOLE_FILE_ONLY)


def find_ruff() -> str | None:
    """The ruff binary: the `ruff` package's own, else one on PATH; None if neither."""
    try:
        from ruff import find_ruff_bin  # the PyPI package (absolute import: not this module)

        found: str | None = str(find_ruff_bin())
    except Exception:  # noqa: BLE001 - ImportError, RuffNotFound, or an older package's own error
        found = None
    if found is not None and os.path.isfile(found):
        return found
    return shutil.which("ruff")


def ruff_findings(path: str, source: str, whole_file: bool) -> list[Finding]:
    """Findings for `source` (the new side of `path`, whole or a hunk snippet); [] if ruff
    is unavailable or fails."""
    return run_ruff(path, source, whole_file) or []


def run_ruff(path: str, source: str, whole_file: bool) -> list[Finding] | None:
    """As `ruff_findings`, but None when ruff did not run or its answer was unusable
    (a result not worth caching)."""
    if "\r" in source:
        return []  # ruff (like Python) breaks lines at a lone CR, git does not: its line numbers would be off
    binary = find_ruff()
    if binary is None:
        return None
    command = [binary, "check", "--isolated", "--no-cache", "--output-format", "json", "--exit-zero",
               f"--stdin-filename={path}", f"--select={','.join(selected_rules(whole_file))}", "-"]
    try:
        done = subprocess.run(command, input=source.encode("utf-8", "surrogateescape"), capture_output=True,
                              timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if done.returncode != 0:
        return None
    try:
        items = json.loads(done.stdout)
    except ValueError:
        return None
    if not isinstance(items, list):
        return None
    lines = source.split("\n")
    findings = []
    for item in items:
        try:
            finding = _finding(path, item, lines, whole_file)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None  # not the JSON this module knows: trust none of it
        if finding is not None:
            findings.append(finding)
    return findings


def _finding(path: str, item: dict[str, Any], lines: list[str], whole_file: bool) -> Finding | None:
    code = item["code"] or SYNTAX_ERROR
    if code == SYNTAX_ERROR and not whole_file and not str(item["message"]).startswith(_SNIPPET_SYNTAX_ERRORS):
        return None
    rule = _SYNTAX_ERROR_RULE if code == SYNTAX_ERROR else RULES.get(code)
    if rule is None:
        return None  # a code we did not select
    line = int(item["location"]["row"])
    end = item.get("end_location") or {}
    end_line = max(line, int(end.get("row") or line))
    message = " ".join(str(item["message"]).split())
    title = f"{message} ({'syntax error' if code == SYNTAX_ERROR else code})"
    return Finding(
        path=path,
        line=line,
        end_line=end_line,
        category=rule[0],
        severity=rule[1],
        title=title,
        message=f"ruff {code}: {message}" if code != SYNTAX_ERROR else f"ruff: syntax error: {message}",
        suggestion=_suggestion(item.get("fix"), line, end_line, lines),
        source="ruff",
    )


def _suggestion(fix: Any, line: int, end_line: int, lines: list[str]) -> str | None:
    """The fixed line, when ruff's fix is one safe edit inside the finding's single line."""
    if not isinstance(fix, dict) or fix.get("applicability") != "safe" or line != end_line:
        return None
    edits = fix.get("edits")
    if not isinstance(edits, list) or len(edits) != 1:
        return None
    edit = edits[0]
    start, stop, content = edit["location"], edit["end_location"], edit["content"]
    if start["row"] != line or stop["row"] != line or "\n" in content or not 0 < line <= len(lines):
        return None
    text = lines[line - 1]
    first, last = int(start["column"]) - 1, int(stop["column"]) - 1
    if not 0 <= first <= last <= len(text):
        return None
    fixed = text[:first] + content + text[last:]
    return fixed if fixed.strip() and fixed != text else None
