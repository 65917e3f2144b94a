"""`reviewer tests` on the real default model (slow: one generation, ~1-2 minutes on 2 CPU cores)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, git

from reviewer.backends import make_backend
from reviewer.cache import open_result_cache
from reviewer.config import Config
from reviewer.diff import DiffInput, parse_diff
from reviewer.sinks.tests import render_json, to_review
from reviewer.testgen import Options, TestgenSession
from reviewer.testgen.sandbox import Limits, TreeSpec

pytestmark = pytest.mark.model
CONTRACT = json.loads((ROOT / "tests" / "data" / "review.schema.json").read_text())

# QuixBugs-style: a whole small file, with the bug (b and a % b swapped) being introduced.
GCD_DIFF = """\
diff --git a/algorithms/gcd.py b/algorithms/gcd.py
--- a/algorithms/gcd.py
+++ b/algorithms/gcd.py
@@ -1,5 +1,5 @@
 def gcd(a, b):
     if b == 0:
         return a
     else:
-        return gcd(b, a % b)
+        return gcd(a % b, b)
"""



def test_real_model_suggestions_collect_and_run(model_cache: Path) -> None:
    config = Config(cache_dir=model_cache)
    parsed = parse_diff(DiffInput(GCD_DIFF, None, lambda path: None), config)
    backend = make_backend(config)
    cache = open_result_cache(model_cache)
    try:
        with TestgenSession(TreeSpec("files"), Options(limits=Limits(test_timeout=5))) as session:
            result = session.run(parsed, backend, config, cache)
    finally:
        backend.close()
        if cache:
            cache.close()
    assert result.stats.functions == 1 and result.stats.model_calls >= 1
    ran = [s for s in result.suggestions if s.status in ("passed", "failed", "timeout")]
    assert ran, (result.suggestions, result.dropped)  # at least one test collected and got a real outcome
    assert all(s.old_status is not None for s in ran)  # and was also run on the old code
    assert all("from algorithms.gcd import gcd" in s.code for s in ran)
    review = json.loads(render_json(to_review(result, parsed, backend.info), result))
    jsonschema.validate(review, CONTRACT)
    for finding in review["findings"]:
        assert (finding["path"], finding["line"], finding["source"]) == ("algorithms/gcd.py", 5, "tests")


def test_real_model_review_run_tests(model_cache: Path, make_repo, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`reviewer review --run-tests` end to end: the review, then the tests, on the staged bug (the
    test above has usually cached the tests' answer: same function, same prompt)."""
    from reviewer import cli

    old = "def gcd(a, b):\n    if b == 0:\n        return a\n    else:\n        return gcd(b, a % b)\n"
    repo = make_repo({"algorithms/__init__.py": "", "algorithms/gcd.py": old})
    (repo / "algorithms" / "gcd.py").write_text(old.replace("gcd(b, a % b)", "gcd(a % b, b)"))
    git(repo, "add", "-A")
    monkeypatch.chdir(repo)
    code = cli.main(["review", "--run-tests", "--format", "json", "-q", "--fail-on", "never",
                     "--cache-dir", str(model_cache)])
    review = json.loads(capsys.readouterr().out)
    jsonschema.validate(review, CONTRACT)
    assert code == 0
    assert review["tests"], "no generated test survived"  # the tests ran as part of the review
    assert all(t["status"] in ("passed", "failed", "not-run") for t in review["tests"])
    assert all("from algorithms.gcd import gcd" in t["code"] for t in review["tests"])
    for finding in review["findings"]:
        assert finding["path"] == "algorithms/gcd.py" and 1 <= finding["line"] <= 5
