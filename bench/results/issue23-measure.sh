#!/bin/bash
# how bench/results/ci-second-push-1.5b.json and instructions-*.jsonl were made (flock /tmp/reviewer-model.lock bench/results/issue23-measure.sh); /tmp/ci-parent = git archive 1950f91 (prompt v3) with reviewer/prompts -> ../prompts
# all real-model work of issue 23, run once under the shared model lock
set -e
cd /work/wt-ci
PY=/work/main/.venv/bin/python
CASES=../shared/eval/cases/quixbugs.jsonl
INSTR="In this project every public function must have a docstring; report a function without one as a low style finding."
echo "== second push $(date)"
PYTHONPATH=$PWD $PY -m bench.ci_second_push --hunks 4 --out bench/results/ci-second-push-1.5b.json
echo "== eval v3 (parent 1950f91), no instructions $(date)"
(cd /tmp/ci-parent && PYTHONPATH=/tmp/ci-parent $PY -m reviewer eval $OLDPWD/$CASES --limit 4 --no-cache -q --out /work/wt-ci/bench/results/instructions-v3-none-1.5b.jsonl)
echo "== eval v4, empty instructions $(date)"
REVIEWER_INSTRUCTIONS=" " PYTHONPATH=$PWD $PY -m reviewer eval $CASES --limit 4 --no-cache -q --out bench/results/instructions-v4-empty-1.5b.jsonl
echo "== eval v4, one instruction $(date)"
REVIEWER_INSTRUCTIONS="$INSTR" PYTHONPATH=$PWD $PY -m reviewer eval $CASES --limit 4 --no-cache -q --out bench/results/instructions-v4-docstrings-1.5b.jsonl
echo "== model test $(date)"
PYTHONPATH=$PWD $PY -m pytest tests/test_ci_model.py -q -p no:cacheprovider -m model
echo "== done $(date)"
