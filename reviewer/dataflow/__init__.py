"""Does untrusted input reach a dangerous call? A small intraprocedural taint analysis.

The model calls any handler that reads a cookie "SQL injection", also when the value it
read is thrown away before the query, or the query takes it as a bound parameter. Those
are data-flow facts, and this package computes them for Python, one function at a time:
`tables` says what the sources, sanitizers and sinks are, `values` what a variable may
hold, and `walker` (statements) with `expressions` runs each function over those values.
`grounding` uses the answer to lower the model's injection claims where no untrusted
value reaches any sink.
Measured on the labelled cases, alone and as grounding, in `bench/taint_eval.py` and docs/quality.md.
"""

from reviewer.dataflow.values import LOCAL, PARAM, USER, Flow, Scope, TaintReport, Val
from reviewer.dataflow.walker import analyze_source

__all__ = ["LOCAL", "PARAM", "USER", "Flow", "Scope", "TaintReport", "Val", "analyze_source"]
