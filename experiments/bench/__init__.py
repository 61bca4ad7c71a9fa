"""Benchmarks, each run as a module (``python -m experiments.bench.NAME``) and all of them by ``make bench``
(``python -m experiments.bench``). Each measures against an outside reference in the same run, prints a
table, then ends with one JSON line of its figures.
"""

BENCHMARKS = ("bellman", "envs", "vector_envs", "vector_duel", "cwrnn", "ghost", "pg", "ppo", "train", "rllib",
              "inference")
