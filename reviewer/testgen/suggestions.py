"""The test-suggestion session: extract -> generate -> run in the sandbox -> judge (see the package docstring)."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from types import TracebackType

from reviewer.backends import Backend
from reviewer.cache import ResultCache
from reviewer.config import Config
from reviewer.testgen import generate as gen
from reviewer.testgen.extract import ChangedFunction, FileVersions, changed_files, file_hunks, functions_in
from reviewer.testgen.results import (  # re-exported: reviewer.testgen's names come from here
    Dropped,
    Options,
    Suggestion,
    TestgenResult,
    TestgenStats,
    project_test_path,
    regression_findings,
)
from reviewer.testgen.sandbox import (
    Limits,
    RunResult,
    TestRecord,
    TreeSpec,
    ensure_runnable,
    materialize,
    network_isolation,
    run_pytest,
    write_files,
)
from reviewer.types import ParsedDiff

Report = Callable[[str], None]


@dataclass
class _Module:
    fn: ChangedFunction
    messages: list[gen.Message]
    answer: str
    code: str
    file: str  # sandbox-relative test file
    split: gen.SplitModule | None = None
    error: str = ""
    repaired: bool = False


class TestgenSession:
    """A sandbox directory with the project's new-side tree; removed on exit."""

    __test__ = False

    def __init__(self, tree: TreeSpec | None, options: Options | None = None, keep: bool = False) -> None:
        self.spec = tree
        self.options = options or Options()
        self.keep = keep
        self.dir = Path(tempfile.mkdtemp(prefix="reviewer-tests-"))
        self.tree: Path | None = None
        self._files: list[FileVersions] = []

    def __enter__(self) -> TestgenSession:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- the sandbox ---------------------------------------------------------------

    def _prepare(self, files: Sequence[FileVersions]) -> None:
        if self.spec is None or not self.options.execute:
            return
        self.tree = self.dir / "tree"
        self.tree.mkdir()
        new = {f.path: "\n".join(f.new) + "\n" for f in files}
        materialize(TreeSpec(self.spec.kind, self.spec.root, self.spec.rev, {**self.spec.files, **new}), self.tree)

    def pytest(self, files: Sequence[str], old: bool = False, tests: int = 0) -> RunResult:
        """Run test files in the tree, on the new code or (old=True) with changed files in their old versions.

        The run may take `run_timeout`, or longer when its `tests` could each use their whole time limit.
        """
        assert self.tree is not None
        limits = self.options.limits
        limits = replace(limits, run_timeout=max(limits.run_timeout, 30 + tests * limits.test_timeout))
        if old:
            write_files(self.tree, {f.path: "\n".join(f.old) + "\n" for f in self._files if f.old is not None})
        try:
            return run_pytest(self.tree, files, limits, self.options.python, self.dir, self.options.unsafe_no_sandbox)
        finally:
            if old:
                write_files(self.tree, {f.path: "\n".join(f.new) + "\n" for f in self._files if f.old is not None})

    def new_source(self, path: str) -> tuple[str, ...] | None:
        """The new version of a changed file, as the tests ran against it."""
        return next((f.new for f in self._files if f.path == path), None)

    def pytest_with(self, path: str, text: str, tests: Mapping[str, str]) -> RunResult:
        """Run the test files `tests` (path -> code) with `path` replaced by `text` in the new tree; both put back."""
        assert self.tree is not None
        before = self.new_source(path)
        write_files(self.tree, {path: text, **tests})
        try:
            return self.pytest(sorted(tests), tests=len(tests))
        finally:
            write_files(self.tree, {path: "\n".join(before) + "\n"} if before is not None else {})
            for name in tests:
                (self.tree / name).unlink(missing_ok=True)

    def check_file(self, path: str, text: str) -> dict[str, TestRecord]:
        """Run one whole test file placed at `path` in the new tree; records by test name."""
        assert self.tree is not None
        target = self.tree / path
        before = target.read_text(encoding="utf-8") if target.is_file() else None
        write_files(self.tree, {path: text})
        try:
            result = self.pytest([path])
        finally:
            if before is None:
                target.unlink(missing_ok=True)
            else:
                write_files(self.tree, {path: before})
        if path in result.collect_errors:
            return {"": TestRecord(path, "error", result.collect_errors[path])}
        return {_test_name(r.nodeid): r for r in result.records.values()}

    # -- generate, run, repair, compare --------------------------------------------

    def run(self, parsed: ParsedDiff, backend: Backend, config: Config, cache: ResultCache | None,
            sources: Mapping[str, Sequence[str]] | None = None, report: Report | None = None) -> TestgenResult:
        started = time.perf_counter()
        say = report or (lambda message: None)
        stats = TestgenStats()
        self._files = changed_files(parsed, sources)
        functions = [fn for f in self._files for fn in functions_in(f.path, f.new, file_hunks(parsed, f.path), f.old)]
        stats.functions = len(functions)
        for fn in functions[self.options.max_functions:]:
            stats.skipped.append((fn.target, f"over the limit of {self.options.max_functions} functions"))
        functions = functions[: self.options.max_functions]
        if self.spec is not None and self.options.execute:
            ensure_runnable(self.options.unsafe_no_sandbox)  # refused before any model time is spent
        self._prepare(self._files)
        stats.isolation = network_isolation(self.options.limits, self.options.unsafe_no_sandbox) \
            if self.tree is not None else "not run"
        if self.tree is not None:
            functions = self._importable(functions, stats, say)

        modules: list[_Module] = []
        for i, fn in enumerate(functions, 1):
            messages = gen.build_messages(fn, gen.find_test_style(self.tree, fn.path))
            if not gen.prompt_fits(messages, config.ctx, self.options.max_tokens):
                stats.skipped.append((fn.target, "too large for the model's context window (raise --ctx)"))
                continue
            say(f"writing tests for {fn.target} ({i}/{len(functions)})")
            answer = self._ask(backend, messages, cache, stats)
            folder = PurePosixPath(project_test_path(self.tree, fn.path)).parent
            module = _Module(fn, messages, answer, "", f"{folder}/test_{PurePosixPath(fn.path).stem}__reviewer_{i}.py")
            self._accept(module, answer)
            modules.append(module)

        if self.tree is not None:
            say("running the tests in the sandbox")
            new = self._run_new(modules, stats)
            broken = [m for m in modules if _broken(m, new)]
            if broken and self.options.repair:
                for m in broken:
                    say(f"repairing the tests for {m.fn.target}")
                    messages = gen.repair_messages(m.messages, m.answer, m.error or _errors(m, new))
                    self._accept(m, self._ask(backend, messages, cache, stats), repaired=True)
                    stats.repairs += 1
                new = _replace_files(new, self._run_new(broken, stats), {m.file for m in broken})
            olds = [m for m in modules if m.fn.existed and m.split is not None and m.file not in new.collect_errors]
            old = RunResult()
            if olds and any(f.old is not None for f in self._files):
                say("running them on the old code")
                old = self.pytest([m.file for m in olds], old=True, tests=_count(olds))
                stats.sandbox_seconds += old.seconds
        else:
            new = old = RunResult()
        suggestions, dropped = self._assemble(modules, new, old)
        findings = regression_findings(suggestions)
        stats.seconds = time.perf_counter() - started
        return TestgenResult(tuple(suggestions), tuple(dropped), findings, stats)

    def _importable(self, functions: list[ChangedFunction], stats: TestgenStats, say: Report) -> list[ChangedFunction]:
        """The functions whose module imports in the sandbox; the others are skipped with the reason.

        A test module starts by importing the function under test, so where that fails (the
        project's dependencies are not in the interpreter that runs the tests) every test would
        fail to collect, and the model's time, and a repair round, would be spent for nothing.
        One pytest run imports every module once, under the sandbox's limits.
        """
        modules = sorted({fn.module for fn in functions if fn.module})
        if not modules:
            return functions
        say("checking that the changed modules import in the sandbox")
        probe = "import importlib\n" + "".join(
            f"\n\ndef test_import_{i}():\n    importlib.import_module({m!r})\n" for i, m in enumerate(modules))
        path = "test__reviewer_import_probe.py"
        records = self.check_file(path, probe)
        stats.sandbox_seconds += sum(r.duration for r in records.values())
        failed: dict[str, str] = {}
        for i, module in enumerate(modules):
            record = records.get(f"test_import_{i}") or records.get("")
            if record is None or record.status != "passed":
                message = (record.message if record else "") or "it did not import"
                failed[module] = message.strip().splitlines()[-1][:200] if message.strip() else "it did not import"
        for fn in functions:
            if fn.module in failed:
                why = (f"{fn.module} does not import where the tests run ({failed[fn.module]}); the tests need the "
                       "project's environment: a .venv with it and pytest in the repository, or `reviewer tests --python PATH`")
                stats.skipped.append((fn.target, why))
        return [fn for fn in functions if fn.module not in failed]

    def _ask(self, backend: Backend, messages: list[gen.Message], cache: ResultCache | None, stats: TestgenStats) -> str:
        completion, cached = gen.complete_cached(backend, messages, cache, self.options.max_tokens)
        stats.model_calls += 1
        stats.cached += cached
        if not cached:
            stats.prompt_tokens += completion.prompt_tokens
            stats.completion_tokens += completion.completion_tokens
        return completion.text

    def _accept(self, m: _Module, answer: str, repaired: bool = False) -> None:
        m.answer, m.repaired, m.error = answer, repaired, ""
        code = gen.answer_code(answer)
        if code is None:
            m.code, m.split, m.error = "", None, "the answer held no test code"
            return
        code = gen.dedupe_test_names(gen.ensure_import(gen.trim_to_valid(code), m.fn))
        m.code, m.split = code, gen.split_module(code)
        if m.split is None:
            try:
                compile(code, m.file, "exec")
            except SyntaxError as exc:
                m.error = f"SyntaxError: {exc.msg} (line {exc.lineno})"
        elif not m.split.tests:
            m.error = "the module defines no test functions (names must start with test_)"

    def _run_new(self, modules: Sequence[_Module], stats: TestgenStats) -> RunResult:
        runnable = [m for m in modules if m.split is not None and m.split.tests]
        if not runnable or self.tree is None:
            return RunResult()
        write_files(self.tree, {m.file: m.code for m in runnable})
        result = self.pytest([m.file for m in runnable], tests=_count(runnable))
        stats.sandbox_seconds += result.seconds
        return result

    def _assemble(self, modules: Sequence[_Module], new: RunResult, old: RunResult) -> tuple[list[Suggestion], list[Dropped]]:
        suggestions: list[Suggestion] = []
        dropped: list[Dropped] = []
        for m in modules:
            if m.split is None or not m.split.tests or m.file in new.collect_errors:
                reason = m.error or new.collect_errors.get(m.file, "") or "did not collect"
                dropped.append(Dropped(m.fn, m.code, reason))
                continue
            path = project_test_path(self.tree, m.fn.path)
            broken: list[Dropped] = []
            for unit in m.split.tests:
                status, message, runtime = _outcome(new, m.file, unit.name, self.tree is not None)
                if status == "error" and self.tree is not None:  # still broken after the repair: dropped
                    broken.append(Dropped(m.fn, m.split.standalone(unit), f"{unit.name}: {message}"))
                    continue
                old_status = _outcome(old, m.file, unit.name, True)[0] if m.fn.existed and old.records else None
                suggestions.append(Suggestion(m.fn, unit.name, m.split.standalone(unit), unit.code, m.split.preamble,
                                              path, status, message, runtime, old_status, m.repaired))
            if len(broken) == len(m.split.tests):
                dropped.append(Dropped(m.fn, m.code, _errors(m, new) or "every test errored"))
            else:
                dropped.extend(broken)
        return suggestions, dropped


