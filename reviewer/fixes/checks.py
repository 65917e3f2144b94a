"""The checks a suggested replacement must pass before anyone sees it, each saying why it failed.

In order, cheapest first: it applies to the flagged lines (`applies`); it is code, not advice
in words (`prose`); it changes something (`restates`: the flagged code given back, or for
Python the same syntax tree); the new file still parses (`parses`: Python's parser on the whole
file or, without it, on the hunk's new side, else a bracket count over the language's tokens);
and for Python the analyzers do not flag the fixed lines with what they flagged before or with
anything new (`analyzers`: bandit, ruff, taint; a security claim whose line bandit flagged
must not keep bandit's warning). The removed line put back is caught where the analyzers know
it was the bug; a bug claim the analyzers cannot judge is checked only for form.
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass

from reviewer.analyzers import cached_findings, ruff, tool_tags
from reviewer.analyzers import taint as taint_analyzer
from reviewer.analyzers.bandit import bandit_findings
from reviewer.cache import ResultCache
from reviewer.fixes.apply import Replacement, Window, applied, normalized, plan, unified_patch
from reviewer.pysource import parse_python
from reviewer.types import Finding, Severity

# Advice in words where code belongs: "Change the loop to `while queue:`", "Use a parameterized query".
_PROSE = re.compile(
    r"^\s*(change|replace|use|consider|add|remove|ensure|avoid|validate|sanitize|sanitise|check|move|make|"
    r"wrap|call|pass|escape|should|you|the|this|instead)\b[ ,:]+[a-z`'\"]", re.IGNORECASE)
_BRACKETS = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class Verdict:
    """A suggestion's outcome: passed (with where it goes and its patch) or the failed check and why."""

    check: str = ""  # "" when it passed
    reason: str = ""
    replacement: Replacement | None = None
    patch: str = ""

    @property
    def passed(self) -> bool:
        return not self.check


def _fail(check: str, reason: str) -> Verdict:
    return Verdict(check, reason)


def check_suggestion(finding: Finding, window: Window, language: str, cache: ResultCache | None) -> Verdict:
    """Run the checks on `finding.suggestion` placed in `window` (its file, or the hunk's new side)."""
    rep = plan(finding, window)
    if rep is None:
        return _fail("applies", f"line {finding.line} is not in the code the review saw")
    if any(_PROSE.match(line) for line in rep.new[:1]) and not _is_python_code(rep.new, language):
        return _fail("prose", "the suggestion is advice in words, not code")
    if normalized(rep.new) == normalized(rep.old):
        return _fail("restates", "the suggestion restates the flagged code")
    after = applied(window, rep)
    if language == "python":
        verdict = _python(finding, window, after, rep, cache)
    else:
        verdict = _balanced(rep, language)
    if not verdict.passed:
        return verdict
    return Verdict(replacement=rep, patch=unified_patch(finding.path, window, after))


def _is_python_code(lines: tuple[str, ...], language: str) -> bool:
    if language != "python":
        return False
    try:
        ast.parse(textwrap.dedent("\n".join(lines)))
        return True
    except (SyntaxError, ValueError):
        return False


def _python(finding: Finding, before: Window, after: Window, rep: Replacement, cache: ResultCache | None) -> Verdict:
    old_text, new_text = _parsing_text(before), _parsing_text(after)
    old_tree = parse_python(old_text)
    if old_tree is None:  # the code around it does not parse on its own: judge the lines by their tokens
        return _python_tokens(rep)
    new_tree = parse_python(new_text)
    if new_tree is None:
        return _fail("parses", f"the file no longer parses with it ({_syntax_error(new_text)})")
    if ast.dump(old_tree) == ast.dump(new_tree):
        return _fail("restates", "the suggestion changes only layout: the code means the same")
    return _analyzers(finding, old_text, new_text, rep, before.whole, cache)


def _parsing_text(window: Window) -> str:
    """The window as Python: the whole file, or the hunk's new side dedented and placed at its line numbers."""
    if window.whole:
        return window.text()
    return "\n" * (window.first - 1) + textwrap.dedent("\n".join(window.lines)) + "\n"


def _syntax_error(text: str) -> str:
    try:
        ast.parse(text)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except ValueError as exc:
        return str(exc)
    return "Python 3.12 syntax this interpreter does not read"


