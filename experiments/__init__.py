"""Headless experiment scripts, benchmarks (``bench_*.py``) and the ``sandbox`` command-line tool
(``experiments.cli``), whose verbs each live in a small module of their own."""
