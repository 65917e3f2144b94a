"""Benchmark and measurement scripts, run as `python bench/NAME.py`; their results are in bench/results/."""