def _python_tokens(rep: Replacement) -> Verdict:
    """Without a parseable neighbourhood: the replacement must tokenize and open and close
    as many brackets as the lines it replaces."""
    new = textwrap.dedent("\n".join(rep.new)) + "\n"
    try:
        tokens = [t.string for t in tokenize.generate_tokens(io.StringIO(new).readline) if t.type == tokenize.OP]
    except (tokenize.TokenError, SyntaxError, IndentationError) as exc:
        if "EOF in multi-line" not in str(exc):  # an opened bracket is judged by the count below
            return _fail("parses", f"the suggestion is not Python code ({exc})")
        tokens = [t for t in re.findall(r"[()\[\]{}]", new)]
    old = "\n".join(rep.old)
    if _bracket_delta(tokens) != _bracket_delta(re.findall(r"[()\[\]{}]", old)):
        return _fail("parses", "the suggestion's brackets do not balance like the code it replaces")
    return Verdict()


def _bracket_delta(tokens: list[str]) -> tuple[int, int, int]:
    counts = {o: 0 for o in _BRACKETS}
    closing = {c: o for o, c in _BRACKETS.items()}
    for t in tokens:
        if t in counts:
            counts[t] += 1
        elif t in closing:
            counts[closing[t]] -= 1
    return counts["("], counts["["], counts["{"]


def _balanced(rep: Replacement, language: str) -> Verdict:
    """Other languages: no parser here, so the honest check is the language's tokens (pygments):
    no lexer errors where the old lines had none, and brackets opened and closed like the old lines."""
    old, new = _lex(rep.old, language), _lex(rep.new, language)
    if old is None or new is None:
        return Verdict()  # no lexer for the language: the form checks above are all there is
    if new[1] and not old[1]:
        return _fail("parses", f"the suggestion is not valid {language} ({new[1]} token(s) the lexer rejects)")
    if _bracket_delta(new[0]) != _bracket_delta(old[0]):
        return _fail("parses", "the suggestion's brackets do not balance like the code it replaces")
    return Verdict()


def _lex(lines: tuple[str, ...], language: str) -> tuple[list[str], int] | None:
    from pygments.lexers import get_lexer_by_name  # rich's dependency; imported only for non-Python fixes
    from pygments.token import Comment, Error, String
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language)
    except ClassNotFound:
        return None
    brackets: list[str] = []
    errors = 0
    for kind, value in lexer.get_tokens("\n".join(lines)):
        if kind in Error:
            errors += 1
        elif kind not in String and kind not in Comment:
            brackets.extend(c for c in value if c in "()[]{}")
    return brackets, errors


# -- the analyzers -----------------------------------------------------------------------------


def analyzer_findings(path: str, text: str, whole: bool, cache: ResultCache | None) -> list[Finding]:
    """bandit, ruff and (whole files) taint on `text`, through the analyzers' result cache."""
    bandit_tag, ruff_tag = tool_tags()  # the keys analyze() uses: the original file's answers are cache hits
    return [
        *cached_findings("bandit", bandit_tag, lambda p, s, _w: bandit_findings(p, s), path, text, cache, whole),
        *cached_findings("ruff", ruff_tag, ruff.run_ruff, path, text, cache, whole),
        *cached_findings("taint", taint_analyzer.VERSION, taint_analyzer.taint_findings, path, text, cache, whole),
    ]


def _analyzers(finding: Finding, old_text: str, new_text: str, rep: Replacement, whole: bool,
               cache: ResultCache | None) -> Verdict:
    """Fail when an analyzer still flags the fixed lines with what it flagged there before (for a claim of
    that category), or flags them with something it did not flag before (medium or worse)."""
    new_end = rep.start + len(rep.new) - 1
    before = {(f.source, f.title, f.category) for f in analyzer_findings(finding.path, old_text, whole, cache)
              if rep.start <= f.line <= rep.end}
    for f in analyzer_findings(finding.path, new_text, whole, cache):
        if not rep.start <= f.line <= new_end:
            continue
        if (f.source, f.title, f.category) in before:
            if f.category == finding.category:
                return _fail("analyzers", f"{f.source} still flags the fixed line: {f.title}")
        elif f.severity.rank >= Severity.MEDIUM.rank:
            return _fail("analyzers", f"{f.source} flags the fixed line: {f.title}")
    return Verdict()


__all__ = ["Verdict", "analyzer_findings", "check_suggestion"]
