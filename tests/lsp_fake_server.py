"""`reviewer lsp` with the fake backend instrumented, for tests/test_lsp*.py: each model call logged, optionally slowed.

LSP_FAKE_LOG=FILE appends the added lines of every prompt the model is asked (one line
per call, before answering); LSP_FAKE_DELAY=SECONDS sleeps before each answer (a slow
model, to supersede); LSP_FAKE_SUGGEST=1 gives the SQL finding a checked-looking suggestion;
LSP_FAKE_TESTGEN=1 answers as tests/test_testgen_evidence.py's scripted model (reviews and tests).
"""

from __future__ import annotations

import os
import re
import runpy
import sys
import time

from reviewer.backends import fake

_plain = fake.FakeBackend.complete
SQL_FIX = 'cur = db.execute("SELECT * FROM users WHERE id = ?", (user_id,))'


def _answer(messages):  # type: ignore[no-untyped-def]
    if os.environ.get("LSP_FAKE_TESTGEN"):
        sys.path.insert(0, os.path.dirname(__file__))
        from test_testgen_evidence import scripted

        return scripted(messages)
    reply = fake.pattern_answer(messages)
    if os.environ.get("LSP_FAKE_SUGGEST"):
        for f in reply["findings"]:
            if f["title"].startswith("SQL"):
                f["suggestion"] = SQL_FIX
    return reply


def _complete(self, messages, schema, max_tokens):  # type: ignore[no-untyped-def]
    log = os.environ.get("LSP_FAKE_LOG")
    if log:
        added = " ".join(m.strip() for m in re.findall(r"^\+ +\d+ \| (.*)$", messages[-1]["content"], re.MULTILINE))
        with open(log, "a") as fh:
            fh.write(added + "\n")
    time.sleep(float(os.environ.get("LSP_FAKE_DELAY", "0")))
    self._answer = _answer
    return _plain(self, messages, schema, max_tokens)


fake.FakeBackend.complete = _complete  # type: ignore[method-assign]
sys.argv = ["reviewer", "lsp"]
runpy.run_module("reviewer", run_name="__main__")
