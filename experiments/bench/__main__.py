"""``python -m experiments.bench [NAME ...]``: run every benchmark (or the named ones), one after another."""

import importlib
import sys

from experiments.bench import BENCHMARKS


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; valid: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"== experiments.bench.{name}", flush=True)
        module = importlib.import_module(f"experiments.bench.{name}")
        status = module.main([])
        if isinstance(status, int) and status != 0:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