def _count(modules: Sequence[_Module]) -> int:
    return sum(len(m.split.tests) for m in modules if m.split is not None)


def _test_name(nodeid: str) -> str:
    """"tests/test_x.py::TestA::test_b[1]" -> "TestA"; "...::test_b[1]" -> "test_b"."""
    parts = nodeid.split("::")
    return parts[1].split("[", 1)[0] if len(parts) > 1 else ""


_RANK = {"error": 5, "timeout": 4, "failed": 3, "passed": 1, "skipped": 0, "xfailed": 0, "xpassed": 1}


def _outcome(result: RunResult, file: str, name: str, ran: bool) -> tuple[str, str, float]:
    """(status, message, seconds) of a top-level test, over its parametrizations / methods."""
    if not ran:
        return "not-run", "", 0.0
    if file in result.collect_errors:
        return "error", result.collect_errors[file], 0.0
    records = [_judged(r, file) for r in result.records.values()
               if r.nodeid.startswith(f"{file}::") and _test_name(r.nodeid) == name]
    if not records:
        return ("timeout" if result.timed_out else "error"), "not collected", 0.0
    worst = max(records, key=lambda r: _RANK.get(r.status, 2))
    status = {"xfailed": "skipped", "xpassed": "passed"}.get(worst.status, worst.status)
    return status, worst.message, sum(r.duration for r in records)


