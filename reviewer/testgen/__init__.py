"""Pytest suggestions that are checked by running them.

For each Python function the diff adds or changes (`extract`), the model writes a
pytest module (`generate`); the module is run in a sandboxed copy of the project
(`sandbox`) on the new code and, when the function existed before, on the old code.
Modules that do not collect go back to the model once with pytest's error, and their
tests are dropped if still broken. A test that passes on the old code but fails (or
hangs) on the new one points at a regression and becomes a Finding (source "tests").

    with TestgenSession(tree_spec, options) as session:
        result = session.run(parsed, backend, config, cache)

The package's names are loaded on first use (module `__getattr__`): the CLI imports
`reviewer.commands.tests` to build its parser on every run, and a `reviewer review`
should not pay for importing the sandbox and generator.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = ("Dropped", "Limits", "Options", "Suggestion", "TestgenResult", "TestgenSession", "TestgenStats",
            "TreeSpec", "project_test_path", "regression_findings")


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        from reviewer.testgen import suggestions as session

        return getattr(session, name)
    raise AttributeError(f"module 'reviewer.testgen' has no attribute {name!r}")


__all__ = list(_EXPORTS)
