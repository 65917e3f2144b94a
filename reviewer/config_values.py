"""Setting values as they come from config files, REVIEWER_* variables and flags: read and checked, one function per kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reviewer.types import Category, Severity


def to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {v!r}")


def to_list(v: Any) -> tuple[str, ...]:
    if isinstance(v, (list, tuple)):
        return tuple(str(x).strip() for x in v if str(x).strip())
    return tuple(x.strip() for x in str(v).split(",") if x.strip())


def parse_categories(v: Any) -> tuple[Category, ...]:
    names = to_list(v)
    try:
        return tuple(Category(n.lower()) for n in names)
    except ValueError:
        valid = ",".join(c.value for c in Category)
        raise ValueError(f"unknown category in {','.join(names)!r}; choose from {valid}") from None


def parse_severity(v: Any) -> Severity:
    try:
        return Severity(str(v).lower())
    except ValueError:
        raise ValueError(f"unknown severity {v!r}; choose from low, medium, high") from None


def parse_fail_on(v: Any) -> Severity | None:
    if str(v).lower() == "never":
        return None
    try:
        return parse_severity(v)
    except ValueError:
        raise ValueError(f"unknown --fail-on {v!r}; choose from low, medium, high, never") from None


def opt_int(v: Any) -> int | None:
    return None if v in (None, "", "auto") else int(v)


def count(v: Any, name: str) -> int:
    n = int(v)
    if n < 0:
        raise ValueError(f"{name} must be 0 (no limit) or more, got {v!r}")
    return n


def seconds(v: Any, name: str) -> float:
    x = float(v)
    if not 0.0 <= x < 1e7:
        raise ValueError(f"{name} must be 0 (no limit) or a number of seconds, got {v!r}")
    return x


def instruction_text(v: Any, name: str) -> str:
    if not isinstance(v, str):
        raise TypeError(f"{name} must be text")
    return v.strip()


def path_instructions(v: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(v, Mapping):
        raise TypeError('expected a table of glob = "text", e.g. [path-instructions] "api/*" = "..."')
    return tuple((str(glob), instruction_text(text, f"path-instructions[{glob!r}]")) for glob, text in v.items())


def debounce(v: Any, name: str) -> float:
    x = float(v)
    if not 0.0 <= x <= 60.0:
        raise ValueError(f"{name} must be between 0 and 60 seconds, got {v!r}")
    return x


def fraction(v: Any, name: str) -> float:
    x = float(v)
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {v!r}")
    return x


def choice(v: Any, choices: tuple[str, ...]) -> str:
    s = str(v).lower()
    if s not in choices:
        raise ValueError(f"{v!r} is not one of {', '.join(choices)}")
    return s


def batch_size(v: Any) -> int | None:
    """`batch`: "auto" (None) or 1 to 64 hunks decoded together."""
    if isinstance(v, str) and v.strip().lower() == "auto":
        return None
    n = opt_int(v)
    if n is not None and not 1 <= n <= 64:
        raise ValueError(f"batch must be auto or 1 to 64, got {v!r}")
    return n


__all__ = ["batch_size", "choice", "count", "debounce", "fraction", "instruction_text", "opt_int", "parse_categories", "parse_fail_on", "parse_severity", "path_instructions", "seconds", "to_bool", "to_list"]
