"""What a grounding rule is: a module with `applies` and `apply`, given one hunk's evidence."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from reviewer.grounding.facts import FileFacts
from reviewer.types import Finding, Hunk


class Evidence(NamedTuple):
    """What the rules check the model's findings for one hunk against."""

    hunk: Hunk
    hints: tuple[Finding, ...]  # the analyzer findings the model was shown for the hunk
    facts: FileFacts  # the whole new files, worked out lazily


class Rule(Protocol):
    """A grounding rule; each rule module satisfies this with two module-level functions."""

    def applies(self, findings: tuple[Finding, ...]) -> bool:
        """Whether any finding is one the rule may lower: checked first, so that evidence that
        costs something (tokenizing or analysing a whole file) is worked out only when needed."""
        ...

    def apply(self, findings: tuple[Finding, ...], evidence: Evidence) -> tuple[Finding, ...]:
        """The findings, those the evidence refutes lowered with a note saying why."""
        ...
