"""Coverage-guided fuzzing of the diff -> hunk -> prompt path with atheris (libFuzzer).

Not part of the test suite (atheris is not a dependency): the hypothesis suite in
tests/test_fuzz.py is the one CI runs. This harness feeds raw bytes, mutated by
libFuzzer towards new coverage in reviewer.diff, reviewer.context, reviewer.trivial,
reviewer.prompting and unidiff, through the same path `reviewer review` takes. A crash
is any exception other than a one-line ReviewerError, or a broken invariant.

    .venv/bin/pip install atheris
    mkdir -p /tmp/diff-corpus && cp tests/data/diffs/* /tmp/diff-corpus/
    nice -n 10 .venv/bin/python bench/fuzz_atheris.py /tmp/diff-corpus -max_total_time=300 -max_len=20000

libFuzzer adds the inputs it finds interesting to /tmp/diff-corpus; a crash is written
to ./crash-<sha1> (replay: `.venv/bin/python bench/fuzz_atheris.py crash-<sha1>`).
"""

from __future__ import annotations

import re
import sys

import atheris

with atheris.instrument_imports():
    import unidiff  # noqa: F401  (instrumented for coverage feedback)

    from reviewer.config import Config
    from reviewer.context import language_for_path  # noqa: F401
    from reviewer.diff import DiffInput, decode_diff, parse_diff
    from reviewer.errors import ReviewerError
    from reviewer.pipeline import fitting_prompt
    from reviewer.prompting import load_template
    from reviewer.trivial import behaviour_preserving

CONFIG = Config(max_hunk_lines=40, context_lines=3)
TEMPLATE = load_template("review")
CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
SURROGATE = re.compile("[\ud800-\udfff]")
NEW_SIDE = ["def f(x):", "    y = 1", "caf\udce9", "    return y", '"\\' * 2000, "}"] * 5


def reader(path: str) -> list[str] | None:
    """A new side for some paths, so context extraction runs too (it is checked against the diff)."""
    return NEW_SIDE if path.endswith(".py") else None


def test_one_input(data: bytes) -> None:
    try:
        parsed = parse_diff(DiffInput(decode_diff(data), None, reader), CONFIG)
    except ReviewerError as exc:
        message = str(exc)
        if not message.strip() or len(message.splitlines()) != 1 or CONTROL.search(message):
            raise AssertionError(f"bad error message: {message!r}") from exc
        return
    for skipped in parsed.skipped:
        if not skipped.path or CONTROL.search(skipped.path) or SURROGATE.search(skipped.path):
            raise AssertionError(f"unprintable skipped path: {skipped.path!r}")
    for hunk in parsed.hunks:
        if not hunk.path or CONTROL.search(hunk.path):
            raise AssertionError(f"bad hunk path: {hunk.path!r}")
        new_nos = [ln.new_no for ln in hunk.lines if ln.kind != "-"]
        if new_nos != list(range(hunk.new_start, hunk.new_start + hunk.new_len)) or (hunk.new_len and hunk.new_start < 1):
            raise AssertionError(f"inconsistent line numbers: {hunk.new_start},{hunk.new_len} vs {new_nos[:5]}")
        behaviour_preserving(hunk)
        prompt = fitting_prompt(hunk, CONFIG, TEMPLATE, ())
        for message in prompt[1] if prompt else []:
            message["content"].encode("utf-8")  # what every backend does with it


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