def _judged(record: TestRecord, file: str) -> TestRecord:
    """A failure that is the test's own fault (a name it uses but never defined) is an error, not a failure:
    it says nothing about the code under test, so it is repaired or dropped like a test that does not collect."""
    if record.status == "failed" and record.message.startswith("NameError") and record.where.endswith(file):
        return replace(record, status="error")
    return record


def _replace_files(result: RunResult, rerun: RunResult, files: set[str]) -> RunResult:
    """`result` with the outcomes of `files` replaced by those of a re-run."""

    def ours(nodeid: str) -> bool:
        return nodeid.split("::", 1)[0] in files

    merged = RunResult(
        records={**{k: v for k, v in result.records.items() if not ours(k)}, **rerun.records},
        collect_errors={**{k: v for k, v in result.collect_errors.items() if not ours(k)}, **rerun.collect_errors},
        returncode=rerun.returncode, timed_out=result.timed_out or rerun.timed_out,
        seconds=result.seconds + rerun.seconds, output=rerun.output)
    return merged


def _errors(m: _Module, result: RunResult) -> str:
    if m.file in result.collect_errors:
        return result.collect_errors[m.file]
    errors = [f"{_test_name(r.nodeid)}: {r.message}" for r in result.records.values()
              if r.nodeid.startswith(f"{m.file}::") and _judged(r, m.file).status == "error"]
    return "\n".join(errors)


def _broken(m: _Module, result: RunResult) -> bool:
    """Whether a module did not parse or collect, or has tests that error before running."""
    if m.split is None or not m.split.tests or m.file in result.collect_errors:
        return True
    return any(_judged(r, m.file).status == "error" for r in result.records.values() if r.nodeid.startswith(f"{m.file}::"))


__all__ = [
    "Dropped",
    "Limits",
    "Options",
    "Suggestion",
    "TestgenResult",
    "TestgenSession",
    "TestgenStats",
    "TreeSpec",
    "project_test_path",
    "regression_findings",
]
